"""Datasette plugin of meteo_forecast: bound what one visitor's SQL can take from the explorer.

Loaded by api/datasette/serve.sh (`--plugins-dir`). Datasette's own `sql_time_limit_ms` stops a query that runs
too long (it checks a progress handler every 1,000 SQLite instructions), but not one that asks SQLite to build a
huge value in a single instruction: `select length(randomblob(1000000000))` allocates 1 GB at once. So every
connection Datasette opens gets:

* a limit on the length of any string or blob a query builds (`SQLITE_LIMIT_LENGTH`, 10 MB): such a query fails
  at once with "string or blob too big";
* a limit on the length of the SQL text itself (100,000 characters);
* an authorizer that refuses the functions a visitor has no use for and that can hurt: `randomblob` and
  `zeroblob` (memory), `fts3_tokenizer` (a pointer into the process), `load_extension`, `readfile`, `writefile`.

Table pages, facets, the canned queries and the dashboards use none of them, and keep working.
"""
import sqlite3

from datasette import hookimpl

MAX_LENGTH = 10_000_000
MAX_SQL_LENGTH = 100_000
DENIED_FUNCTIONS = frozenset({'randomblob', 'zeroblob', 'fts3_tokenizer', 'load_extension', 'readfile', 'writefile'})


def authorizer(action, arg1, arg2, db_name, trigger):
    "Deny the calls of `DENIED_FUNCTIONS`; allow everything else (Datasette's connections are read-only anyway)."
    if action == sqlite3.SQLITE_FUNCTION and (arg2 or '').lower() in DENIED_FUNCTIONS:
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


@hookimpl
def prepare_connection(conn):
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_LENGTH)
    conn.setlimit(sqlite3.SQLITE_LIMIT_SQL_LENGTH, MAX_SQL_LENGTH)
    conn.set_authorizer(authorizer)
