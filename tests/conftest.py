"""Shared fixtures: the real Open-Meteo files, a stand-in archive server on 127.0.0.1, a database on each engine (a SQLite
file, a real PostgreSQL server)."""
import os

# One thread per BLAS and OpenMP pool (numpy, scikit-learn, XGBoost), in the test processes and the job processes they
# start, as `make nbdev-test` runs the notebooks: two pytest workers on two cores, each with a pool of two threads, spent a
# third of their time waiting for each other (tests/test_leakage.py: 133 s with pools, 82 s without). Set before numpy loads.
os.environ.setdefault('OMP_NUM_THREADS', '1')

import datetime as dt
import itertools
import time
from pathlib import Path

import pandas as pd
import pytest

from meteo_forecast.config import sample_path
from meteo_forecast.schema import connect
from meteo_forecast.snapshot import copy_database
from meteo_forecast.openmeteo import ArchiveClient, read_export
from meteo_forecast.pgserver import LocalPostgreSQL, postgresql_bin
from meteo_forecast.standin import ArchiveStandIn

# The plumbing tests train one quick algorithm (ridge: a second, where the production set's boosted models take ten), the
# same on every run; each city's choice among the candidate set (pipeline.CANDIDATES) and the gate's verdicts on the
# production algorithm are tested on their own in tests/test_lifecycle.py.
PLUMBING_ALGORITHM = os.environ.setdefault('METEO_FORECAST_CANDIDATES', 'ridge')   # what the jobs of the tests train


@pytest.hookimpl(tryfirst=True)   # before pytest-xdist reads the groups
def pytest_collection_modifyitems(items):
    "Under pytest-xdist (`make pytest` runs two workers), the tests of one expensive database share a worker, so it is built once."
    for item in items:
        group = next((g for g in ('month', 'predicted') if g in getattr(item, 'fixturenames', ())), None)
        if group: item.add_marker(pytest.mark.xdist_group(group))


PARIS_T = 'paris_2014-2024_temperature_2m.csv'
PARIS_MULTI = 'paris_2020-2024_multivariate.csv'
TODAY = dt.date(2026, 11, 22)
NOW = pd.Timestamp('2026-11-22 12:00', tz='UTC')   # the stand-in's clock: every Paris hour is published


@pytest.fixture(scope='session')
def paris_frames():
    "The two real Paris files, read once per session (the stand-in copies nothing it is given)."
    return [read_export(sample_path(PARIS_T)), read_export(sample_path(PARIS_MULTI))]


@pytest.fixture
def archive(paris_frames, monkeypatch):
    "A stand-in archive API serving the Paris files; OPEN_METEO_ARCHIVE_URL points at it."
    si = ArchiveStandIn(*[f.copy() for f in paris_frames], now=NOW).start()
    monkeypatch.setenv('OPEN_METEO_ARCHIVE_URL', si.url)
    yield si
    si.stop()


@pytest.fixture(scope='session')
def mlflow_template(tmp_path_factory) -> Path:
    """An empty embedded MLflow store, made once per worker by the product's own `Tracking.check` in a fresh interpreter
    (so nothing holds it open): MLflow's migrations take 2-3 s for each new store, and the tests make dozens."""
    import subprocess
    import sys
    path = tmp_path_factory.mktemp('mlflow_template') / 'mlflow.db'
    subprocess.run([sys.executable, '-c', f"from meteo_forecast.tracking import Tracking; Tracking('sqlite:///{path}').check()"],
                   check=True, timeout=120)
    return path


def seed_store(template: Path, folder: Path) -> None:
    "Copy the empty MLflow store into `folder`, where a job's embedded store goes (beside its SQLite database), unless one is there."
    import shutil
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / 'mlflow.db').exists(): shutil.copyfile(template, folder / 'mlflow.db')


@pytest.fixture(autouse=True)
def _mlflow_store(request, mlflow_template):
    """Every test's `tmp_path` starts with an empty, migrated MLflow store, but those marked `new_mlflow_store` (jobs that
    create one side by side) and the README's (a new user's first job)."""
    if 'tmp_path' in request.fixturenames and not request.node.get_closest_marker('new_mlflow_store'):
        seed_store(mlflow_template, request.getfixturevalue('tmp_path'))


@pytest.fixture
def waits():
    "Seconds the client would have slept (rate limits, backoff), recorded instead of slept."
    return []


@pytest.fixture
def client(archive, waits):
    "A client of the stand-in with short timeouts and backoff, recording its waits."
    return ArchiveClient(archive.url, retries=2, backoff=0.01, timeout=(2.0, 0.5), sleep=waits.append)


@pytest.fixture
def db_path(tmp_path, monkeypatch):
    "A fresh SQLite file; METEO_FORECAST_DB points at it."
    path = tmp_path / 'meteo.db'
    monkeypatch.setenv('METEO_FORECAST_DB', str(path))
    return path


@pytest.fixture
def db(db_path):
    database = connect(db_path)
    yield database
    database.close()


# --- The two database engines: the tests that say `database_url` run on both ---

BACKENDS = ['sqlite', 'postgresql']
_DATABASES = itertools.count()


@pytest.fixture(scope='session')
def postgresql():
    "A real PostgreSQL server for the session (one per pytest-xdist worker), from Debian's package."
    if postgresql_bin() is None:
        message = "PostgreSQL is not installed: scripts/system_packages.sh installs it"
        if os.environ.get('METEO_FORECAST_REQUIRE_POSTGRESQL'): pytest.fail(message)   # CI: never skipped
        pytest.skip(message)
    with LocalPostgreSQL() as server:
        yield server


def new_database(request, backend: str, folder: Path) -> str:
    "An empty database: a SQLite file in `folder`, or a new database on the session's PostgreSQL server."
    if backend == 'sqlite': return str(folder / 'meteo.db')
    return request.getfixturevalue('postgresql').create_database(f'test_{os.getpid()}_{next(_DATABASES)}')


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path):
    "An empty database on each engine in turn."
    return new_database(request, request.param, tmp_path)


@pytest.fixture(scope='session')
def month_postgresql(month, postgresql):
    "The backfilled month (below) copied into PostgreSQL."
    url = postgresql.create_database('month')
    copy_database(str(month.db_path), url)
    return url


@pytest.fixture(scope='module', params=BACKENDS)
def month_url(request, month):
    "The backfilled month on each engine in turn."
    return str(month.db_path) if request.param == 'sqlite' else request.getfixturevalue('month_postgresql')


# --- Batch jobs and serving: a stand-in for the whole session, papermill jobs, a backfilled month ---

from types import SimpleNamespace  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
MONTH = ('2024-06-01', '2024-06-30')
TEST_HISTORY_DAYS = 1095   # three years: what the jobs did until they kept ten (config.HISTORY_DAYS); quicker, and enough for intervals


@pytest.fixture(scope='session')
def session_archive(paris_frames):
    "A stand-in archive API serving the Paris files for the whole session (for session-scoped databases)."
    si = ArchiveStandIn(*[f.copy() for f in paris_frames], now=NOW).start()
    yield si
    si.stop()


def run_job(notebook: str, output, env: dict, **parameters):
    "Execute the job notebook `nbs/<notebook>` with papermill as an operator does, its kernel seeing `env`."
    import papermill
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items(): mp.setenv(k, str(v))
        return papermill.execute_notebook(str(ROOT / 'nbs' / notebook), str(output), parameters=parameters,
                                          cwd=str(ROOT), progress_bar=False)


def job_env(folder: Path, archive_url: str, database: str | None = None) -> dict:
    "Environment of a job writing into `folder`: its database (default a SQLite file there), its registry, the archive stand-in."
    return {'METEO_FORECAST_DB': database or folder / 'meteo.db', 'METEO_FORECAST_REGISTRY': folder / 'registry',
            'OPEN_METEO_ARCHIVE_URL': archive_url}


@pytest.fixture(scope='session')
def predicted(tmp_path_factory, session_archive, mlflow_template):
    "A database filled by a real papermill predict job for 2024-06-01 through the stand-in archive."
    folder = tmp_path_factory.mktemp('predicted')
    seed_store(mlflow_template, folder)
    env = job_env(folder, session_archive.url)
    output = folder / 'runs' / 'predict-2024-06-01.ipynb'
    output.parent.mkdir()
    run_job('predict.ipynb', output, env, date='2024-06-01', history_days=TEST_HISTORY_DAYS)
    return SimpleNamespace(folder=folder, env=env, db_path=folder / 'meteo.db', output=output)


@pytest.fixture(scope='session')
def month(tmp_path_factory, session_archive, mlflow_template):
    "A database filled by a backfill of June 2024 for Paris through the stand-in archive (the product's demo)."
    from meteo_forecast.jobs import backfill
    folder = tmp_path_factory.mktemp('month')
    seed_store(mlflow_template, folder)
    t0 = time.perf_counter()
    table = backfill(*MONTH, history_days=TEST_HISTORY_DAYS, db=folder / 'meteo.db', registry=folder / 'registry',
                     client=ArchiveClient(session_archive.url, retries=1, backoff=0.01), progress=False)
    return SimpleNamespace(folder=folder, db_path=folder / 'meteo.db', table=table, seconds=time.perf_counter() - t0)
