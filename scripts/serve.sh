#!/usr/bin/env bash
# Serve the REST API (uvicorn) and the Datasette explorer over the same database, their logs in LOG_DIR; both stop if
# either exits, and Ctrl-C stops both with exit status 0 and one line.
# usage: scripts/serve.sh DATABASE HOST API_PORT DATASETTE_PORT [LOG_DIR, default runs]
set -uo pipefail
db=$1 host=$2 api_port=$3 ds_port=$4 logs=${5:-runs}
export METEO_FORECAST_DB=$db
mkdir -p "$logs"
# On a terminal, the servers run as a job of their own (job control): Ctrl-C reaches them and not make, which would
# otherwise die of the signal (exit status 130) after they stopped cleanly.
[ -t 0 ] && set -m

servers() {
  uvicorn api.main:app --host "$host" --port "$api_port" >"$logs/api.log" 2>&1 & local api=$!
  api/datasette/serve.sh "$db" --host "$host" --port "$ds_port" >"$logs/datasette.log" 2>&1 & local ds=$!
  stop() { trap '' INT TERM; kill "$api" "$ds" 2>/dev/null; wait; }
  trap 'stop; echo "stopped the REST API and Datasette (logs in $logs/api.log, $logs/datasette.log)"; exit 0' INT TERM
  echo "REST API:  http://$host:$api_port/docs   Datasette: http://$host:$ds_port/   (database $db; Ctrl-C stops both)"
  wait -n; local status=$?
  stop
  echo "a server stopped by itself (exit status $status): see $logs/api.log and $logs/datasette.log" >&2
  exit $(( status ? status : 1 ))
}
( servers )
