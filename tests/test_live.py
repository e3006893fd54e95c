"""Live forecasts from fresh data: the archive as it is at an instant, jobs issued then, several days ahead, the replay benchmark."""
import datetime as dt
import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from meteo_forecast.config import PARIS, sample_path
from meteo_forecast.db import hourly_observations
from meteo_forecast.schema import connect
from meteo_forecast.features import noise_after
from meteo_forecast.ingest import ingest_until
from meteo_forecast.jobs import predict_job
from meteo_forecast.openmeteo import ArchiveClient, OpenMeteoError
from meteo_forecast.standin import ArchiveStandIn
from meteo_forecast.tracking import EXPERIMENTS, Tracking

from conftest import PARIS_MULTI, PARIS_T, ROOT

pytestmark = pytest.mark.integration
EVENING = pd.Timestamp('2024-06-01 20:30', tz='UTC')   # the evening before 2 June


@pytest.fixture
def clocked(paris_frames):
    "The stand-in serving the Paris files at 20:30 UTC on 1 June 2024."
    si = ArchiveStandIn(*[f.copy() for f in paris_frames], now=EVENING).start()
    yield si
    si.stop()


def test_the_clocked_archive_answers_as_the_real_one_at_its_recent_end(clocked):
    client = ArchiveClient(clocked.url, retries=0)
    df = client.hourly(PARIS, dt.date(2024, 5, 31), dt.date(2024, 6, 1), progress=False)
    # 1. the data best_match has published: up to the 18 UTC update
    assert df.temperature_2m.last_valid_index() == pd.Timestamp('2024-06-01 17:00', tz='UTC')
    # 2. null for the hours of today it has not published yet: not gaps, and not stored
    assert df.loc['2024-06-01 18:00':].isna().all().all()
    # 3. a 400 with the real reason for a day after today
    with pytest.raises(OpenMeteoError, match="'end_date' is out of allowed range from 1940-01-01 to 2024-06-01") as e:
        client.get(PARIS, dt.date(2024, 6, 1), dt.date(2024, 6, 2))
    assert e.value.status == 400
    # era5_seamless, five days behind: nothing of these two days yet
    era5 = ArchiveClient(clocked.url, source='era5_seamless', retries=0).hourly(PARIS, dt.date(2024, 5, 31), dt.date(2024, 6, 1), progress=False)
    assert era5.temperature_2m.isna().all()


def test_trailing_nulls_are_not_stored_and_a_later_run_fills_them(clocked, tmp_path):
    db, client = connect(tmp_path / 'm.db'), ArchiveClient(clocked.url, retries=0)
    ingest_until(db, PARIS, dt.date(2024, 6, 2), history_days=3, client=client, progress=False)
    hourly = hourly_observations(db, 1, '2024-06-01', '2024-06-01 23:00')
    assert hourly.index.max() == pd.Timestamp('2024-06-01 17:00', tz='UTC') and len(hourly) == 18
    assert db.execute("SELECT COUNT(*) FROM observations_3h WHERE time >= '2024-06-01T18:00:00Z'").fetchone() == (0,)
    clocked.now = pd.Timestamp('2024-06-02 00:30', tz='UTC')
    ingest_until(db, PARIS, dt.date(2024, 6, 2), history_days=3, client=client, progress=False)
    assert len(hourly_observations(db, 1, '2024-06-01', '2024-06-01 23:00')) == 24


def test_a_job_at_an_instant_uses_no_value_after_it(paris_frames, tmp_path):
    "The same job at the same instant, against an archive whose values after that instant are noise: identical forecasts."
    noisy = [f.copy() for f in paris_frames]
    for f in noisy: f.loc[:] = noise_after(f, EVENING, np.random.default_rng(0)).to_numpy()
    forecasts = []
    for name, frames in (('clean', paris_frames), ('noisy', noisy)):
        with ArchiveStandIn(*[f.copy() for f in frames], now=EVENING) as si:
            r = predict_job('2024-06-02', history_days=400, db=tmp_path / f'{name}.db', registry=tmp_path / name,
                            client=ArchiveClient(si.url, retries=0))
        inputs = connect(tmp_path / f'{name}.db').execute('SELECT inputs FROM predictions ORDER BY target_time').fetchall()
        forecasts.append((r['forecast'], inputs))
    pd.testing.assert_frame_equal(forecasts[0][0], forecasts[1][0])
    assert forecasts[0][1] == forecasts[1][1]
    assert forecasts[0][0].data_until.unique().tolist() == [pd.Timestamp('2024-06-01 18:00', tz='UTC')]


def test_a_three_day_job_stores_24_forecasts_each_with_its_gap_and_horizon(clocked, tmp_path):
    kw = dict(days=3, history_days=400, db=tmp_path / 'm.db', registry=tmp_path / 'r', client=ArchiveClient(clocked.url, retries=0))
    first = predict_job('2024-06-02', **kw)
    db = connect(tmp_path / 'm.db')
    rows = db.execute('SELECT target_time, horizon_hours, data_until, model_id, run_id FROM predictions ORDER BY target_time').fetchall()
    assert len(rows) == 24 and {r[2] for r in rows} == {'2024-06-01T18:00:00Z'}
    assert [r[1] for r in rows[::8]] == [9, 33, 57] and [r[1] for r in rows[7::8]] == [30, 54, 78]
    gaps = {json.loads(p)['gap_hours'] for (p,) in db.execute('SELECT parameters FROM models')}
    assert gaps == {6, 30, 54} and len({r[3] for r in rows}) == 3   # a model per gap
    assert [d['gap_hours'] for d in first['days']] == [6, 30, 54]
    second = predict_job('2024-06-02', retrain=False, **kw)   # a rerun replaces them
    after = db.execute('SELECT COUNT(*), MIN(run_id), MAX(run_id) FROM predictions').fetchone()
    assert after == (24, second['run_id'], second['run_id']) and db.count('models') == 3


def test_the_replay_benchmark_on_a_few_days(tmp_path):
    out = tmp_path / 'replay.json'
    args = [sys.executable, '-m', 'papermill', str(ROOT / 'nbs' / 'replay.ipynb'), str(tmp_path / 'replay.ipynb'),
            '-p', 'data_file', str(sample_path(PARIS_T)), '-p', 'exog_file', str(sample_path(PARIS_MULTI)),
            '-p', 'start', '2024-06-10', '-p', 'end', '2024-06-12', '-p', 'issue_hour', '18', '-p', 'source', 'best_match',
            '-p', 'retrain_every', '7', '-p', 'results_path', str(out), '-p', 'history_days', '400']
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    done = subprocess.run(args, capture_output=True, text=True, timeout=600, cwd=tmp_path, env={**os.environ, 'MLFLOW_TRACKING_URI': uri})
    assert done.returncode == 0, done.stderr[-3000:]
    js = json.loads(out.read_text())
    assert set(js) == {'start', 'end', 'n_days', 'issue_hour', 'source', 'mae', 'rmse', 'bias', 'mean_gap_hours', 'seconds'}
    tracking = Tracking(uri)   # recorded in MLflow too: one run, its parameters, scores and data
    (run,) = tracking.search_runs([tracking.experiment(EXPERIMENTS['replay'])])
    assert run.data.metrics['mae'] == pytest.approx(js['mae']) and run.data.metrics['mean_gap_hours'] == 6.0
    assert (run.data.params['issue_hour'], run.data.params['history_days'], run.data.tags['exog.file']) == ('18', '400', PARIS_MULTI)
    assert (js['start'], js['end'], js['n_days'], js['issue_hour'], js['source'], js['mean_gap_hours']) == \
        ('2024-06-10', '2024-06-12', 3, 18, 'best_match', 6.0)
    assert 0 < js['mae'] < 4 and js['rmse'] >= js['mae'] and js['seconds'] > 0
