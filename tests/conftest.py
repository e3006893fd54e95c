"""Shared fixtures: the real Open-Meteo files, a stand-in archive server on 127.0.0.1, a SQLite file."""
import datetime as dt

import pytest

from meteo_forecast.config import sample_path
from meteo_forecast.db import connect
from meteo_forecast.openmeteo import ArchiveClient, read_export
from meteo_forecast.standin import ArchiveStandIn

PARIS_T = 'paris_2014-2024_temperature_2m.csv'
PARIS_MULTI = 'paris_2020-2024_multivariate.csv'
TODAY = dt.date(2026, 11, 22)


@pytest.fixture(scope='session')
def paris_frames():
    "The two real Paris files, read once per session (the stand-in copies nothing it is given)."
    return [read_export(sample_path(PARIS_T)), read_export(sample_path(PARIS_MULTI))]


@pytest.fixture
def archive(paris_frames, monkeypatch):
    "A stand-in archive API serving the Paris files; OPEN_METEO_ARCHIVE_URL points at it."
    si = ArchiveStandIn(*[f.copy() for f in paris_frames], today=TODAY).start()
    monkeypatch.setenv('OPEN_METEO_ARCHIVE_URL', si.url)
    yield si
    si.stop()


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
    database.conn.close()
