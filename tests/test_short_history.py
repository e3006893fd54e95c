"""A history shorter than the one asked for: a source whose data starts later than the jobs' ten years, and a file that
holds less. The jobs train on what exists, say so once, record it on the run, and fail with the usual message when it is
too little."""
import datetime as dt
import json
import logging

import pytest

from meteo_forecast.cities import City, city_backfill
from meteo_forecast.config import PARIS, sample_path
from meteo_forecast.schema import connect
from meteo_forecast.jobs import predict_job
from meteo_forecast.openmeteo import ArchiveClient

from conftest import PARIS_MULTI

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def steps(db, run_id) -> dict:
    return {s['step']: s for s in json.loads(db.execute('SELECT steps FROM runs WHERE id = :id', {'id': run_id}).scalar())}


def test_a_predict_job_asking_ten_years_of_a_source_holding_three(tmp_path, archive, caplog):
    archive.first_day = dt.date(2021, 6, 1)   # three years before the day
    with caplog.at_level(logging.WARNING, logger='meteo_forecast'):
        result = predict_job('2024-06-01', db=tmp_path / 'meteo.db', registry=tmp_path / 'registry',
                             client=ArchiveClient(archive.url, retries=0))   # history_days: the default ten years
    db = connect(tmp_path / 'meteo.db')
    assert db.execute('SELECT COUNT(*), MIN(data_until) FROM predictions').fetchone() == (8, '2024-06-01T00:00:00Z')
    assert db.execute('SELECT MIN(time) FROM observations').scalar() == '2021-06-01T00:00:00Z'
    done = steps(db, result['run_id'])
    assert done['ingest']['first_available'] == '2021-06-01'
    assert done['history']['hours'] == (dt.date(2024, 6, 1) - dt.date(2021, 6, 1)).days * 24
    warned = [r.getMessage() for r in caplog.records if r.levelname == 'WARNING']
    assert len(warned) == 1 and 'starts on 2021-06-01' in warned[0], warned


def test_too_little_from_the_source_fails_with_the_usual_message(tmp_path, archive):
    archive.first_day = dt.date(2024, 4, 1)   # two months: too few days to train on
    db = connect(tmp_path / 'meteo.db')
    with pytest.raises(ValueError, match=r'only \d+ complete days to train on up to 2024-05-31; need at least 120'):
        predict_job('2024-06-01', db=db, registry=tmp_path / 'registry', client=ArchiveClient(archive.url, retries=0))
    status, step, run_steps = db.execute('SELECT status, step, steps FROM runs').fetchone()
    assert (status, step) == ('failed', 'train')
    assert next(s for s in json.loads(run_steps) if s['step'] == 'ingest')['first_available'] == '2024-04-01'


def test_a_data_file_shorter_than_the_history_asked_for(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger='meteo_forecast'):
        result = predict_job('2021-09-01', data_file=sample_path(PARIS_MULTI), db=tmp_path / 'meteo.db',
                             registry=tmp_path / 'registry')   # the file starts on 2020-12-31, ten years are asked for
    db = connect(tmp_path / 'meteo.db')
    assert db.count('predictions') == 8
    assert steps(db, result['run_id'])['history']['first_available'] == '2020-12-31'
    warned = [r.getMessage() for r in caplog.records if r.levelname == 'WARNING' and 'starts on' in r.getMessage()]
    assert len(warned) == 1 and 'starts on 2020-12-31, not on 2011-09-04' in warned[0], warned   # said once


def test_the_many_cities_command_keeps_to_the_range_of_the_source(tmp_path, archive):
    "A city's backfill (what each Dask worker runs) through a source that holds less than the history asked for."
    archive.first_day = dt.date(2023, 11, 1)
    row = city_backfill(City(PARIS), '2024-06-01', '2024-06-02', history_days=400, db=str(tmp_path / 'meteo.db'),
                        registry=tmp_path / 'registry')
    assert (row['status'], row['days'], row['failed_days']) == ('succeeded', 2, 0), row
    db = connect(tmp_path / 'meteo.db')
    predicts = [r for (r,) in db.execute("SELECT id FROM runs WHERE job = 'predict' ORDER BY id")]
    assert [steps(db, r)['ingest'].get('first_available') for r in predicts] == ['2023-11-01', '2023-11-01']
    assert db.count('predictions') == 16
