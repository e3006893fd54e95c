"""The REST API over a database filled by a backfill of June 2024, on SQLite and on PostgreSQL: every endpoint, every error."""
import logging
import sqlite3

import numpy as np
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from meteo_forecast.api import create_app, open_readonly
from meteo_forecast.db import Database, transaction
from meteo_forecast.schema import SCHEMA_VERSION, connect

from conftest import PLUMBING_ALGORITHM

pytestmark = pytest.mark.integration

SLOTS = ['00', '03', '06', '09', '12', '15', '18', '21']


@pytest.fixture(scope='module')
def api(month_url):
    "The API over the month, on each engine in turn: every test below runs on both."
    with TestClient(create_app(month_url)) as client:
        yield client


def test_predictions_of_a_day(api):
    r = api.get('/predictions', params={'date': '2024-06-15'})
    assert r.status_code == 200
    body = r.json()
    assert body['date'] == '2024-06-15' and body['count'] == 8
    rows = body['predictions']
    assert [p['target_time'] for p in rows] == [f'2024-06-15T{h}:00:00Z' for h in SLOTS]
    assert [p['horizon_hours'] for p in rows] == [3, 6, 9, 12, 15, 18, 21, 24]
    assert {(p['city'], p['data_until'], p['inputs']) for p in rows} == {('Paris', '2024-06-15T00:00:00Z', None)}
    assert all(5 < p['predicted'] < 35 for p in rows)
    assert all(p['lower_95'] < p['lower_80'] < p['predicted'] < p['upper_80'] < p['upper_95'] for p in rows)   # the intervals
    assert {p['intervals_note'] for p in rows} == {None}   # nothing to explain


def test_temperatures_are_answered_to_a_hundredth(api, month_url):
    rows = api.get('/predictions/observed', params={'start': '2024-06-01', 'end': '2024-06-30'}).json()['rows']
    values = [r[k] for r in rows for k in ('predicted', 'lower_80', 'upper_80', 'lower_95', 'upper_95', 'observed', 'error')]
    assert all(v is None or v == round(v, 2) for v in values) and any(v != round(v, 1) for v in values if v is not None)
    with Database(month_url) as db:   # the database keeps them whole
        stored = db.execute("SELECT predicted FROM predictions WHERE target_time = '2024-06-15T12:00:00Z'").scalar()
    answered = next(r['predicted'] for r in rows if r['target_time'] == '2024-06-15T12:00:00Z')
    assert stored != answered and answered == round(stored, 2)


def test_a_summary_with_nothing_to_score_says_why(api):
    body = api.get('/predictions/observed', params={'start': '2024-06-30', 'end': '2024-06-30'}).json()   # not observed yet
    assert body['count'] == 8 and (body['summary']['count'], body['summary']['mae'], body['summary']['coverage_80']) == (0, None, None)
    assert body['summary']['note'] == ('nothing to score: none of these 8 forecasts has an observation yet '
                                       '(the last observed slot of Paris starts 2024-06-29T21:00:00Z)')
    assert list(body['by_model'].values())[0]['note'] == body['summary']['note']
    june = api.get('/predictions/observed', params={'start': '2024-06-01', 'end': '2024-06-30'}).json()
    assert june['summary']['note'] is None   # every score is there


@pytest.mark.parametrize('params', [{'city': 'PARIS'}, {'location_id': 1}, {'model_id': 3}, {'include_inputs': 'true'}])
def test_predictions_filters(api, params):
    model = api.get('/predictions', params={'date': '2024-06-15'}).json()['predictions'][0]
    if 'model_id' in params: params = {'model_id': model['model_id'], 'model': model['model']}
    r = api.get('/predictions', params={'date': '2024-06-15', **params})
    assert r.status_code == 200 and r.json()['count'] == 8
    if 'include_inputs' in params: assert r.json()['predictions'][0]['inputs']['lag_1'] is not None


@pytest.mark.parametrize('params, detail', [
    ({'date': '2024-07-15'}, 'no forecasts stored for 2024-07-15'),
    ({'date': '2024-06-15', 'city': 'Lyon'}, "no location named 'Lyon'"),
    ({'date': '2024-06-15', 'location_id': 7}, 'no location with id 7'),
    ({'date': '2024-06-15', 'model': 'prophet'}, 'no forecasts stored for 2024-06-15 (model prophet)'),
    ({'date': '2024-06-15', 'model_id': 999}, 'no forecasts stored for 2024-06-15 (model id 999)'),
])
def test_nothing_stored_is_404(api, params, detail):
    r = api.get('/predictions', params=params)
    assert (r.status_code, r.json()) == (404, {'detail': detail})


@pytest.mark.parametrize('path, params', [
    ('/predictions', {}),
    ('/predictions', {'date': 'tomorrow'}),
    ('/predictions', {'date': '2024-13-01'}),
    ('/predictions', {'date': '2024-02-30'}),
    ('/predictions', {'date': '2024-06-01T12:00'}),
    ('/predictions', {'date': '2024-06-01T00:00:00Z'}),
    ('/predictions', {'date': '0'}),
    ('/predictions', {'date': '١٩٧٠-٠١-٠١'}),
    ('/predictions', {'date': '2024-06-01', 'location_id': 'abc'}),
    ('/predictions', {'date': '2024-06-01', 'location_id': 0}),
    ('/predictions', {'date': '2024-06-01', 'location_id': 2 ** 70}),
    ('/predictions', {'date': '2024-06-01', 'model_id': -1}),
    ('/predictions', {'date': '2024-06-01', 'include_inputs': 'maybe'}),
    ('/predictions', {'date': '2024-06-01', 'city': ''}),
    ('/predictions/observed', {'start': '2024-06-01'}),
    ('/predictions/observed', {'start': '2024-06-01', 'end': '30/06/2024'}),
    ('/observations', {'start': '2024-06-01', 'end': '2024-06-02', 'step': '2h'}),
    ('/observations', {'end': '2024-06-02'}),
    ('/models/abc', {}),
    ('/models/0', {}),
    ('/models/99999999999999999999999', {}),
])
def test_malformed_input_is_422_saying_what_is_wrong(api, path, params):
    r = api.get(path, params=params)
    assert r.status_code == 422, r.text
    errors = r.json()['detail']
    assert errors and all(e['msg'] and e['loc'] for e in errors)


@pytest.mark.parametrize('path', ['/predictions/observed', '/observations'])
@pytest.mark.parametrize('start, end, detail', [
    ('2024-06-30', '2024-06-01', 'end 2024-06-01 is before start 2024-06-30'),
    ('2023-06-30', '2024-06-30', 'the period 2023-06-30..2024-06-30 is 367 days long; at most 366 days per request'),
    ('0001-01-01', '9999-12-31', 'the period 0001-01-01..9999-12-31 is 3652059 days long; at most 366 days per request'),
])
def test_bad_periods_are_422(api, path, start, end, detail):
    r = api.get(path, params={'start': start, 'end': end})
    assert (r.status_code, r.json()) == (422, {'detail': detail})


@pytest.mark.parametrize('path', ['/predictions/observed', '/observations'])
@pytest.mark.parametrize('start, end', [('2024-08-01', '2024-08-31'), ('0001-01-01', '0001-01-31'), ('9999-12-01', '9999-12-31')])
def test_periods_with_nothing_stored_are_404(api, path, start, end):
    r = api.get(path, params={'start': start, 'end': end})
    assert r.status_code == 404 and r.json()['detail'].startswith('no ')


def test_predictions_against_observations(api, month_url):
    r = api.get('/predictions/observed', params={'start': '2024-06-01', 'end': '2024-06-30'})
    assert r.status_code == 200
    body = r.json()
    rows = body['rows']
    assert body['count'] == len(rows) == 240
    scored = [x for x in rows if x['observed'] is not None]
    assert len(scored) == 232 and {x['target_time'][:10] for x in rows if x['observed'] is None} == {'2024-06-30'}
    assert all(x['error'] == pytest.approx(x['predicted'] - x['observed'], abs=0.011) for x in scored)   # each to 0.01 °C
    errors = np.array([x['error'] for x in scored])
    s = body['summary']
    assert (s['count'], s['n_days']) == (232, 29)
    assert s['mae'] == pytest.approx(np.abs(errors).mean(), abs=0.01) and s['rmse'] == pytest.approx(np.sqrt((errors ** 2).mean()), abs=0.01)
    assert s['bias'] == pytest.approx(errors.mean(), abs=0.01) and len(s['mae_by_slot']) == 8
    assert list(body['by_model']) == [rows[0]['model']] and body['by_model'][rows[0]['model']] == s
    # the observed values are the stored 3-hour means
    with Database(month_url) as db:
        assert rows[12]['observed'] == round(db.execute('SELECT temperature_2m FROM observations_3h WHERE time = :t',
                                                        {'t': rows[12]['target_time']}).scalar(), 2)
    assert 0.5 < s['mae'] < 2.5   # a day-ahead forecast of Paris in June: about 1 °C
    inside = [x['lower_80'] <= x['observed'] <= x['upper_80'] for x in scored]
    assert s['coverage_80'] == pytest.approx(np.mean(inside), abs=0.01) and 0.5 < s['coverage_80'] <= s['coverage_95'] <= 1


def test_a_period_of_exactly_366_days_is_accepted(api):
    r = api.get('/predictions/observed', params={'start': '2023-07-01', 'end': '2024-06-30', 'city': 'paris', 'model': PLUMBING_ALGORITHM})
    assert r.status_code == 200 and r.json()['count'] == 240


def test_observations(api):
    three = api.get('/observations', params={'start': '2024-06-01', 'end': '2024-06-02'}).json()
    assert (three['step'], three['count'], three['observations'][1]['time']) == ('3h', 16, '2024-06-01T03:00:00Z')
    hourly = api.get('/observations', params={'start': '2024-06-01', 'end': '2024-06-02', 'step': '1h', 'city': 'Paris'}).json()
    assert hourly['count'] == 48 and hourly['units']['temperature_2m'] == '°C'
    t = [o['temperature_2m'] for o in hourly['observations'][3:6]]
    assert three['observations'][1]['temperature_2m'] == pytest.approx(sum(t) / 3, abs=0.005)
    assert hourly['observations'][0]['relative_humidity_2m'] is not None   # the multivariate file's humidity


def test_models(api):
    models = api.get('/models').json()
    assert len(models) == 5 and [m['id'] for m in models] == [5, 4, 3, 2, 1]
    assert {m['gap_hours'] for m in models} == {0} and all(0.5 < m['validation_mae'] < 3 for m in models)
    assert [m['train_end'] for m in models][::-1] == [f'2024-{d}T00:00:00Z' for d in ('05-31', '06-07', '06-14', '06-21', '06-28')]
    one = api.get('/models/1').json()
    assert one['features'] and one['metrics']['validation']['n_days'] == 365 and len(one['artifact_sha256']) == 64
    assert api.get('/models', params={'name': 'prophet'}).json() == []
    assert (api.get('/models/77').status_code, api.get('/models/77').json()) == (404, {'detail': 'no model with id 77'})


def test_health(api):
    h = api.get('/health').json()
    assert h['status'] == 'ok' and h['counts']['predictions'] == 240 and h['schema_version'] == SCHEMA_VERSION
    assert h['last_run']['status'] == 'succeeded' and h['last_observation'] == '2024-06-29T23:00:00Z'


def test_health_and_reads_fail_with_503_when_the_database_cannot_be_read(tmp_path):
    missing = TestClient(create_app(tmp_path / 'missing.db'))
    r = missing.get('/health')
    assert r.status_code == 503 and 'does not exist' in r.json()['detail']
    assert not (tmp_path / 'missing.db').exists()
    sqlite3.connect(tmp_path / 'empty.db').close()   # a file no job has initialised
    empty = TestClient(create_app(tmp_path / 'empty.db'))
    assert empty.get('/health').status_code == 503
    assert empty.get('/predictions', params={'date': '2024-06-01'}).status_code == 503
    old = connect(tmp_path / 'old.db')   # written by an older version: the jobs migrate it, the API says so
    old.execute('DELETE FROM schema_migrations WHERE version = :v', {'v': SCHEMA_VERSION})
    r = TestClient(create_app(tmp_path / 'old.db')).get('/predictions', params={'date': '2024-06-01'})
    assert r.status_code == 503 and 'run any job once' in r.json()['detail']


def test_version_is_a_json_string(api, monkeypatch):
    r = api.get('/version')
    assert r.headers['content-type'] == 'application/json' and r.text == '"0.0.0"'
    monkeypatch.setenv('APP_VERSION', '3f2c1ab')
    assert api.get('/version').json() == '3f2c1ab'


def test_openapi_documents_every_endpoint_with_examples(api):
    spec = api.get('/openapi.json').json()
    assert set(spec['paths']) == {'/health', '/models', '/models/transitions', '/models/{model_id}', '/observations', '/predictions',
                                  '/predictions/observed', '/version'}
    assert 'APP_VERSION' in spec['paths']['/version']['get']['description'] and 'APP_VERSION' in spec['info']['description']
    assert spec['paths']['/version']['get']['responses']['200']['content']['application/json']['schema'] == {'type': 'string', 'title': 'Response Get Version Version Get'}
    for name in ('DayPredictions', 'ObservedPredictions', 'Observations', 'ModelDetail', 'Health'):
        assert spec['components']['schemas'][name]['examples'], name
    assert 'Open-Meteo.com' in spec['info']['description']
    assert api.get('/docs').status_code == 200


def test_the_api_cannot_write(month_url):
    db = open_readonly(month_url)
    with pytest.raises(sa.exc.DBAPIError, match='readonly|read-only'):
        db.execute('DELETE FROM predictions')
    db.close()


def test_reads_while_a_job_holds_the_write_lock(api, month_url):
    with Database(month_url) as writer, transaction(writer):   # a job in the middle of its writes
        writer.execute("UPDATE runs SET status = status")
        assert api.get('/predictions', params={'date': '2024-06-15'}).status_code == 200


def test_a_postgresql_server_that_cannot_be_reached_is_503_without_its_password():
    r = TestClient(create_app('postgresql://meteo:secret@127.0.0.1:1/meteo')).get('/health')
    assert r.status_code == 503 and 'postgresql://meteo:***@127.0.0.1:1/meteo cannot be reached' in r.json()['detail']
    assert 'secret' not in r.text


def test_one_log_line_per_request_and_errors_with_context(api, caplog):
    with caplog.at_level(logging.INFO, logger='meteo_forecast.api'):
        api.get('/predictions', params={'date': '2024-06-15'})
        api.get('/predictions', params={'date': '2024-07-15'})
        api.get('/predictions', params={'date': 'someday'})
    records = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == 'meteo_forecast.api']
    assert records[0] == ('INFO', 'GET /predictions?date=2024-06-15: 8 forecasts')
    assert records[1] == ('WARNING', 'GET /predictions?date=2024-07-15: 404 no forecasts stored for 2024-07-15')
    assert records[2][0] == 'WARNING' and records[2][1].startswith('GET /predictions?date=someday: 422 invalid input: query.date:')
    assert len(records) == 3
