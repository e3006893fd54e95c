#!/usr/bin/env bash
# Serve a meteo_forecast database in Datasette with the explorer's metadata, queries and dashboard.
# usage: api/datasette/serve.sh DATABASE [more `datasette serve` options, e.g. --port 8001 or --get /meteo.json]
# The database is opened read-only for visitors (Datasette runs their SQL on a read-only connection
# and offers no writable query); the batch jobs keep writing it. The plugin in plugins/limits.py bounds
# what one visitor's SQL can take (no value over 10 MB, no randomblob/zeroblob/fts3_tokenizer), and
# every query stops after sql_time_limit_ms; a public deployment adds a rate limit in front (README).
# Datasette reads SQLite files only: given a postgresql:// URL, serve.sh first copies that database into a SQLite
# snapshot (meteo_snapshot, to METEO_FORECAST_SNAPSHOT, default data/snapshot/meteo.db) and serves the snapshot.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
db=${1:?usage: serve.sh DATABASE [datasette options]}; shift
case "$db" in
  postgresql://*|postgres://*)
    snapshot=${METEO_FORECAST_SNAPSHOT:-data/snapshot/meteo.db}
    meteo_snapshot "$snapshot" --database "$db" || { echo "serve.sh: no snapshot of the PostgreSQL database: nothing to serve" >&2; exit 1; }
    db=$snapshot ;;
esac
[ -f "$db" ] || { echo "serve.sh: $db does not exist: run a predict job first (make predict)" >&2; exit 1; }
[ "$(basename "$db")" = meteo.db ] || echo "serve.sh: warning: $db is served as '$(basename "${db%.*}")'; the metadata, queries and dashboard are those of a file named meteo.db" >&2
exec datasette serve "$db" --metadata "$here/metadata.yml" --plugins-dir "$here/plugins" \
  --setting max_returned_rows 10000 --setting sql_time_limit_ms 5000 --setting default_page_size 100 \
  --setting facet_time_limit_ms 500 "$@"
