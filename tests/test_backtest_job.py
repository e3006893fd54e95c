"""The benchmark job `nbs/backtest.ipynb`: parameters as DESIGN.md says, results file shape, every required model.

The test runs it on a week only: the full benchmark (a year, several minutes) is not a test.
"""
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from meteo_forecast.config import HOURLY_VARIABLES, sample_path
from meteo_forecast.tracking import EXPERIMENTS, Tracking, sha256_file

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent
NB = ROOT / 'nbs' / 'backtest.ipynb'
REQUIRED = {'persistence', 'climatology', 'arima', 'sarima', 'sarimax'}
ML = {'ridge', 'random_forest', 'xgboost', 'two_stage'}


def run_job(tmp_path, env=None, **params) -> dict:
    out = tmp_path / 'results.json'
    args = [sys.executable, '-m', 'papermill', str(NB), str(tmp_path / 'out.ipynb'), '--cwd', str(tmp_path),
            '-p', 'results_path', str(out)]
    for k, v in params.items(): args += ['-p', k, str(v)]
    done = subprocess.run(args, capture_output=True, text=True, timeout=900, env={**os.environ, **(env or {})})
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.read_text())


def check_schema(js, start, end, n_days):
    assert set(js) == {'test_start', 'test_end', 'n_days', 'models', 'best', 'production'}
    assert (js['test_start'], js['test_end'], js['n_days']) == (start, end, n_days)
    assert js['best'] in js['models']
    for name, m in js['models'].items():
        assert {'mae', 'rmse', 'bias', 'mae_by_slot', 'fit_seconds', 'predict_seconds',
                'coverage_80', 'coverage_95', 'width_80', 'width_95'} <= set(m), name
        if m['coverage_80'] is not None:
            assert 0 <= m['coverage_80'] <= 1 and 0 <= m['coverage_95'] <= 1 and 0 < m['width_80'] < m['width_95'], name
            assert len(m['coverage_by_slot_80']) == len(m['coverage_by_slot_95']) == 8, name
        assert len(m['mae_by_slot']) == 8, name
        if 'error' not in m:
            assert all(math.isfinite(v) for v in [m['mae'], m['rmse'], m['bias'], *m['mae_by_slot']]), name
            assert m['fit_seconds'] >= 0 and m['predict_seconds'] >= 0
    best = min((m['mae'], k) for k, m in js['models'].items() if m['mae'] is not None)[1]
    assert js['best'] == best


def test_help_lists_the_documented_parameters():
    done = subprocess.run([sys.executable, '-m', 'papermill', '--help-notebook', str(NB)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    for name, kind in [('data_file', 'str'), ('exog_file', 'str'), ('test_start', 'str'), ('test_end', 'str'),
                       ('results_path', 'str'), ('gap_hours', 'int'), ('refit_months', 'int'), ('models', 'str'), ('intervals', 'str'),
                       ('temperature_only', 'bool')]:
        assert re.search(rf'^\s+{name}: {kind} \(default ', done.stdout, re.M), name


def test_a_week_of_an_untouched_export_file(tmp_path):
    "The centre-of-France download (2024-2025, with some weather): a week of 2025, every model trained on 2024."
    js = run_job(tmp_path, data_file=sample_path('centre-france_2024-2025_export.csv'), test_start='2025-03-01', test_end='2025-03-07',
                 env={'METEO_FORECAST_CANDIDATES': 'persistence,ridge'})
    check_schema(js, '2025-03-01', '2025-03-07', 7)
    assert js['production'] == 'ridge'   # what the jobs would deploy: the candidate with the lower validation MAE before March
    assert REQUIRED | ML <= set(js['models'])
    assert not [k for k, m in js['models'].items() if 'error' in m]
    assert js['models']['persistence']['mae'] > 0
    # 393 training days before March 2025: too few to calibrate intervals on a copy fitted on a year
    assert {m['coverage_80'] for m in js['models'].values()} == {None}


def saved_answer(archive, folder: Path, variables: list[str], start: str, end: str) -> Path:
    "A JSON answer of the archive (here its stand-in, from the real Paris data) for `variables`, saved in `folder`."
    r = requests.get(archive.url, params={'latitude': 48.8566, 'longitude': 2.3522, 'start_date': start, 'end_date': end,
                                          'hourly': ','.join(variables), 'timezone': 'GMT'}, timeout=60)
    r.raise_for_status()
    saved = folder / 'paris.json'
    saved.write_text(r.text)
    return saved


def test_a_temperature_only_file_degrades_clearly(tmp_path, archive):
    """Without weather, sarimax runs as a SARIMA and the two-stage model as its base, and the file says so. The file is the
    archive's answer for temperature alone from 2021 on: three years of training keep the test quick."""
    saved = saved_answer(archive, tmp_path, ['temperature_2m'], '2021-01-01', '2024-06-03')
    js = run_job(tmp_path, data_file=saved, test_start='2024-06-01', test_end='2024-06-03', models='persistence,climatology,sarima,sarimax,two_stage')
    check_schema(js, '2024-06-01', '2024-06-03', 3)
    assert 'without them' in js['models']['sarimax']['note']
    assert 'base model only' in js['models']['two_stage']['note']
    assert js['models']['sarimax']['mae'] == pytest.approx(js['models']['sarima']['mae'])
    with_intervals = {k for k, m in js['models'].items() if m['coverage_80'] is not None}
    assert with_intervals == {'persistence', 'climatology', 'two_stage'}   # backtest.INTERVAL_MODELS: not the SARIMAs


def test_a_saved_json_response_of_the_archive_api(tmp_path, archive):
    "A JSON answer of the archive with every variable: the weather is used."
    saved = saved_answer(archive, tmp_path, HOURLY_VARIABLES, '2021-01-01', '2024-03-03')
    js = run_job(tmp_path, data_file=saved, test_start='2024-03-01', test_end='2024-03-03', models='persistence,climatology,sarimax,two_stage')
    check_schema(js, '2024-03-01', '2024-03-03', 3)
    assert not [k for k, m in js['models'].items() if 'note' in m or 'error' in m]   # sarimax and two_stage had their weather


def test_every_model_is_an_mlflow_run_under_one_run_of_the_backtest(tmp_path):
    "A few days, three models: one parent run, one child run per model with its parameters and metrics, the data named."
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    data = sample_path('centre-france_2024-2025_export.csv')
    js = run_job(tmp_path, env={'MLFLOW_TRACKING_URI': uri}, data_file=data, test_start='2025-03-01', test_end='2025-03-03',
                 models='persistence,climatology,ridge')
    tracking = Tracking(uri)
    runs = tracking.search_runs([tracking.experiment(EXPERIMENTS['backtest'])])
    parents = [r for r in runs if 'mlflow.parentRunId' not in r.data.tags]
    assert len(parents) == 1 and len(runs) == 4
    parent = parents[0]
    children = {r.info.run_name: r for r in runs if r.data.tags.get('mlflow.parentRunId') == parent.info.run_id}
    assert set(children) == {'persistence', 'climatology', 'ridge'}
    for name, run in children.items():
        assert run.info.status == 'FINISHED'
        m = run.data.metrics
        assert m['mae'] == pytest.approx(js['models'][name]['mae']) and m['rmse'] == pytest.approx(js['models'][name]['rmse'])
        assert m['mae_21h'] == pytest.approx(js['models'][name]['mae_by_slot'][-1])
        assert {'bias', 'fit_seconds', 'predict_seconds', 'mae_MAM'} <= set(m), name
        assert (run.data.params['model'], run.data.params['test_start'], run.data.params['test_end']) == (name, '2025-03-01', '2025-03-03')
        assert (run.data.tags['data.file'], run.data.tags['data.sha256']) == (data.name, sha256_file(data))
    assert parent.data.tags['best'] == js['best']
    assert parent.data.metrics[f"mae/{js['best']}"] == pytest.approx(js['models'][js['best']]['mae'])
    assert {a.path for a in tracking.list_artifacts(parent.info.run_id)} == {'results.json', 'tables'}


def test_bad_parameters_fail_with_a_clear_message(tmp_path):
    args = [sys.executable, '-m', 'papermill', str(NB), str(tmp_path / 'out.ipynb'), '--cwd', str(tmp_path),
            '-p', 'results_path', str(tmp_path / 'r.json'), '-p', 'models', 'prophet']
    done = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0 and "unknown models ['prophet']" in done.stderr + done.stdout
    assert not (tmp_path / 'r.json').exists()
