"""The tuning job `nbs/tune.ipynb`: parameters as DESIGN.md says, the results file, one MLflow run per trial under the
job's run, the seed it was given recorded, clear refusals.

The tests tune the production model on a few days of the centre-of-France export (a year of history before them):
the full benchmark (12 trials on a ten-year file, about a quarter of an hour) is not a test.
"""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from meteo_forecast.config import sample_path
from meteo_forecast.tracking import EXPERIMENTS, Tracking

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent
NB = ROOT / 'nbs' / 'tune.ipynb'
KEYS = {'trials', 'best_params', 'validation_mae', 'test_mae', 'baseline_test_mae', 'seconds'}
SHORT = dict(data_file=sample_path('centre-france_2024-2025_export.csv'), trials=3, validation_start='2025-03-01',
             validation_end='2025-03-08', test_start='2025-03-09', test_end='2025-03-12')


def run_job(folder: Path, uri: str, check: bool = True, **params) -> subprocess.CompletedProcess:
    folder.mkdir(parents=True, exist_ok=True)
    args = [sys.executable, '-m', 'papermill', str(NB), str(folder / 'out.ipynb'), '--cwd', str(folder),
            '-p', 'results_path', str(folder / 'results.json')]
    for k, v in params.items(): args += ['-p', k, str(v)]
    done = subprocess.run(args, capture_output=True, text=True, timeout=900, env={**os.environ, 'MLFLOW_TRACKING_URI': uri})
    if check: assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_help_lists_the_documented_parameters():
    done = subprocess.run([sys.executable, '-m', 'papermill', '--help-notebook', str(NB)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    for name, kind in [('data_file', 'str'), ('exog_file', 'str'), ('model', 'str'), ('trials', 'int'), ('validation_start', 'str'),
                       ('validation_end', 'str'), ('test_start', 'str'), ('test_end', 'str'), ('results_path', 'str'), ('seed', 'int')]:
        assert re.search(rf'^\s+{name}: {kind} \(default ', done.stdout, re.M), name


def test_three_trials_write_the_results_and_three_child_runs_and_record_the_seed(tmp_path):
    "That the same seed draws the same trials is checked on `tuning.tune` in nbs/23b_tuning.ipynb: the job passes it on and records it."
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    run_job(tmp_path / 'a', uri, seed=7, **SHORT)
    js = json.loads((tmp_path / 'a' / 'results.json').read_text())
    assert set(js) == KEYS and js['trials'] == 3
    assert set(js['best_params']) == {'n_estimators', 'learning_rate', 'max_depth', 'min_child_weight', 'reg_lambda', 'subsample',
                                      'colsample_bytree'}
    assert 0 < js['validation_mae'] < 5 and 0 < js['test_mae'] < 5 and 0 < js['baseline_test_mae'] < 5 and js['seconds'] > 0

    tracking = Tracking(uri)
    runs = tracking.search_runs([tracking.experiment(EXPERIMENTS['tuning'])])
    parents = [r for r in runs if 'mlflow.parentRunId' not in r.data.tags]
    assert len(parents) == 1 and len(runs) == 4
    parent = parents[0]
    trials = [r for r in runs if r.data.tags.get('mlflow.parentRunId') == parent.info.run_id]
    assert sorted(r.info.run_name for r in trials) == ['trial 0', 'trial 1', 'trial 2']
    assert {r.info.status for r in runs} == {'FINISHED'}
    assert parent.data.metrics['test_mae'] == pytest.approx(js['test_mae'], abs=1e-4)
    assert parent.data.metrics['baseline_test_mae'] == pytest.approx(js['baseline_test_mae'], abs=1e-4)
    assert parent.data.tags['data.file'] == 'centre-france_2024-2025_export.csv' and parent.data.tags['verdict']
    best = min((r for r in trials if 'validation_mae' in r.data.metrics), key=lambda r: r.data.metrics['validation_mae'])
    assert best.data.metrics['validation_mae'] == pytest.approx(js['validation_mae'], abs=1e-4)   # the file keeps 4 decimals
    assert next(r for r in trials if r.info.run_name == 'trial 0').data.tags['today'] == 'True'
    assert (parent.data.params['seed'], parent.data.params['trials']) == ('7', '3')


@pytest.mark.parametrize('params, message', [
    ({'test_start': '2025-03-05'}, 'must start after the validation period'),
    ({'model': 'sarima'}, "no search space for 'sarima'"),
    ({'validation_start': '2020-01-01'}, 'not inside the data'),
])
def test_bad_parameters_fail_with_a_clear_message_and_write_nothing(tmp_path, params, message):
    done = run_job(tmp_path, f"sqlite:///{tmp_path / 'mlflow.db'}", check=False, **{**SHORT, **params})
    assert done.returncode != 0 and message in done.stderr + done.stdout
    assert not (tmp_path / 'results.json').exists()
