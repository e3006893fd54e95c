"""A real `uvicorn api.main:app` process on 127.0.0.1, over a database filled by a real papermill predict job."""
import os
import sys

import pytest
import requests

from servers import free_port, running

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


@pytest.fixture
def server(predicted, tmp_path):
    "uvicorn serving api.main:app from the checkout, over the predict job's database, as the README starts it."
    port = free_port()
    env = {**os.environ, 'METEO_FORECAST_DB': str(predicted.db_path), 'APP_VERSION': '3f2c1ab'}
    url = f'http://127.0.0.1:{port}'
    argv = [sys.executable, '-m', 'uvicorn', 'api.main:app', '--host', '127.0.0.1', '--port', str(port)]
    with running(argv, env, tmp_path / 'uvicorn.log', url + '/version'):
        yield url, tmp_path / 'uvicorn.log'


def test_uvicorn_serves_the_forecasts_of_a_predict_job(server):
    url, log = server
    day = requests.get(url + '/predictions', params={'date': '2024-06-01'}, timeout=10)
    assert day.status_code == 200 and day.json()['count'] == 8
    assert [p['target_time'][11:13] for p in day.json()['predictions']] == ['00', '03', '06', '09', '12', '15', '18', '21']
    assert requests.get(url + '/version', timeout=10).json() == '3f2c1ab'
    health = requests.get(url + '/health', timeout=10).json()
    assert health['status'] == 'ok' and health['counts']['predictions'] == 8 and health['last_run']['job'] == 'predict'
    observed = requests.get(url + '/predictions/observed', params={'start': '2024-06-01', 'end': '2024-06-01'}, timeout=10).json()
    assert observed['count'] == 8 and observed['summary']['count'] == 0   # 1 June is not observed yet: ingested up to 31 May
    models = requests.get(url + '/models', timeout=10).json()
    assert requests.get(url + f"/models/{models[0]['id']}", timeout=10).json()['train_end'] == '2024-05-31T00:00:00Z'
    assert requests.get(url + '/observations', params={'start': '2024-05-31', 'end': '2024-05-31'}, timeout=10).json()['count'] == 8
    assert requests.get(url + '/predictions', params={'date': '2024-06-31'}, timeout=10).status_code == 422
    assert requests.get(url + '/predictions', params={'date': '2024-06-02'}, timeout=10).status_code == 404
    assert 'swagger' in requests.get(url + '/docs', timeout=10).text.lower()
    text = log.read_text()
    assert 'INFO meteo_forecast.api: GET /predictions?date=2024-06-01: 8 forecasts' in text
    assert 'WARNING meteo_forecast.api: GET /predictions?date=2024-06-02: 404 no forecasts stored for 2024-06-02' in text
