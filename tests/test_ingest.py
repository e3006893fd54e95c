"""Ingestion into a real SQLite file through the stand-in: counts, idempotence, revisions, atomicity."""
import datetime as dt

import numpy as np
import pandas as pd
import pytest

from meteo_forecast.config import PARIS, sample_path
from meteo_forecast.db import hourly_observations, observations_3h
from meteo_forecast.schema import connect
from meteo_forecast.ingest import import_file, ingest, ingest_until
from meteo_forecast.openmeteo import OpenMeteoError
from meteo_forecast.standin import Fault

from conftest import TODAY


def dump(db):
    "Everything ingestion writes, for comparing two database states."
    return {t: db.execute(f'SELECT * FROM {t} ORDER BY 1, 2').fetchall() for t in ('observations', 'observations_3h')} | \
        {'locations': db.execute('SELECT id, name, latitude, longitude, grid_latitude, grid_longitude, elevation FROM locations').fetchall()}


def counts(db):
    return db.count('observations'), db.count('observations_3h')


def test_paris_2014_2024_lands_as_96432_hours_and_32144_slots(db, client, archive):
    report = ingest(db, PARIS, [(dt.date(2014, 1, 1), dt.date(2024, 12, 31))], client, progress=False)
    assert counts(db) == (96_432, 32_144)
    assert report['new'] == 96_432 and report['slots'] == 32_144
    assert len(archive.requests) == 11
    again = ingest(db, PARIS, [(dt.date(2014, 1, 1), dt.date(2024, 12, 31))], client, progress=False)
    assert (again['new'], again['revised'], again['unchanged']) == (0, 0, 96_432)
    assert counts(db) == (96_432, 32_144)


HISTORY = (dt.date(2025, 1, 1) - dt.date(2014, 1, 1)).days   # what the Paris files cover


def test_ingest_until_downloads_only_what_is_lacking(db, client, archive):
    first = ingest_until(db, PARIS, dt.date(2025, 1, 1), history_days=HISTORY, client=client, progress=False, today=TODAY)
    assert counts(db) == (96_432, 32_144)
    assert first['last_observation'] == pd.Timestamp('2024-12-31 23:00', tz='UTC')
    before, n_requests = dump(db), len(archive.requests)
    second = ingest_until(db, PARIS, dt.date(2025, 1, 1), history_days=HISTORY, client=client, progress=False, today=TODAY)
    assert second['new'] == 0 and second['revised'] == 0
    assert [(q['start_date'], q['end_date']) for q in archive.requests[n_requests:]] == [('2024-12-25', '2024-12-31')]
    assert dump(db) == before


def test_nothing_on_or_after_the_forecast_day_is_requested(db, client, archive):
    ingest_until(db, PARIS, dt.date(2024, 6, 1), history_days=10, client=client, progress=False, today=TODAY)
    assert max(q['end_date'] for q in archive.requests) == '2024-05-31'
    assert hourly_observations(db, 1).index.max() == pd.Timestamp('2024-05-31 23:00', tz='UTC')


def test_a_revised_value_is_updated(db, client, archive):
    ingest(db, PARIS, [(dt.date(2024, 6, 1), dt.date(2024, 6, 2))], client, progress=False)
    archive.places[0][1].loc['2024-06-01 13:00', 'temperature_2m'] += 2.0
    report = ingest(db, PARIS, [(dt.date(2024, 6, 1), dt.date(2024, 6, 2))], client, progress=False)
    assert (report['new'], report['revised']) == (0, 1)
    stored = hourly_observations(db, 1, '2024-06-01 13:00', '2024-06-01 13:00').temperature_2m.iloc[0]
    assert stored == pytest.approx(archive.places[0][1].loc['2024-06-01 13:00', 'temperature_2m'])
    slot = observations_3h(db, 1, '2024-06-01 12:00', '2024-06-01 12:00').temperature_2m.iloc[0]
    assert slot == pytest.approx(archive.places[0][1].loc['2024-06-01 12:00':'2024-06-01 14:00', 'temperature_2m'].mean())
    assert counts(db) == (48, 16)


@pytest.mark.parametrize('fault', [Fault(400, 'Parameter hourly is invalid'), Fault(body=b'<html>oops</html>'),
                                   Fault(truncate=True)])
def test_a_failure_in_a_later_chunk_writes_nothing(db, client, archive, fault):
    ingest(db, PARIS, [(dt.date(2014, 1, 1), dt.date(2014, 12, 31))], client, progress=False)
    before = dump(db)
    archive.faults.extend([Fault(), Fault(), fault] + ([fault] * 2 if fault.status == 200 else []))
    with pytest.raises(OpenMeteoError):
        ingest(db, PARIS, [(dt.date(2015, 1, 1), dt.date(2019, 12, 31))], client, progress=False)
    assert dump(db) == before


def test_a_failure_leaves_a_fresh_database_empty(db_path, client, archive):
    archive.faults.extend([Fault(), Fault(500, 'boom'), Fault(500, 'boom'), Fault(500, 'boom')])
    db = connect(db_path)
    with pytest.raises(OpenMeteoError, match='HTTP 500'):
        ingest(db, PARIS, [(dt.date(2020, 1, 1), dt.date(2021, 12, 31))], client, progress=False)
    assert counts(db) == (0, 0) and db.count('locations') == 0


def test_nulls_inside_the_series(db, client, archive):
    frame = archive.places[0][1]
    frame.loc['2024-03-01 04:00':'2024-03-01 05:00', 'temperature_2m'] = np.nan   # 2 h: bridged
    frame.loc['2024-03-01 12:00':'2024-03-01 16:00', :] = np.nan                   # 5 h, all variables: slots lost
    report = ingest(db, PARIS, [(dt.date(2024, 3, 1), dt.date(2024, 3, 1))], client, progress=False)
    assert report['new'] == 19              # the 5 empty hours are not stored
    hourly = hourly_observations(db, 1)
    assert hourly.temperature_2m.isna().sum() == 2   # stored as NULL next to the humidity they do have
    slots = observations_3h(db, 1).temperature_2m
    assert slots.index.strftime('%H').tolist() == ['00', '03', '06', '09', '18', '21']
    bridged = np.interp([4, 5], [3, 6], frame.temperature_2m.loc[['2024-03-01 03:00', '2024-03-01 06:00']])
    assert slots.loc['2024-03-01 03:00'] == pytest.approx((frame.temperature_2m.loc['2024-03-01 03:00'] + bridged.sum()) / 3)


def test_import_centre_france_export(db):
    report = import_file(db, sample_path('centre-france_2024-2025_export.csv'))
    assert counts(db) == (17_544, 5_848)
    assert db.execute('SELECT name, latitude, longitude, elevation FROM locations').fetchone() == \
        ('centre-france_2024-2025_export', 46.0105, 2.0, 550.0)
    assert report['last_observation'] == pd.Timestamp('2025-12-31 23:00', tz='UTC')


def test_import_saved_json_response_until_a_day(db):
    report = import_file(db, sample_path('archive_response_sample.json'), until=dt.date(2010, 1, 3))
    assert report['hours'] == 45     # 2010-01-01 03:00 UTC .. 2010-01-02 23:00 UTC
    assert report['last_observation'] == pd.Timestamp('2010-01-02 23:00', tz='UTC')


def test_import_refuses_a_file_of_another_place(db):
    with pytest.raises(ValueError, match='not near Paris'):
        import_file(db, sample_path('centre-france_2024-2025_export.csv'), PARIS)
    assert db.count('locations') == 0


def test_the_archive_check_asks_for_the_place_of_the_job():
    "`make predict LATITUDE=… LONGITUDE=…` checks the archive for that place: a stand-in of another city's file answers."
    import os
    import subprocess
    import sys
    from pathlib import Path
    from meteo_forecast.standin import ArchiveStandIn
    cli = str(Path(sys.executable).parent / 'meteo_check_archive')
    with ArchiveStandIn(sample_path('centre-france_2024-2025_export.csv')) as si:
        env = {**os.environ, 'OPEN_METEO_ARCHIVE_URL': si.url}
        here = subprocess.run([cli, '--latitude', '46.0105', '--longitude', '2.0'], env=env, capture_output=True, text=True, timeout=60)
        paris = subprocess.run([cli], env=env, capture_output=True, text=True, timeout=60)
    assert here.returncode == 0 and here.stdout.strip() == f"the Open-Meteo archive at {si.url} answers"
    assert paris.returncode == 1 and 'no data near latitude 48.8566' in paris.stderr


def test_ingest_until_stores_what_a_source_that_starts_later_holds(db, client, archive):
    "Asked for more than the source holds, the ingestion stores what exists, each run, and reports the first day."
    archive.first_day = dt.date(2024, 4, 1)
    report = ingest_until(db, PARIS, dt.date(2024, 6, 1), history_days=120, client=client, progress=False, today=TODAY)
    assert report['first_available'] == dt.date(2024, 4, 1)
    assert hourly_observations(db, 1).index[[0, -1]].astype(str).tolist() == ['2024-04-01 00:00:00+00:00', '2024-05-31 23:00:00+00:00']
    again = ingest_until(db, PARIS, dt.date(2024, 6, 2), history_days=120, client=client, progress=False, today=TODAY)
    assert again['first_available'] == dt.date(2024, 4, 1) and again['new'] == 24


def test_the_archive_check_keeps_to_the_range_the_archive_names(archive):
    "An archive whose range ends before the day the check asks for (its clock in the past) still answers."
    from meteo_forecast.ingest import check_archive
    from meteo_forecast.openmeteo import ArchiveClient
    archive.now = pd.Timestamp('2024-06-01 20:30', tz='UTC')
    assert check_archive(ArchiveClient(archive.url, retries=0)) == \
        f"the Open-Meteo archive at {archive.url} answers (its data: 1940-01-01 to 2024-06-01)"
    assert [q['end_date'] for q in archive.requests][-1] == '2024-06-01'
