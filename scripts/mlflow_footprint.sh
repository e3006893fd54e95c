#!/usr/bin/env bash
# What MLflow adds to the job image, measured as the image installs it: the runtime requirements of settings.ini with
# the exact versions of constraints.txt, in a fresh virtual environment, without MLflow, with mlflow-skinny and alembic
# (what the image installs: the client and its SQLite store), and with the full mlflow package (its UI and server).
# Prints the size of each environment's site-packages. Then runs a predict job in the mlflow-skinny environment, to
# show the image's own command works without the full package. Usage: bash scripts/mlflow_footprint.sh [WORKDIR]
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-$(mktemp -d)}
reqs=$(python3 -c "import configparser; c = configparser.ConfigParser(); c.read('settings.ini'); print(' '.join(c['DEFAULT']['requirements'].split()))")
without=$(printf '%s\n' $reqs | grep -v -E '^(mlflow-skinny|alembic)==' | tr '\n' ' ')
size() { du -sm "$1"/lib/python3*/site-packages | cut -f1; }
make_env() {   # name, packages...
  local name=$1; shift
  python3 -m venv "$work/$name"
  "$work/$name/bin/pip" install --quiet -c constraints.txt "$@" 2>&1 | grep -v '^WARNING: Location' || true
}
make_env none $without
make_env skinny $reqs
make_env full $without mlflow==3.17.2
echo "site-packages without MLflow:              $(size "$work/none") MB"
echo "with mlflow-skinny and alembic (the image): $(size "$work/skinny") MB"
echo "with the full mlflow package (the UI):      $(size "$work/full") MB"
"$work/skinny/bin/pip" install --quiet --no-deps . 2>&1 | grep -v '^WARNING: Location' || true
"$work/skinny/bin/python" -c "import mlflow.server" 2>/dev/null && echo "unexpected: the skinny environment has the server" || true
( cd "$work" && METEO_FORECAST_DB="$work/job/meteo.db" METEO_FORECAST_REGISTRY="$work/job/registry" "$work/skinny/bin/python" - <<PY
import time
from meteo_forecast.config import sample_path
from meteo_forecast.jobs import predict_job
t0 = time.perf_counter()
r = predict_job('2025-01-01', data_file=sample_path('paris_2020-2024_multivariate.csv'), history_days=730)
print(f"predict job with mlflow-skinny only: {len(r['forecast'])} forecasts by {r['model']} in {time.perf_counter() - t0:.1f} s")
PY
)
