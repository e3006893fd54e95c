#!/usr/bin/env bash
# Install the system programs the tests use, when they are missing: a headless Chromium (the API docs and the
# Datasette dashboard rendered offline, tests/test_pages.py) and a PostgreSQL server (the tests that run on both database
# engines start a throwaway one, meteo_forecast.pgserver). Debian's packages, with apt-get; run by .ci/run.
set -euo pipefail
need=()
command -v chromium >/dev/null || command -v chromium-browser >/dev/null || command -v google-chrome >/dev/null || need+=(chromium)
command -v pg_ctl >/dev/null || compgen -G '/usr/lib/postgresql/*/bin/pg_ctl' >/dev/null || need+=(postgresql)
[ ${#need[@]} -eq 0 ] && { echo "system packages: all present"; exit 0; }
if ! command -v apt-get >/dev/null; then
  echo "system packages: missing ${need[*]} and no apt-get: install them by hand (the tests that need them are skipped)" >&2
  exit 0
fi
sudo=$([ "$(id -u)" = 0 ] && echo "" || echo "sudo")
echo "system packages: installing ${need[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
