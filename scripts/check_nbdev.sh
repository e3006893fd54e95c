#!/usr/bin/env bash
# Fail when nbdev_clean or nbdev_export would change a committed file: notebooks must be clean and
# the package exported from them (generated files are never edited by hand).
set -euo pipefail
snapshot() { find nbs meteo_forecast -type f \( -name '*.ipynb' -o -name '*.py' \) -not -path '*/.ipynb_checkpoints/*' -print0 | sort -z | xargs -0 sha256sum; }
before=$(snapshot)
nbdev_clean
nbdev_export
after=$(snapshot)
if [ "$before" != "$after" ]; then
  echo "nbdev_clean/nbdev_export changed these files; run them and commit the result:" >&2
  diff <(echo "$before") <(echo "$after") | grep '^[<>]' | awk '{print "  " $3}' | sort -u >&2
  exit 1
fi
echo "notebooks clean, package in sync with them"
