"""The pages people open, offline: the API's interactive docs, Datasette and its dashboard load nothing from outside,
and render in a real headless browser (Chromium, installed by .ci/run) on a machine without internet."""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from fastapi.testclient import TestClient

from meteo_forecast.api import create_app

from conftest import ROOT, free_port, running

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]
ASSET = re.compile(r'''<(?:script|link|img)\b[^>]*?(?:src|href)=["']([^"']+)["']''', re.I)
CHROMIUM = shutil.which('chromium') or shutil.which('chromium-browser') or shutil.which('google-chrome')


def assets(html: str) -> list[str]:
    "Scripts, styles and images a page loads (links to other pages aside)."
    return [a for a in ASSET.findall(html) if not a.startswith('#')]


def local(url: str, origin: str = '') -> bool:
    "A relative URL, or one of the server itself."
    return not re.match(r'(?:https?:)?//', url) or bool(origin) and url.startswith(origin + '/')


def test_the_api_docs_load_their_scripts_from_the_api(predicted):
    api = TestClient(create_app(predicted.db_path))
    for page in ('/docs', '/redoc'):
        html = api.get(page).text
        found = assets(html)
        assert found and all(local(a) for a in found), (page, found)
        assert all(api.get(a).status_code == 200 for a in found), page
        assert not re.search(r'https?://(?!127\.0\.0\.1)[^"\'\s]*\.(?:js|css)', html), page   # nothing fetched by script either


@pytest.fixture(scope='module')
def servers(predicted, tmp_path_factory):
    "The API (uvicorn, as the image runs it) and Datasette (serve.sh), over a predict job's database."
    folder = tmp_path_factory.mktemp('pages')
    api_port, ds_port = free_port(), free_port()
    env = {**os.environ, 'METEO_FORECAST_DB': str(predicted.db_path),
           'PATH': f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    api = [sys.executable, '-m', 'uvicorn', 'api.main:app', '--host', '127.0.0.1', '--port', str(api_port)]
    ds = ['bash', str(ROOT / 'api' / 'datasette' / 'serve.sh'), str(predicted.db_path), '--port', str(ds_port)]
    with running(api, env, folder / 'api.log', f'http://127.0.0.1:{api_port}/version'), \
         running(ds, env, folder / 'datasette.log', f'http://127.0.0.1:{ds_port}/-/versions.json'):
        yield f'http://127.0.0.1:{api_port}', f'http://127.0.0.1:{ds_port}', folder


DASHBOARD = '/-/dashboards/forecasts?start=2024-05-30&end=2024-06-01&city=Paris'


def test_datasette_and_its_dashboard_load_their_assets_from_datasette(servers):
    _, ds, _ = servers
    for page in ('/', '/meteo', '/meteo/predictions', '/-/dashboards', DASHBOARD):
        r = requests.get(ds + page, timeout=30)
        found = assets(r.text)
        assert r.status_code == 200 and all(local(a, ds) for a in found), (page, [a for a in found if not local(a, ds)])
        for a in found:
            url = a if a.startswith(ds) else ds + a if a.startswith('/') else f'{ds}/{a}'
            assert requests.get(url, timeout=30).status_code == 200, a


def render(url: str, profile: Path) -> str:
    "The page as a headless Chromium renders it (its DOM after the scripts ran), with no network but the local servers."
    done = subprocess.run([CHROMIUM, '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                           '--disable-background-networking', '--disable-component-update', '--disable-sync',
                           f'--user-data-dir={profile}', '--virtual-time-budget=15000', '--dump-dom', url],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.skipif(CHROMIUM is None, reason='no Chromium on this machine (.ci/run installs it)')
def test_the_pages_render_in_a_headless_browser(servers):
    api, ds, folder = servers
    swagger = render(api + '/docs', folder / 'chrome')
    drawn = set(re.findall(r'data-path="([^"]+)"', swagger))
    assert drawn == {'/predictions', '/predictions/observed', '/observations', '/models', '/models/transitions', '/models/{model_id}',
                     '/health', '/version'}
    redoc = render(api + '/redoc', folder / 'chrome')
    assert 'Forecasts of the days' in redoc and 'redoc-wrap' in redoc   # ReDoc drew the spec
    dashboard = render(ds + DASHBOARD, folder / 'chrome')
    assert dashboard.count('role="graphics-document"') == 2   # vega drew the two charts (an invalid spec draws none)
    assert 'forecasts with their 80 % (darker) and 95 % intervals' in dashboard   # the layered chart, bands and line
    def card(slug: str) -> str:
        "The text a metric card shows."
        html = dashboard.split(f'id="chart-{slug}"', 1)[1].split('>', 1)[1].split('id="card-', 1)[0]
        return ' '.join(re.sub(r'<[^>]*>?', ' ', html).split())
    # the period's one day has forecasts and no observation yet: the cards say so (they said "null °C")
    assert card('mae') == card('bias') == 'no observations yet for this period'
    assert card('scored') == '0'
    assert card('coverage') == 'no observed forecasts with intervals'
    assert '<option value="Paris" selected="">Paris</option>' in dashboard   # the city selector lists the cities
