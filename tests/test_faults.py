"""The faults an operator meets, with real processes, real files and a real archive stand-in: jobs side by side, an archive
that drips or never answers, jobs stopped and killed, impossible values, unbounded input, a heavy Datasette query."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import requests
from fastapi.testclient import TestClient

from meteo_forecast.api import create_app
from meteo_forecast.config import PARIS, Location, sample_path
from meteo_forecast.db import Database, hourly_observations
from meteo_forecast.schema import connect
from meteo_forecast.jobs import job_tracking, predict_job
from meteo_forecast.preprocess import BOUNDS
from meteo_forecast.standin import ArchiveStandIn, Fault
from meteo_forecast.tracking import EXPERIMENTS

from conftest import NOW, PARIS_MULTI, ROOT
from servers import free_port, running

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]
CENTRE = Location(46.0105, 2.0, 'Centre')
JOB = ("import json, sys\nfrom meteo_forecast.config import setup_logging\nfrom meteo_forecast.jobs import predict_job\n"
       "setup_logging()\npredict_job(**json.loads(sys.argv[1]))")


@pytest.fixture(scope='module')
def archive():
    "A stand-in serving Paris (2021-2024, every variable) and the centre of France (2024-2025)."
    si = ArchiveStandIn(sample_path(PARIS_MULTI), sample_path('centre-france_2024-2025_export.csv'), now=NOW).start()
    yield si
    si.stop()


def env_for(folder: Path, archive_url: str, database: str | None = None, **extra) -> dict:
    return {**os.environ, 'METEO_FORECAST_DB': str(database or folder / 'meteo.db'), 'METEO_FORECAST_REGISTRY': str(folder / 'registry'),
            'OPEN_METEO_ARCHIVE_URL': archive_url, 'JOB_LOGS': str(folder), **{k: str(v) for k, v in extra.items()}}


STARTED: list[subprocess.Popen] = []


@pytest.fixture(autouse=True)
def no_job_left_behind():
    "Kill the jobs a test started and left running (a test that fails must not leave processes on the machine)."
    yield
    while STARTED:
        p = STARTED.pop()
        if p.poll() is None: p.kill(); p.wait(timeout=30)


def start_job(env: dict, **params) -> subprocess.Popen:
    "A predict job in a process of its own, as a scheduler starts one; its output goes to a log file."
    log = open(Path(env['JOB_LOGS']) / f'job-{len(STARTED)}.log', 'w')
    p = subprocess.Popen([sys.executable, '-c', JOB, json.dumps({'history_days': 400, **params})], env=env, cwd=ROOT,
                         stdout=log, stderr=subprocess.STDOUT, text=True)
    p.log = Path(log.name)
    STARTED.append(p)
    return p


def runs(database: str | Path) -> list[tuple]:
    with Database(database) as db:
        return [tuple(r) for r in db.execute('SELECT id, job, status, step, error, started_at, finished_at FROM runs ORDER BY id')]


def test_two_predict_jobs_for_two_cities_run_side_by_side(tmp_path, archive, database_url):
    env = env_for(tmp_path, archive.url, database_url)
    paris = start_job(env, date='2024-06-01')
    centre = start_job(env, date='2025-06-01', latitude=CENTRE.latitude, longitude=CENTRE.longitude, city=CENTRE.name)
    for p in (paris, centre): assert p.wait(timeout=240) == 0, p.log.read_text()[-2000:]
    done = runs(database_url)
    assert [r[2] for r in done] == ['succeeded', 'succeeded']
    (_, _, _, _, _, start_a, end_a), (_, _, _, _, _, start_b, end_b) = done
    assert start_a < end_b and start_b < end_a   # they overlapped: neither waited for the other
    with Database(database_url) as db:
        assert db.execute('SELECT COUNT(*), COUNT(DISTINCT location_id) FROM predictions').fetchone() == (16, 2)


def test_a_dripping_archive_fails_within_its_deadline_and_another_job_runs_meanwhile(tmp_path, archive):
    archive.faults.append(Fault(drip=1.0))   # the next answer comes a byte a second
    env = env_for(tmp_path, archive.url, METEO_FORECAST_REQUEST_DEADLINE=20)
    n = len(archive.requests)
    t0 = time.monotonic()
    stuck = start_job(env, date='2024-06-01')
    while len(archive.requests) == n: time.sleep(0.05)   # its first request is dripping now
    other = start_job(env, date='2025-06-01', latitude=CENTRE.latitude, longitude=CENTRE.longitude, city=CENTRE.name,
                      data_file=str(sample_path('centre-france_2024-2025_export.csv')))
    assert other.wait(timeout=240) == 0, other.log.read_text()[-2000:]
    other_done = time.monotonic() - t0
    assert stuck.wait(timeout=60) != 0
    stuck_done = time.monotonic() - t0
    assert other_done < stuck_done and stuck_done < 20 + 15   # the deadline, and the start of the process
    (_, _, status, step, error, *_), = [r for r in runs(tmp_path / 'meteo.db') if r[2] != 'succeeded']
    assert (status, step) == ('failed', 'ingest') and 'did not answer within 20 s (METEO_FORECAST_REQUEST_DEADLINE)' in error


def test_a_server_that_never_answers_fails_within_the_download_budget(tmp_path):
    from meteo_forecast.openmeteo import ArchiveClient, OpenMeteoError
    import socket
    with socket.socket() as silent:   # accepts connections, never answers
        silent.bind(('127.0.0.1', 0)); silent.listen()
        client = ArchiveClient(f'http://127.0.0.1:{silent.getsockname()[1]}/v1/archive', timeout=(2, 1), budget=5, backoff=0.5)
        t0 = time.monotonic()
        with pytest.raises(OpenMeteoError, match='budget of 5 s'):
            client.hourly(PARIS, pd.Timestamp('2024-01-01').date(), pd.Timestamp('2024-01-02').date(), progress=False)
        assert time.monotonic() - t0 < 5 + 2


def test_sigterm_marks_the_run_terminated_and_sigkill_leaves_an_abandoned_run_that_health_reports(tmp_path, archive, database_url):
    env = env_for(tmp_path, archive.url, database_url, METEO_FORECAST_HEARTBEAT_SECONDS=0.2, METEO_FORECAST_ABANDONED_AFTER_SECONDS=1)
    # SIGTERM while the job waits on the archive
    archive.faults.append(Fault(drip=1.0))
    n = len(archive.requests)
    job = start_job(env, date='2024-06-01')
    while len(archive.requests) == n: time.sleep(0.05)
    job.send_signal(signal.SIGTERM)
    assert job.wait(timeout=30) != 0
    assert runs(database_url)[-1][2:5] == ('failed', 'ingest', 'Terminated: terminated by SIGTERM')
    # SIGKILL once its run started, then while it trains with its MLflow run open (two_stage on three years, not the
    # tests' quick ridge: long enough to be killed then)
    tracking = job_tracking(database_url, tmp_path / 'registry')
    jobs_experiment = tracking.experiment(EXPERIMENTS['jobs'])
    def open_mlflow_runs() -> list[str]: return [r.info.run_id for r in tracking.search_runs([jobs_experiment], "attributes.status = 'RUNNING'")]
    for when in ('run started', 'training'):
        n = len(runs(database_url))
        job = start_job(env, date='2024-06-01', data_file=str(sample_path(PARIS_MULTI)), history_days=1095, model='two_stage')
        deadline = time.monotonic() + 60   # the job's imports (MLflow among them) take seconds on a loaded machine
        while len(runs(database_url)) == n and job.poll() is None and time.monotonic() < deadline: time.sleep(0.1)
        while when == 'training' and not open_mlflow_runs() and job.poll() is None and time.monotonic() < deadline: time.sleep(0.1)
        assert job.poll() is None, job.log.read_text()[-2000:]
        job.send_signal(signal.SIGKILL)
        job.wait(timeout=30)
        assert runs(database_url)[-1][2] == 'running'   # nobody could mark it
    left_open = open_mlflow_runs()
    assert left_open   # the training's MLflow run, which the killed process could not end
    time.sleep(2.5)
    os.environ.update({k: env[k] for k in ('METEO_FORECAST_HEARTBEAT_SECONDS', 'METEO_FORECAST_ABANDONED_AFTER_SECONDS')})
    try:
        health = TestClient(create_app(database_url)).get('/health').json()
        assert health['status'] == 'degraded' and len(health['abandoned_runs']) == 2
        db = connect(database_url)
        if db.backend == 'sqlite': assert db.execute('PRAGMA integrity_check').fetchone() == ('ok',)
        roles = {(r['mlflow_model'], r['mlflow_version']) for r in db.query('SELECT * FROM models')}
        for model in tracking.search_registered_models():   # no alias points at a version without its row
            assert {(model.name, int(v)) for v in model.aliases.values()} <= roles
        # the next job marks them abandoned, and works
        predict_job('2024-06-02', data_file=sample_path(PARIS_MULTI), history_days=400, db=db, registry=tmp_path / 'registry')
        assert [r[2] for r in runs(database_url)][-3:] == ['abandoned', 'abandoned', 'succeeded']
        assert {tracking.get_run(i).info.status for i in left_open} == {'KILLED'}   # and ends the MLflow runs they left open
        assert not open_mlflow_runs()
        assert TestClient(create_app(database_url)).get('/health').json()['status'] == 'degraded'   # still reported
    finally:
        for k in ('METEO_FORECAST_HEARTBEAT_SECONDS', 'METEO_FORECAST_ABANDONED_AFTER_SECONDS'): os.environ.pop(k, None)


def test_impossible_values_are_never_stored_nor_replace_good_ones(tmp_path):
    good = sample_path(PARIS_MULTI)
    kw = dict(history_days=400, db=tmp_path / 'meteo.db', registry=tmp_path / 'registry')
    first = predict_job('2024-06-01', data_file=good, **kw)
    db = connect(tmp_path / 'meteo.db')
    before = hourly_observations(db, first['location_id'], '2024-05-30', '2024-05-31 23:00')
    # the same file, its last two days broken: 1e308 and -999 °C, 'NaN' and text as values, the last row cut in its middle
    text = good.read_text(encoding='utf-8').splitlines()
    at = next(i for i, line in enumerate(text) if line.startswith('2024-05-30T00:00'))
    broken = text[:at]
    for k, line in enumerate(text[at:at + 48]):
        fields = line.split(',')
        fields[1] = ['1e308', '-999', 'NaN', 'warm'][k % 4]
        broken.append(','.join(fields))
    bad = tmp_path / 'broken.csv'
    bad.write_text('\n'.join(broken)[:-3], encoding='utf-8')   # no final new line: the last row is cut
    second = predict_job('2024-06-01', data_file=bad, **kw)
    after = hourly_observations(db, first['location_id'], '2024-05-30', '2024-05-31 23:00')
    pd.testing.assert_frame_equal(after, before)   # nothing replaced
    stored = db.frame('SELECT * FROM observations')
    for var, (lo, hi) in BOUNDS.items():
        assert stored[var].dropna().between(lo, hi).all(), var
    steps = json.loads(db.execute('SELECT steps FROM runs WHERE id = :id', {'id': second['run_id']}).scalar())
    ingest = next(s for s in steps if s['step'] == 'ingest')
    # 12 x 1e308, 12 x -999, 11 x 'warm' (the 12th is in the cut row), and the cut row ('NaN' is a missing value)
    assert ingest['rejected'] == 36 and ingest['rejected_by_variable'] == {'temperature_2m': 35, 'row': 1}
    assert second['forecast'].predicted.between(5, 35).all()
    pd.testing.assert_frame_equal(second['forecast'], first['forecast'])


@pytest.mark.parametrize('start, end, message', [
    ('1900-01-01', '2200-01-01', 'start 1900-01-01 is before 1940-01-01'),
    ('1000-01-01', '2024-01-01', 'start 1000-01-01 is before 1940-01-01'),
    ('2020-01-01', '2024-12-31', 'a backfill forecasts at most 366 days'),
])
def test_unbounded_backfills_are_refused_with_one_run_row(tmp_path, start, end, message):
    env = {**os.environ, 'METEO_FORECAST_DB': str(tmp_path / 'meteo.db'), 'OPEN_METEO_ARCHIVE_URL': 'http://127.0.0.1:9/v1/archive'}
    done = subprocess.run([str(Path(sys.executable).parent / 'meteo_backfill'), '--start', start, '--end', end],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and message in done.stderr and 'Traceback' not in done.stderr
    assert [r[1:4] for r in runs(tmp_path / 'meteo.db')] == [('backfill', 'failed', 'parameters')]


def test_datasette_refuses_the_memory_queries_and_keeps_serving(tmp_path):
    db = connect(tmp_path / 'meteo.db')
    db.execute("INSERT INTO locations (name, latitude, longitude, created_at) VALUES ('Paris', 48.8566, 2.3522, '2024-01-01T00:00:00Z')")
    db.close()
    port = free_port()
    env = {**os.environ, 'PATH': f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    url = f'http://127.0.0.1:{port}'
    argv = ['bash', str(ROOT / 'api' / 'datasette' / 'serve.sh'), str(tmp_path / 'meteo.db'), '--port', str(port)]
    with running(argv, env, tmp_path / 'datasette.log', url + '/-/versions.json'):
        for sql in ('select length(randomblob(1000000000)), length(randomblob(1000000000))',
                    'select length(zeroblob(1000000000))', "select fts3_tokenizer('simple')",
                    "select length(replace(printf('%.*c', 100000, 'x'), 'x', printf('%.*c', 100000, 'y')))"):   # 10 GB
            t0 = time.monotonic()
            r = requests.get(url + '/meteo.json', params={'sql': sql}, timeout=30)
            assert r.status_code == 400 and time.monotonic() - t0 < 3, (sql, r.status_code, r.text[:200])
        r = requests.get(url + '/meteo.json', params={'sql': 'select name from locations', '_shape': 'array'}, timeout=10)
        assert r.json() == [{'name': 'Paris'}]
        assert requests.get(url + '/meteo/last_runs.json', timeout=10).status_code == 200


def test_a_newline_in_a_request_cannot_forge_a_log_line(tmp_path, predicted):
    import socket as s
    port = free_port()
    env = {**os.environ, 'METEO_FORECAST_DB': str(predicted.db_path)}
    argv = [sys.executable, '-m', 'uvicorn', 'api.main:app', '--host', '127.0.0.1', '--port', str(port)]
    with running(argv, env, tmp_path / 'uvicorn.log', f'http://127.0.0.1:{port}/version'):
        with s.create_connection(('127.0.0.1', port)) as conn:
            conn.sendall(b'GET /models/1%0A2026-01-01T00:00:00Z%20INFO%20meteo_forecast.api:%20forged HTTP/1.1\r\nHost: x\r\n\r\n')
            assert b'422' in conn.recv(4096).split(b'\r\n')[0]
        time.sleep(0.3)
    lines = (tmp_path / 'uvicorn.log').read_text().splitlines()
    assert not [line for line in lines if line.startswith('2026-01-01T00:00:00Z')]
    assert [line for line in lines if 'WARNING meteo_forecast.api: GET /models/1' in line and 'forged: 422 invalid input' in line]


def test_compose_and_the_docs_workflow():
    import yaml
    compose = yaml.safe_load((ROOT / 'compose.yaml').read_text())
    assert all(p.startswith('127.0.0.1:') for s in compose['services'].values() for p in s.get('ports', []))
    assert 'mkdir -p /data/runs' in ' '.join(compose['services']['predict']['command'])
    docs = yaml.safe_load((ROOT / '.github' / 'workflows' / 'ci.yml').read_text())['jobs']['docs']['steps']
    install = next(s['run'] for s in docs if 'quarto' in s.get('name', '').lower())
    assert 'sha256sum --check' in install and install.index('sha256sum') < install.index('dpkg -i')
