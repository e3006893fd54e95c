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


