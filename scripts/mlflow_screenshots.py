"""Check in headless Chromium that MLflow's UI shows a production slot (its versions and aliases) and a training run,
and save the screenshots the docs show (nbs/images/mlflow_slot.png, nbs/images/mlflow_training_run.png).

The store is a job's (a database that `make predict` filled, then `make predict MODEL=persistence`, refused by the gate):

    METEO_FORECAST_DB=/tmp/demo/meteo.db METEO_FORECAST_REGISTRY=/tmp/demo/registry make predict DATA_FILE=… DATE=2025-01-01
    METEO_FORECAST_DB=/tmp/demo/meteo.db METEO_FORECAST_REGISTRY=/tmp/demo/registry make predict DATA_FILE=… DATE=2025-01-01 MODEL=persistence
    .venv/bin/python scripts/mlflow_screenshots.py /tmp/demo/mlflow.db paris_48.8566_2.3522_gap3h
"""
import argparse
import os
import re
import sys
import tempfile
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / 'tests'))
from browser import Browser  # noqa: E402  (the page tests' headless Chromium)
from servers import free_port, running  # noqa: E402  (the tests' servers on 127.0.0.1)


def main(store: Path, slot: str, out: Path = ROOT / 'nbs' / 'images') -> None:
    port = free_port()
    base = f'http://127.0.0.1:{port}'
    ui = [str(Path(sys.executable).parent / 'mlflow'), 'ui', '--backend-store-uri', f'sqlite:///{store.resolve()}',
          '--host', '127.0.0.1', '--port', str(port)]
    with tempfile.TemporaryDirectory() as tmp, running(ui, dict(os.environ), Path(tmp) / 'mlflow.log', f'{base}/health', tries=300):
        model = requests.get(f'{base}/api/2.0/mlflow/registered-models/get', params={'name': slot}, timeout=10).json()['registered_model']
        aliases = {a['alias']: a['version'] for a in model.get('aliases', [])}
        run_id = requests.get(f'{base}/api/2.0/mlflow/model-versions/get', params={'name': slot, 'version': aliases['champion']},
                              timeout=10).json()['model_version']['run_id']
        with Browser() as b:
            b.open(f'{base}/#/models/{slot}', 1400, 800, ready=r"/@\s*champion/.test(document.body.innerText)", timeout=120)
            text = b.evaluate('document.body.innerText')
            assert all(re.search(rf'@\s*{alias}', text) for alias in aliases), (aliases, text[:2000])   # every alias shown
            print(f'{slot}: aliases {aliases} shown;', b.screenshot(out / 'mlflow_slot.png').relative_to(ROOT))
            b.open(f'{base}/#/experiments/0/runs/{run_id}', 1400, 900, ready="document.body.innerText.includes('validation_mae')")
            print(f'run {run_id} of version {aliases["champion"]} shown;', b.screenshot(out / 'mlflow_training_run.png').relative_to(ROOT))


if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('store', type=Path, help="the embedded store's SQLite file (mlflow.db beside the jobs' database)")
    parser.add_argument('slot', help='the registered model (production slot) to show')
    args = parser.parse_args()
    main(args.store, args.slot)
