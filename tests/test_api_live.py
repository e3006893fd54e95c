"""The API as the image serves it: `CMD` of the Dockerfile run on the host, or, in CI, the pushed container.

With METEO_FORECAST_API_URL set (the CI job `image-api-test` starts the image built from this commit),
the tests call that server and expect `/version` to be EXPECTED_APP_VERSION (the commit id). Without it,
they run the image's own command on this machine, as the image would (same argv and environment, the
port aside), over a database filled by a real predict job, with APP_VERSION set as the build sets it.
"""
import os
import subprocess
import sys

import pytest
import requests

from conftest import ROOT
from servers import free_port, running
from test_image import healthcheck_cmd, image_cmd

COMMIT = '5f0c6c1b2d9e4a7f8b3c2d1e0f9a8b7c6d5e4f3a'
pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def with_port(argv: list[str], port: int) -> list[str]:
    "`argv` with the image's port 8000 replaced by `port` (the only change to the image's command)."
    return [a.replace('8000', str(port)) for a in argv]


@pytest.fixture(scope='module')
def live(request, tmp_path_factory):
    "(base URL, expected /version, forecast day stored, port) of the API as the image runs it."
    if os.environ.get('METEO_FORECAST_API_URL'):
        yield (os.environ['METEO_FORECAST_API_URL'].rstrip('/'), os.environ['EXPECTED_APP_VERSION'],
               os.environ.get('EXPECTED_FORECAST_DATE', '2025-01-01'), None)
        return
    predicted = request.getfixturevalue('predicted')
    port = free_port()
    argv = with_port(image_cmd(), port)
    assert argv[0] == 'uvicorn'
    env = {**os.environ, 'APP_VERSION': COMMIT, 'METEO_FORECAST_DB': str(predicted.db_path),
           'METEO_FORECAST_REGISTRY': str(predicted.folder / 'registry')}
    log = tmp_path_factory.mktemp('image') / 'uvicorn.log'
    with running([sys.executable, '-m', *argv], env, log, f'http://127.0.0.1:{port}/health'):
        yield f'http://127.0.0.1:{port}', COMMIT, '2024-06-01', port


def test_version_is_the_commit_id_passed_to_the_build(live):
    url, expected, _, _ = live
    r = requests.get(url + '/version', timeout=10)
    assert r.status_code == 200 and r.json() == expected


def test_the_image_health_check_passes(live):
    url, _, _, port = live
    health = requests.get(url + '/health', timeout=10)
    assert health.status_code == 200 and health.json()['status'] == 'ok'
    if port is not None:   # the HEALTHCHECK command itself, run on the host against this server
        assert subprocess.run(with_port(healthcheck_cmd(), port), timeout=30).returncode == 0


def test_the_forecasts_of_the_predict_job_are_served(live):
    url, _, day, _ = live
    r = requests.get(url + '/predictions', params={'date': day}, timeout=10)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body['count'] == 8
    assert [p['target_time'][11:13] for p in body['predictions']] == ['00', '03', '06', '09', '12', '15', '18', '21']
    assert all(-40 < p['predicted'] < 45 for p in body['predictions'])
    models = requests.get(url + '/models', timeout=10).json()
    assert models and requests.get(url + f"/models/{models[0]['id']}", timeout=10).status_code == 200


def test_bad_input_is_a_clear_422_and_an_empty_day_a_404(live):
    url, _, _, _ = live
    bad = requests.get(url + '/predictions', params={'date': '2024-13-01'}, timeout=10)
    assert bad.status_code == 422 and 'date' in bad.text
    assert requests.get(url + '/predictions', params={'date': '1999-01-01'}, timeout=10).status_code == 404
    assert requests.get(url + '/models/999999', timeout=10).status_code == 404


def test_the_image_datasette_command_serves_the_database(predicted, tmp_path):
    "compose.yaml's Datasette command, run on the host over a predict job's database (the path and port aside)."
    import yaml
    argv = yaml.safe_load((ROOT / 'compose.yaml').read_text())['services']['datasette']['command']
    port = free_port()
    argv = [str(predicted.db_path) if a == '/data/meteo.db' else a for a in argv]
    argv = [str(port) if a == '8001' else ('127.0.0.1' if a == '0.0.0.0' else a) for a in argv]
    bin_dir = os.path.dirname(sys.executable)
    env = {**os.environ, 'PATH': bin_dir + os.pathsep + os.environ['PATH']}
    url = f'http://127.0.0.1:{port}'
    with running(argv, env, tmp_path / 'datasette.log', url + '/-/versions.json'):
        r = requests.get(url + '/meteo/predictions.json?_shape=array', timeout=10)
        assert r.status_code == 200 and len(r.json()) == 8
        assert requests.get(url + '/meteo/last_runs.json?_shape=array', timeout=5).json()[0]['job'] == 'predict'
