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
from meteo_forecast.config import sample_path
from meteo_forecast.jobs import predict_job

from browser import Browser
from conftest import PLUMBING_ALGORITHM, ROOT
from servers import free_port, running

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
    assert card('mae') == card('bias') == f'Nothing scored yet: none of the 8 forecasts of Paris by {PLUMBING_ALGORITHM} has an observation.'
    assert card('scored') == f'0 Paris · {PLUMBING_ALGORITHM} · of 8 forecasts'
    assert card('coverage') == f'Nothing scored yet: no forecast of Paris by {PLUMBING_ALGORITHM} has an observation to cover.'
    assert '<option value="Paris" selected="">Paris</option>' in dashboard   # the city selector lists the cities


# --- The dashboard as a visitor sees it, in a real browser: one city at a time, every line of one city, nothing cut ---

DASHBOARD_DRAWN = "document.querySelectorAll('#chart-temperature svg.marks, #chart-error-by-slot svg.marks').length == 2 && " \
                  "document.querySelectorAll('#chart-mae p, #chart-bias p, #chart-coverage p, #chart-scored p').length == 4"


@pytest.fixture(scope='module')
def two_cities(predicted, tmp_path_factory):
    "Datasette (serve.sh) over the predict job's Paris database plus a real forecast of the same day for the centre of France."
    folder = tmp_path_factory.mktemp('two_cities')
    db_path = folder / 'meteo.db'
    db_path.write_bytes(predicted.db_path.read_bytes())
    predict_job('2024-06-01', data_file=sample_path('centre-france_2024-2025_export.csv'), city='Centre of France',
                db=db_path, registry=folder / 'registry')
    port = free_port()
    env = {**os.environ, 'PATH': f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    ds = ['bash', str(ROOT / 'api' / 'datasette' / 'serve.sh'), str(db_path), '--port', str(port)]
    with running(ds, env, folder / 'datasette.log', f'http://127.0.0.1:{port}/-/versions.json'):
        yield f'http://127.0.0.1:{port}', folder


def chart_legend(browser: Browser, chart: str) -> list[str]:
    "The series a chart's legend names (vega draws SVG here: its labels are text in the page)."
    return browser.evaluate(f"[...document.querySelectorAll('#chart-{chart} .role-legend-label text')].map(t => t.textContent)")


def drawn_lines(browser: Browser) -> int:
    "The lines the temperature chart drew: one path per series."
    return browser.evaluate("document.querySelectorAll('#chart-temperature .mark-line path').length")


@pytest.mark.skipif(CHROMIUM is None, reason='no Chromium on this machine (.ci/run installs it)')
def test_the_dashboard_shows_one_city_at_a_time_and_never_blends_them(two_cities):
    ds, folder = two_cities
    cities = ['Centre of France', 'Paris']
    with Browser() as browser:
        browser.open(ds + '/-/dashboards/forecasts', 1400, 900, DASHBOARD_DRAWN)   # as the home page links it: no parameters
        assert browser.evaluate('location.search') == '?start=2024-05-03&end=2024-06-01&city=Centre+of+France'   # the first city
        assert browser.evaluate("document.querySelector('#city').value") == 'Centre of France'
        assert chart_legend(browser, 'temperature') == [f'Centre of France: forecast ({PLUMBING_ALGORITHM})'] and drawn_lines(browser) == 1
        browser.screenshot(folder / 'dashboard_first_city.png')
        browser.open(ds + '/-/dashboards/forecasts?start=2024-06-01&end=2024-06-01&city=', 1400, 900, DASHBOARD_DRAWN)   # every city
        legend = chart_legend(browser, 'temperature')
        assert sorted(legend) == [f'{city}: forecast ({PLUMBING_ALGORITHM})' for city in cities]   # a line per city, named after it
        assert drawn_lines(browser) == len(legend) == 2
        cards = browser.evaluate("['mae', 'scored'].map(c => document.querySelector('#chart-' + c).innerText)")
        assert all('Centre of France' in c and 'Paris' in c for c in cards), cards   # the cards say what they cover
        browser.screenshot(folder / 'dashboard_every_city.png')


CLIPPED = """[...document.querySelectorAll('.dashboard-card')].flatMap(card => {
  const box = card.getBoundingClientRect();
  const cut = [card, ...card.querySelectorAll('div, p, span')]   // text wider than the box that hides its overflow
    .filter(e => e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflow != 'visible').map(e => e.innerText);
  const out = [...card.querySelectorAll('svg text')].filter(t => t.textContent.trim())   // a chart's text outside its card
    .filter(t => { const r = t.getBoundingClientRect(); return r.left < box.left - 1 || r.right > box.right + 1; }).map(t => t.textContent);
  return [...cut, ...out].map(text => card.id + ': ' + text); })"""


@pytest.mark.skipif(CHROMIUM is None, reason='no Chromium on this machine (.ci/run installs it)')
@pytest.mark.parametrize('width', [1400, 1920])
def test_an_empty_dashboard_says_so_in_small_sentences_that_are_never_cut(two_cities, width):
    ds, folder = two_cities
    with Browser() as browser:   # 1 June: forecast, not observed yet
        browser.open(ds + '/-/dashboards/forecasts?start=2024-06-01&end=2024-06-01&city=Paris', width, 900, DASHBOARD_DRAWN)
        assert browser.evaluate(CLIPPED) == []   # no text wider than the box that shows it
        notes = browser.evaluate("""['mae', 'bias', 'coverage'].map(c => {
            const s = document.querySelector('#chart-' + c + ' p span');
            return [s.innerText, parseFloat(getComputedStyle(s).fontSize)]; })""")
        assert all(text.startswith('Nothing scored yet: ') and size <= 14 for text, size in notes), notes   # small type
        assert browser.evaluate("document.querySelector('#chart-error-by-slot').textContent").count(
            'Nothing scored yet: no forecast of Paris in this period has an observation.') == 1
        assert chart_legend(browser, 'error-by-slot') == []   # no empty legend
        browser.screenshot(folder / f'dashboard_empty_{width}.png')
