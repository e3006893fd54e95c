"""Database properties a job and the API rely on."""
import sqlite3

import pytest

from meteo_forecast.db import MIGRATIONS, connect, migrate, schema_version, transaction


def test_file_database_is_wal_with_foreign_keys(db, db_path):
    assert db.execute('PRAGMA journal_mode').fetchone()[0] == 'wal'
    assert db.execute('PRAGMA foreign_keys').fetchone()[0] == 1
    assert db_path.exists()


def test_migrations_run_once(db_path):
    db = connect(db_path)
    assert schema_version(db) == len(MIGRATIONS)
    db.conn.close()
    db = connect(db_path)
    assert migrate(db) == len(MIGRATIONS)
    assert db.execute('SELECT COUNT(*) FROM schema_migrations').fetchone()[0] == len(MIGRATIONS)


def test_indexes_on_what_the_api_filters(db):
    indexes = {tuple(i.columns) for t in ('predictions', 'models', 'runs', 'locations') for i in db[t].indexes}
    assert ('location_id', 'target_time') in indexes and ('latitude', 'longitude') in indexes
    assert db['observations'].pks == ['location_id', 'time']


def test_transaction_rolls_back_everything(db):
    with pytest.raises(ZeroDivisionError):
        with transaction(db):
            db.execute("INSERT INTO locations (name, latitude, longitude, created_at) VALUES ('a', 1, 2, 'now')")
            1 / 0
    assert db['locations'].count == 0


def test_foreign_keys_are_enforced(db):
    with pytest.raises(sqlite3.IntegrityError, match='FOREIGN KEY'):
        db.execute("INSERT INTO observations (location_id, time, updated_at) VALUES (42, 't', 'now')")


def test_postgresql_url_is_refused_clearly():
    with pytest.raises(NotImplementedError, match='PostgreSQL is not supported yet'):
        connect('postgresql://user:secret@db.example/meteo')
