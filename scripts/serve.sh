#!/usr/bin/env bash
# Serve the REST API (uvicorn) and the Datasette explorer over the same database; Ctrl-C stops both,
# and both stop if either exits. usage: scripts/serve.sh DATABASE HOST API_PORT DATASETTE_PORT
set -euo pipefail
db=$1 host=$2 api_port=$3 ds_port=$4
export METEO_FORECAST_DB=$db
uvicorn api.main:app --host "$host" --port "$api_port" & api=$!
api/datasette/serve.sh "$db" --host "$host" --port "$ds_port" & ds=$!
trap 'kill $api $ds 2>/dev/null || true' INT TERM EXIT
echo "REST API:  http://$host:$api_port/docs   Datasette: http://$host:$ds_port/   (database $db; Ctrl-C stops both)"
wait -n
