"""The Datasette explorer over a backfilled month, with Datasette's own test client: pages, canned queries, dashboard; on the
SQLite file, and on the SQLite snapshot of the same month stored in PostgreSQL."""
import asyncio
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
import yaml
from datasette.app import Datasette
from fastapi.testclient import TestClient

from meteo_forecast.api import create_app
from meteo_forecast.config import backend
from meteo_forecast.snapshot import snapshot

from conftest import PLUMBING_ALGORITHM, ROOT

pytestmark = pytest.mark.integration

METADATA = ROOT / 'api' / 'datasette' / 'metadata.yml'
JUNE = {'start': '2024-06-01', 'end': '2024-06-30'}


@pytest.fixture(scope='module')
def explorer(month_url, tmp_path_factory):
    "A Datasette over the month's database (from PostgreSQL: its snapshot) with the explorer's metadata (plugins as installed)."
    path = month_url
    if backend(month_url) == 'postgresql':
        path = tmp_path_factory.mktemp('snapshot') / 'meteo.db'
        snapshot(month_url, path)
    ds = Datasette([str(path)], metadata=yaml.safe_load(METADATA.read_text()), plugins_dir=str(ROOT / 'api' / 'datasette' / 'plugins'),
                   settings={'max_returned_rows': 10000})
    loop = asyncio.new_event_loop()

    def get(path, **params):
        return loop.run_until_complete(ds.client.get(path, params=params or None))
    yield get
    loop.close()


def text(html: str) -> str:
    "What a card shows of its HTML: the text, tags dropped, spaces collapsed."
    return ' '.join(re.sub(r'<[^>]*>', ' ', html).split())


def rows(response):
    assert response.status_code == 200, response.text[:500]
    return response.json()


def test_index_shows_title_description_source_and_licence(explorer):
    html = explorer('/').text
    assert 'meteo_forecast explorer' in html and 'Weather data by Open-Meteo.com' in html
    assert 'https://creativecommons.org/licenses/by/4.0/' in html and 'CC BY 4.0' in html
    assert '/-/dashboards' in html   # the dashboards menu of datasette-dashboards


def test_database_page_lists_tables_and_canned_queries(explorer):
    page = rows(explorer('/meteo.json'))
    assert {t['name'] for t in page['tables'] if not t['hidden']} == \
        {'locations', 'observations', 'observations_3h', 'models', 'predictions', 'runs', 'model_transitions'}
    assert {q['name'] for q in page['queries']} == {'forecast_vs_observed', 'model_comparison', 'last_runs'}


def test_tables_with_column_descriptions_units_sort_and_facets(explorer):
    html = explorer('/meteo/predictions').text
    assert 'Forecast mean 2 m temperature of the slot, °C' in html and 'Hours from the data cut-off' in html
    page = rows(explorer('/meteo/predictions.json', _shape='objects'))
    assert page['rows'][0]['target_time'] == '2024-06-30T21:00:00Z'   # newest first
    assert set(page['facet_results']) >= {'model_id', 'location_id', 'horizon_hours'}
    assert sum(f['count'] for f in page['facet_results']['model_id']['results']) == 240
    observations = rows(explorer('/meteo/observations.json', _shape='objects', _size='1'))
    assert observations['rows'][0]['time'] == '2024-06-29T23:00:00Z'
    assert 'data-column-description="Air pressure reduced to mean sea level, hPa"' in explorer('/meteo/observations_3h').text
    runs = rows(explorer('/meteo/runs.json', _shape='objects'))
    assert {f['value'] for f in runs['facet_results']['job']['results']} == {'backfill', 'predict'}


def test_canned_query_forecast_vs_observed(explorer):
    out = rows(explorer('/meteo/forecast_vs_observed.json', _shape='objects', **JUNE))['rows']
    assert len(out) == 240 and out[0]['target_time'] == '2024-06-01T00:00:00Z' and out[0]['city'] == 'Paris'
    scored = [r for r in out if r['observed_celsius'] is not None]
    assert len(scored) == 232
    assert all(abs(r['error_celsius'] - (r['predicted_celsius'] - r['observed_celsius'])) < 0.011 for r in scored)
    assert all(r['lower_95_celsius'] <= r['lower_80_celsius'] <= r['predicted_celsius'] <= r['upper_80_celsius'] <= r['upper_95_celsius']
               for r in out)   # every forecast with its intervals
    assert all(r['inside_80'] == (r['lower_80_celsius'] - 0.005 <= r['observed_celsius'] <= r['upper_80_celsius'] + 0.005) for r in scored)
    week = rows(explorer('/meteo/forecast_vs_observed.json', _shape='objects', start='2024-06-01', end='2024-06-07'))['rows']
    assert len(week) == 56 and week[-1]['target_time'] == '2024-06-07T21:00:00Z'


def test_canned_model_comparison_agrees_with_the_api(explorer, month):
    out = rows(explorer('/meteo/model_comparison.json', _shape='objects', **JUNE))['rows']
    assert len(out) == 1
    row = out[0]
    api = TestClient(create_app(month.db_path)).get('/predictions/observed', params=JUNE).json()['summary']
    assert (row['scored'], row['forecasts'], row['models_trained']) == (api['count'], 240, 5)
    assert row['mae_celsius'] == pytest.approx(api['mae'], abs=0.0055)   # the query to 0.001 °C, the API to 0.01 °C
    assert row['rmse_celsius'] == pytest.approx(api['rmse'], abs=0.0055)
    assert row['bias_celsius'] == pytest.approx(api['bias'], abs=0.0055)
    assert (row['coverage_80'], row['coverage_95']) == (pytest.approx(api['coverage_80'], abs=5e-4), pytest.approx(api['coverage_95'], abs=5e-4))


def test_canned_last_runs(explorer):
    out = rows(explorer('/meteo/last_runs.json', _shape='objects'))['rows']
    assert len(out) == 31 and out[0]['job'] == 'predict' and out[0]['id'] > out[-1]['id']
    assert {r['status'] for r in out} == {'succeeded'}


def dashboard_charts(html: str) -> dict:
    "The charts a dashboard page renders: {slug: (chart config, query string)}, as its JavaScript receives them."
    charts, decoder = {}, json.JSONDecoder()
    for m in re.finditer(r"renderChart\('([^']+)', ", html):
        chart, end = decoder.raw_decode(html, m.end())
        qs = re.match(r", '([^']*)'", html[end:]).group(1)
        charts[m.group(1)] = (chart, qs)
    return charts


def chart_data(get, chart: dict, query_string: str) -> list:
    "What dashboards.js fetches for a chart: the database's JSON API with the chart's SQL and the filters."
    params = {'sql': chart['query'], **dict(parse_qsl(query_string)), '_shape': 'objects'}
    return rows(get(f"/{chart['db']}.json", **params))['rows']


def test_dashboard_draws_forecast_against_observed(explorer):
    assert 'Forecast vs observed' in explorer('/-/dashboards').text
    page = explorer('/-/dashboards/forecasts', start='2024-06-01', end='2024-06-07', city='Paris')
    assert page.status_code == 200
    charts = dashboard_charts(page.text)
    assert set(charts) == {'temperature', 'mae', 'scored', 'bias', 'coverage', 'error-by-slot', 'about'}
    temperature = chart_data(explorer, *charts['temperature'])
    series = {r['series'] for r in temperature}
    assert series == {'Paris: observed', f'Paris: forecast ({PLUMBING_ALGORITHM})'}   # each line named after its city
    assert sum(r['series'] == 'Paris: observed' for r in temperature) == 56 and len(temperature) == 112
    forecasts = [r for r in temperature if r['series'] != 'Paris: observed']
    assert all(r['lower_95'] <= r['lower_80'] <= r['temperature_celsius'] <= r['upper_80'] <= r['upper_95'] for r in forecasts)
    band95, band80, line, note = charts['temperature'][0]['display']['layer']   # the 95 % and 80 % bands under the forecast line
    assert (band95['mark']['type'], band95['encoding']['y2'], band80['encoding']['y2']) == ('area', {'field': 'upper_95'}, {'field': 'upper_80'})
    assert line['encoding']['y']['title'] == '2 m temperature (°C)'
    assert (note['mark']['type'], note['encoding']['text']) == ('text', {'field': 'note'})   # what an empty chart says
    coverage = text(chart_data(explorer, *charts['coverage'])[0]['coverage'])   # each card: its value, and what it covers
    assert re.fullmatch(rf'\d+ % / \d+ % Paris · {PLUMBING_ALGORITHM} · 56 forecasts with intervals scored', coverage), coverage
    assert text(chart_data(explorer, *charts['scored'])[0]['scored']) == f'56 Paris · {PLUMBING_ALGORITHM} · of 56 forecasts'
    mae = text(chart_data(explorer, *charts['mae'])[0]['mae'])
    assert 0.3 < float(mae.split(' °C')[0]) < 3 and mae.endswith(f'°C Paris · {PLUMBING_ALGORITHM} · 56 forecasts scored')
    assert re.fullmatch(r'[+-]\d\.\d\d °C Paris · .*', text(chart_data(explorer, *charts['bias'])[0]['bias']))
    assert '<option value="Paris"' in page.text, page.text[page.text.find('<legend>City'):][:400]   # the city selector lists the cities
    # a period with forecasts but no observation yet says so, in a sentence rather than "null °C"
    later = dashboard_charts(explorer('/-/dashboards/forecasts', start='2024-06-30', end='2024-06-30', city='Paris').text)
    unscored = f'Nothing scored yet: none of the 8 forecasts of Paris by {PLUMBING_ALGORITHM} has an observation.'
    assert text(chart_data(explorer, *later['mae'])[0]['mae']) == text(chart_data(explorer, *later['bias'])[0]['bias']) == unscored
    assert text(chart_data(explorer, *later['coverage'])[0]['coverage']) == \
        f'Nothing scored yet: no forecast of Paris by {PLUMBING_ALGORITHM} has an observation to cover.'
    assert chart_data(explorer, *later['error-by-slot']) == [
        {'slot': None, 'series': None, 'mae_celsius': None, 'note': 'Nothing scored yet: no forecast of Paris in this period has an observation.'}]
    assert len(chart_data(explorer, *charts['error-by-slot'])) == 8
    nothing = dashboard_charts(explorer('/-/dashboards/forecasts', start='2024-07-01', end='2024-07-31', city='Paris').text)
    assert [r['note'] for r in chart_data(explorer, *nothing['temperature'])] == ['No forecasts of Paris in this period.']
    everything = dashboard_charts(explorer('/-/dashboards/forecasts', city='').text)   # no filter: the whole history
    assert text(chart_data(explorer, *everything['scored'])[0]['scored']).startswith('232 Paris')
    assert explorer('/-/static-plugins/datasette-dashboards/vega-lite.min.js').status_code == 200   # served locally


def test_visitors_cannot_write(explorer):
    r = explorer('/meteo.json', sql='delete from predictions')
    assert r.status_code == 400 and 'Statement must be a SELECT' in r.text
    queries = yaml.safe_load(METADATA.read_text())['databases']['meteo']['queries']
    assert not any(q.get('write') for q in queries.values())
    assert rows(explorer('/meteo.json', sql='select count(*) as n from predictions', _shape='objects'))['rows'] == [{'n': 240}]


def test_the_documented_command_serves_the_explorer(month, month_url, tmp_path):
    "api/datasette/serve.sh, which `make datasette` runs, with Datasette's --get instead of a server (PostgreSQL: a snapshot)."
    env = {**os.environ, 'PATH': f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           'METEO_FORECAST_SNAPSHOT': str(tmp_path / 'snapshot' / 'meteo.db')}
    done = subprocess.run(['bash', str(ROOT / 'api' / 'datasette' / 'serve.sh'), month_url,
                           '--get', '/meteo/model_comparison.json?start=2024-06-01&end=2024-06-30&_shape=array'],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1])[0]['scored'] == 232
    assert (tmp_path / 'snapshot' / 'meteo.db').exists() == (backend(month_url) == 'postgresql')
    missing = subprocess.run(['bash', str(ROOT / 'api' / 'datasette' / 'serve.sh'), str(month.folder / 'nope.db')],
                             env=env, capture_output=True, text=True, timeout=60)
    assert missing.returncode == 1 and 'does not exist' in missing.stderr


def test_pages_opened_without_parameters_show_the_last_30_days_with_forecasts(explorer):
    "The dashboard (first city) and the canned queries of a period, opened from the home page, open on useful defaults."
    for page, defaults in [('/-/dashboards/forecasts', '?start=2024-06-01&end=2024-06-30&city=Paris'),
                           ('/meteo/forecast_vs_observed', '?start=2024-06-01&end=2024-06-30'),
                           ('/meteo/model_comparison', '?start=2024-06-01&end=2024-06-30')]:
        r = explorer(page)
        assert (r.status_code, r.headers['location']) == (302, defaults), page   # relative: fine behind a proxy
    assert len(rows(explorer('/meteo/forecast_vs_observed.json', _shape='objects', **JUNE))['rows']) == 240
    assert explorer('/meteo/forecast_vs_observed', start='', end='').status_code == 200   # emptied by the visitor: no redirection


def test_cards_escape_what_they_show(explorer):
    out = rows(explorer('/meteo.json', sql="select card('<b>1</b>', 'A,B', 'm', null) as c, card_note('x < y') as n", _shape='objects'))
    card, note = out['rows'][0]['c'], out['rows'][0]['n']
    assert card.startswith('&lt;b&gt;1&lt;/b&gt;<span style="') and card.endswith('">A, B · m</span>')
    assert 'font-size:0.8rem' in note and note.endswith('>x &lt; y</span>')
