"""Many cities: `meteo_cities` and the papermill cities job, on a real local Dask cluster, through the stand-in,
writing to a SQLite file and to a PostgreSQL server."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow import MlflowClient

from meteo_forecast.schema import connect
from meteo_forecast.tracking import EXPERIMENTS
from conftest import ROOT, job_env, run_job

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]
CLI = str(Path(sys.executable).parent / 'meteo_cities')


@pytest.mark.new_mlflow_store
def test_a_list_of_cities_runs_in_parallel_and_one_failure_stops_no_other(tmp_path, session_archive, database_url):
    # two places the stand-in serves (Versailles is in the Paris file's grid cell) and one it does not
    (tmp_path / 'cities.csv').write_text("name,latitude,longitude\nParis,48.8566,2.3522\nVersailles,48.8049,2.1204\n"
                                         "Nowhere,-60,-150\n")
    env = {**os.environ, **{k: str(v) for k, v in job_env(tmp_path, session_archive.url, database_url).items()}}
    env.pop('MLFLOW_TRACKING_URI', None)   # the embedded store beside the database, which the two workers share
    done = subprocess.run([CLI, str(tmp_path / 'cities.csv'), '--start', '2024-06-01', '--end', '2024-06-02',
                           '--workers', '2', '--history_days', '400'], cwd=ROOT, env=env, capture_output=True, text=True, timeout=280)
    assert done.returncode == 1, done.stderr[-3000:]
    assert '2 of 3 cities forecast for 2024-06-01..2024-06-02' in done.stdout
    assert 'has no data near latitude -60.0, longitude -150.0' in done.stdout
    assert 'Paris 2024-06-02: succeeded' in done.stderr          # progress per day, heard from the workers
    assert 'database is locked' not in done.stderr
    db = connect(database_url)
    assert db.count('predictions') == 32
    assert sorted((json.loads(p)['city'], s) for p, s in db.execute("SELECT parameters, status FROM runs WHERE job = 'backfill'")) \
        == [('Nowhere', 'failed'), ('Paris', 'succeeded'), ('Versailles', 'succeeded')]
    # each city's training is an MLflow run of the embedded store, and each city's slot has its champion
    uri = f"sqlite:///{tmp_path.resolve()}/mlflow.db"
    mlflow = MlflowClient(uri, registry_uri=uri)
    runs = mlflow.search_runs([mlflow.get_experiment_by_name(EXPERIMENTS['jobs']).experiment_id])
    assert sorted((r.data.tags['city'], r.info.status) for r in runs) == [('Paris', 'FINISHED'), ('Versailles', 'FINISHED')]
    assert sorted((m.name, m.aliases) for m in mlflow.search_registered_models()) == \
        [('paris_48.8566_2.3522_gap0h', {'champion': 1}), ('versailles_48.8049_2.1204_gap0h', {'champion': 1})]

    # the papermill job: the next day for Paris, on one worker, reusing the model the backfill trained
    (tmp_path / 'paris.csv').write_text("name,latitude,longitude\nParis,48.8566,2.3522\n")
    run_job('cities.ipynb', tmp_path / 'cities-run.ipynb', job_env(tmp_path, session_archive.url, database_url), cities=str(tmp_path / 'paris.csv'),
            start='2024-06-03', workers=1, history_days=400)
    assert db.execute("SELECT COUNT(*), COUNT(DISTINCT model_id) FROM predictions WHERE location_id = "
                      "(SELECT id FROM locations WHERE name = 'Paris')").fetchone() == (24, 1)


def test_a_bad_list_of_cities_is_refused_in_one_line(tmp_path):
    (tmp_path / 'cities.csv').write_text("name,latitude,longitude\nParis,148.8,2.3\n")
    done = subprocess.run([CLI, str(tmp_path / 'cities.csv'), '--start', '2024-06-01', '--end', '2024-06-01'],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and done.stderr.strip().splitlines()[-1] == \
        f"error: {tmp_path / 'cities.csv'}, line 2: latitude must be between -90 and 90 degrees, got 148.8"


@pytest.mark.timeout(900)
def test_a_first_run_of_many_cities_waits_for_the_archive_budget_and_every_city_succeeds(tmp_path, session_archive):
    """Six new cities near Paris, an "hour" of 20 s whose limit admits two first downloads, and a download that may wait
    only 4 s (as ten minutes against the real hour): the cities wait for the windows in order, and all six succeed.
    The climatology model keeps the training short: the downloads are what is tested."""
    import datetime as dt
    import math
    from meteo_forecast.cities import plan_downloads, read_cities
    (tmp_path / 'cities.csv').write_text('name,latitude,longitude\n' + ''.join(
        f'city{k},{48.8566 + 0.02 * k:.4f},2.3522\n' for k in range(6)))
    with connect(tmp_path / 'plan.db') as db:
        calls = plan_downloads(db, read_cities(tmp_path / 'cities.csv'), dt.date(2024, 6, 1), history_days=400)[0].calls
    window, limit = 20, math.ceil(2 * calls + 6)   # two first downloads (not three), and the six backfills' refresh of a week
    env = {**os.environ, **{k: str(v) for k, v in job_env(tmp_path, session_archive.url).items()},
           'METEO_FORECAST_ARCHIVE_LIMITS': f'{limit}/{window}', 'METEO_FORECAST_DOWNLOAD_BUDGET': '4'}
    done = subprocess.run([CLI, str(tmp_path / 'cities.csv'), '--start', '2024-06-01', '--end', '2024-06-01', '--workers', '2',
                           '--history_days', '400', '--deadline_hours', '0.2', '--model', 'climatology'], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=840)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert '6 of 6 cities forecast for 2024-06-01..2024-06-01' in done.stdout
    assert 'city2 waits' in done.stderr and 'the last to start at' in done.stderr, done.stderr[-3000:]
    db = connect(tmp_path / 'meteo.db')
    assert db.execute('SELECT COUNT(DISTINCT location_id) FROM predictions').scalar() == 6
    waited = {line.split(' waits ')[0].split()[-1] for line in done.stderr.splitlines() if ' waits ' in line}
    assert {'city2', 'city4'} <= waited and not waited & {'city0', 'city1'}, waited   # the third and fifth wait for a window
    assert db.execute('SELECT SUM(weight) FROM archive_calls').scalar() <= limit   # the last window's calls, within the limit
