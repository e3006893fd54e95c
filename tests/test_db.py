"""Database properties a job and the API rely on, on both engines."""
import pytest
import sqlalchemy as sa

from meteo_forecast.db import Database, transaction
from meteo_forecast.schema import MIGRATIONS, connect, migrate, schema_version


def test_file_database_is_wal_with_foreign_keys(db, db_path):
    assert db.execute('PRAGMA journal_mode').scalar() == 'wal'
    assert db.execute('PRAGMA foreign_keys').scalar() == 1
    assert db_path.exists()


def test_migrations_run_once(database_url):
    with connect(database_url) as db:
        assert schema_version(db) == len(MIGRATIONS)
    with connect(database_url) as db:
        assert migrate(db) == len(MIGRATIONS)
        assert db.count('schema_migrations') == len(MIGRATIONS)


def test_indexes_on_what_the_api_filters(database_url):
    with connect(database_url) as db:
        inspect = sa.inspect(db.conn)
        indexes = {tuple(i['column_names']) for t in ('predictions', 'models', 'runs', 'locations') for i in inspect.get_indexes(t)}
        assert ('location_id', 'target_time') in indexes and ('latitude', 'longitude') in indexes
        assert inspect.get_pk_constraint('observations')['constrained_columns'] == ['location_id', 'time']


def test_transaction_rolls_back_everything(database_url):
    with connect(database_url) as db:
        with pytest.raises(ZeroDivisionError):
            with transaction(db):
                db.execute("INSERT INTO locations (name, latitude, longitude, created_at) VALUES ('a', 1, 2, '2024-01-01T00:00:00Z')")
                1 / 0
        assert db.count('locations') == 0 and not db.in_transaction


def test_foreign_keys_are_enforced(database_url):
    with connect(database_url) as db, pytest.raises(sa.exc.IntegrityError, match='(?i)foreign key'):
        db.execute("INSERT INTO observations (location_id, time, updated_at) VALUES (42, '2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z')")


def test_times_read_back_as_the_iso_text_they_were_written_as(database_url):
    with connect(database_url) as db:
        db.execute("INSERT INTO runs (job, status, started_at) VALUES ('demo', 'running', :t)", {'t': '2024-06-01T03:00:00Z'})
        assert db.execute('SELECT started_at FROM runs').scalar() == '2024-06-01T03:00:00Z'
        assert db.execute('SELECT COUNT(*) FROM runs WHERE started_at >= :t', {'t': '2024-06-01T02:59:59Z'}).scalar() == 1


def test_two_migrations_at_once_apply_each_migration_once(database_url):
    "Two processes opening a new database at the same time (a CronJob's pods): one migrates, the other waits and finds it done."
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(2) as pool:
        versions = list(pool.map(lambda _: connect(database_url).execute('SELECT MAX(version) FROM schema_migrations').scalar(), range(2)))
    assert versions == [len(MIGRATIONS)] * 2
    with Database(database_url) as db:
        assert db.execute('SELECT COUNT(*), COUNT(DISTINCT version) FROM schema_migrations').fetchone() == (len(MIGRATIONS),) * 2


def _open_new_file(path: str) -> str:
    from meteo_forecast.db import Database
    try:
        with Database(path) as db: db.execute('CREATE TABLE IF NOT EXISTS t (x)')
        return 'ok'
    except Exception as e: return f'{type(e).__name__}: {e}'


def test_two_processes_opening_one_new_sqlite_file_are_never_refused(tmp_path):
    "SQLite refuses the switch to write-ahead logging at once, busy timeout or not, to a second process opening the same new file."
    from multiprocessing import get_context
    with get_context('fork').Pool(2) as pool:
        results = [r for i in range(150) for r in pool.map(_open_new_file, [str(tmp_path / f'{i}.db')] * 2, chunksize=1)]
    assert set(results) == {'ok'}, sorted(set(results) - {'ok'})


# --- Bulk loads: many rows through COPY on PostgreSQL, with the upsert semantics of one statement per row ---

def _bulk_rows(loc: int, times: list[str], temperature, pressure) -> list[dict]:
    return [{'location_id': loc, 'time': t, 'temperature_2m': temperature, 'pressure_msl': pressure, 'updated_at': t} for t in times]


def test_bulk_upserts_keep_the_upsert_semantics(database_url):
    "Revised values are written, a NULL or NaN keeps the stored value when asked and replaces it otherwise, the last of a repeated key wins."
    import numpy as np
    import pandas as pd
    from meteo_forecast.config import Location, iso
    from meteo_forecast.db import COPY_MIN_ROWS, upsert, upsert_location
    n = COPY_MIN_ROWS
    times = [iso(t) for t in pd.date_range('2020-01-01', periods=3 * n, freq='h', tz='UTC')]
    first, second, third = times[:n], times[n:2 * n], times[2 * n:]
    with connect(database_url) as db:
        loc = upsert_location(db, Location(10.0, 20.0, 'bulk'))
        assert upsert(db, 'observations', _bulk_rows(loc, times, 1.0, 1000.0), ['location_id', 'time']) == 3 * n
        upsert(db, 'observations', _bulk_rows(loc, first, 2.0, None) + _bulk_rows(loc, second, np.nan, np.nan), ['location_id', 'time'])
        upsert(db, 'observations', _bulk_rows(loc, third, 3.0, np.nan) + _bulk_rows(loc, third[:1], 4.0, 990.0),
               ['location_id', 'time'], keep_existing_on_null=False)
        stored = db.execute('SELECT time, temperature_2m, pressure_msl FROM observations ORDER BY time').fetchall()
    assert stored == ([(t, 2.0, 1000.0) for t in first] + [(t, 1.0, 1000.0) for t in second]
                      + [(third[0], 4.0, 990.0)] + [(t, 3.0, None) for t in third[1:]])


def test_many_rows_reach_postgresql_without_a_statement_per_row(request, tmp_path):
    "An upsert of thousands of rows is a COPY and one INSERT … SELECT, not an executemany (a round trip per row)."
    import pandas as pd
    from conftest import new_database
    from meteo_forecast.config import Location, iso
    from meteo_forecast.db import upsert, upsert_location
    with connect(new_database(request, 'postgresql', tmp_path)) as db:
        loc = upsert_location(db, Location(10.0, 20.0, 'bulk'))
        times = [iso(t) for t in pd.date_range('2020-01-01', periods=5_000, freq='h', tz='UTC')]
        heard = []
        def listen(conn, cursor, sql, params, context, many): heard.append((sql.split()[0], many))
        sa.event.listen(db.conn.engine, 'before_cursor_execute', listen)
        try: upsert(db, 'observations', _bulk_rows(loc, times, 1.0, 1000.0), ['location_id', 'time'])
        finally: sa.event.remove(db.conn.engine, 'before_cursor_execute', listen)
        assert db.count('observations') == 5_000
    assert not any(many for _, many in heard), heard
    assert [s for s, _ in heard if s == 'INSERT'] == ['INSERT']
