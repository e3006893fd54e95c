"""Datasette plugin of meteo_forecast: the explorer opens on something to see, and its cards say what they cover.

Loaded by api/datasette/serve.sh (`--plugins-dir`), beside limits.py.

* Defaults. The dashboard and the canned queries of a period, opened without parameters (from the home page,
  say), are sent to the same page with useful ones: the last `PERIOD_DAYS` days that hold forecasts and, for the
  dashboard, the first city by name that has forecasts. The filters then show what the page covers; a visitor
  who empties them asks for everything. The redirection is relative (`?start=…`), so it works behind a proxy
  that serves the explorer under a path of its own.
* Cards. Two SQL functions for the dashboard's metric cards, whose value datasette-dashboards shows in big type
  as HTML: `card(value, cities, models, detail)` is the value with, beneath it in small type, the cities and
  models it covers and a detail; `card_note(sentence)` is a sentence in small type where there is no value (a
  sentence in the big type is cut at the card's edge). Both escape what they are given.
"""
import datetime as dt
import html
from urllib.parse import urlencode

from datasette import hookimpl
from datasette.utils.asgi import asgi_send_redirect

DATABASE = 'meteo'   # the name metadata.yml attaches the queries and the dashboard to (the file data/meteo.db)
PERIOD_DAYS = 30
PAGES = {'/-/dashboards/forecasts': True, f'/{DATABASE}/forecast_vs_observed': False, f'/{DATABASE}/model_comparison': False}
SMALL = 'display:block;margin-top:0.4rem;font-size:0.8rem;font-weight:400;line-height:1.3;white-space:normal'


async def defaults(datasette, with_city: bool) -> dict | None:
    "The last `PERIOD_DAYS` days holding forecasts (of the first city by name that has some, `with_city`); None if none."
    if DATABASE not in datasette.databases: return None
    sql = ('SELECT l.name, MAX(p.target_time) FROM locations l JOIN predictions p ON p.location_id = l.id '
           'GROUP BY l.name ORDER BY l.name LIMIT 1' if with_city else 'SELECT NULL, MAX(target_time) FROM predictions')
    row = (await datasette.get_database(DATABASE).execute(sql)).first()
    if row is None or row[1] is None: return None
    end = dt.date.fromisoformat(row[1][:10])
    period = {'start': str(end - dt.timedelta(days=PERIOD_DAYS - 1)), 'end': str(end)}
    return {**period, 'city': row[0]} if with_city else period


@hookimpl
def asgi_wrapper(datasette):
    def wrap(app):
        async def with_defaults(scope, receive, send):
            if scope['type'] == 'http' and scope['method'] == 'GET' and not scope['query_string'] and scope['path'] in PAGES:
                params = await defaults(datasette, PAGES[scope['path']])
                if params:
                    await asgi_send_redirect(send, '?' + urlencode(params))
                    return
            await app(scope, receive, send)
        return with_defaults
    return wrap


def card(value, cities, models, detail) -> str:
    "A card's `value` in the metric's big type and, beneath it in small type, what it covers: the cities, the models, a detail."
    scope = ' · '.join(html.escape(str(x).replace(',', ', ')) for x in (cities, models, detail) if x not in (None, ''))
    return f'{html.escape(str(value))}<span style="{SMALL}">{scope}</span>'


def card_note(sentence) -> str:
    "A card without a value: a short sentence in small type, which wraps instead of being cut."
    return f'<span style="{SMALL}">{html.escape(str(sentence))}</span>'


@hookimpl
def prepare_connection(conn):
    conn.create_function('card', 4, card, deterministic=True)
    conn.create_function('card_note', 1, card_note, deterministic=True)
