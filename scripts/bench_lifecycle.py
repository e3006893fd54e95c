"""Benchmark of the model lifecycle on every real Open-Meteo file (a benchmark, not a test: minutes per file).

For each file of ../shared/data/openmeteo/ with a whole year at least, in a fresh folder (database, embedded MLflow
store, registry), as an operator would:
1. the daily predict job (papermill nbs/predict.ipynb) for the day after the file, ten years of history: the slot's
   first model, champion;
2. the same job with `-p model persistence`: a candidate offered to the gate;
then checks that the default model is still the champion, that the day is served by it, and prints the gate's figures.

With --overhead it also times what MLflow adds to a daily predict job, in process: importing MLflow after what the job
imports anyway, and every call to the store, logging the models and loading them back (the job itself: predict_job with
its default ten years), for the job that chooses among the whole candidate set (a slot's first, then weekly) and the
next day's (the champion's algorithm alone); once with two_stage as the only candidate (the job before the candidate
set), once with the default set.

    .venv/bin/python scripts/bench_lifecycle.py [--overhead] [--files paris_2014-2024_temperature_2m.csv ...]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FILES = {'paris_2014-2024_temperature_2m.csv': '2025-01-01', 'paris_2020-2024_multivariate.csv': '2025-01-01',
         'centre-france_2024-2025_export.csv': '2026-01-01'}
PLACES = {'centre-france_2024-2025_export.csv': (46.0105, 2.0, 'Centre')}


def job(notebook: str, folder: Path, **parameters) -> float:
    "Run a job notebook with papermill as an operator does, its database and store in `folder`; its wall time."
    env = {**os.environ, 'METEO_FORECAST_DB': str(folder / 'meteo.db'), 'METEO_FORECAST_REGISTRY': str(folder / 'registry')}
    env.pop('MLFLOW_TRACKING_URI', None)
    argv = [str(Path(sys.executable).parent / 'papermill'), str(ROOT / 'nbs' / notebook), str(folder / f'{len(list(folder.glob("*.ipynb")))}.ipynb')]
    for k, v in parameters.items(): argv += ['-p', k, str(v)]
    t0 = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode: raise SystemExit(f"{notebook} {parameters} failed:\n{done.stderr[-3000:]}")
    return time.perf_counter() - t0


def lifecycle(name: str, day: str) -> dict:
    "A default predict job, then one with the persistence model, on `name`; what serves afterwards."
    from meteo_forecast.config import sample_path
    from meteo_forecast.schema import connect
    path = sample_path(name)
    lat, lon, city = PLACES.get(name, (48.8566, 2.3522, 'Paris'))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        where = dict(date=day, data_file=path, latitude=lat, longitude=lon, city=city)
        first = job('predict.ipynb', folder, **where)
        second = job('predict.ipynb', folder, model='persistence', **where)
        db = connect(folder / 'meteo.db')
        models = db.query('SELECT id, name, role, mlflow_version, metrics FROM models ORDER BY id')
        served = {r['name'] for r in db.query("SELECT m.name FROM predictions p JOIN models m ON m.id = p.model_id "
                                               "WHERE p.role = 'champion' AND p.target_time LIKE :day", {'day': f'{day}%'})}
        shadow = {r['name'] for r in db.query("SELECT m.name FROM predictions p JOIN models m ON m.id = p.model_id "
                                               "WHERE p.role = 'challenger' AND p.target_time LIKE :day", {'day': f'{day}%'})}
        move = db.query("SELECT reason FROM model_transitions WHERE action = 'gate' ORDER BY id DESC LIMIT 1")
        return {'file': name, 'day': day, 'roles': [(m['name'], m['role'], m['mlflow_version']) for m in models],
                'served': sorted(served), 'shadow': sorted(shadow), 'gate': move[0]['reason'] if move else None,
                'first_job_seconds': round(first, 1), 'second_job_seconds': round(second, 1),
                'default_stays_champion': models[0]['role'] == 'champion' and models[1]['role'] == 'challenger'
                                          and served == {models[0]['name']}}


def overhead(name: str = 'paris_2014-2024_temperature_2m.csv', day: str = '2024-12-31', candidates: str | None = None) -> dict:
    """Seconds MLflow adds to a daily predict job (ten years), measured in a fresh interpreter: the slot's first job (the
    whole candidate set) and the next one (the champion's algorithm only); `candidates` sets METEO_FORECAST_CANDIDATES."""
    code = f'''
import json, time, tempfile, contextlib
from pathlib import Path
t0 = time.perf_counter()
import numpy, pandas, sklearn, xgboost, sqlalchemy  # noqa: what the job loads anyway
from meteo_forecast import pipeline, two_stage, ingest, openmeteo, schema, scoring, intervals   # noqa
base = time.perf_counter() - t0
t0 = time.perf_counter()
import mlflow, mlflow.pyfunc  # noqa
mlflow_import = time.perf_counter() - t0
from meteo_forecast import tracking, registry, jobs
from meteo_forecast.config import sample_path
spent = {{'calls': 0.0, 'save_model': 0.0, 'load': 0.0}}
lock = tracking.store_lock
@contextlib.contextmanager
def timed_lock(uri):
    t = time.perf_counter()
    with lock(uri): yield
    spent['calls'] += time.perf_counter() - t
tracking.store_lock = timed_lock
def timed(fn, key):
    def wrapper(*a, **k):
        t = time.perf_counter()
        try: return fn(*a, **k)
        finally: spent[key] += time.perf_counter() - t
    return wrapper
registry.save_model = timed(registry.save_model, 'save_model')
import meteo_forecast.lifecycle as lifecycle
lifecycle.save_model = registry.save_model
registry.download_artifacts = timed(registry.download_artifacts, 'load')
runs = []
with tempfile.TemporaryDirectory() as tmp:
    for d in (pandas.Timestamp({day!r}) - pandas.Timedelta(days=1), pandas.Timestamp({day!r})):
        # the day before: the store's and the slot's first job; then the next day, a day like the others
        for key in spent: spent[key] = 0.0
        t0 = time.perf_counter()
        jobs.predict_job(str(d.date()), data_file=sample_path({name!r}), db=Path(tmp) / 'meteo.db', registry=Path(tmp) / 'registry')
        runs.append({{'job_seconds': time.perf_counter() - t0, **spent}})
print(json.dumps({{'imports_before_mlflow': base, 'mlflow_import': mlflow_import, 'first': runs[0], 'daily': runs[1]}}))
'''
    env = {**os.environ, 'OMP_NUM_THREADS': '1', **({'METEO_FORECAST_CANDIDATES': candidates} if candidates else {})}
    out = subprocess.run([sys.executable, '-c', code], cwd=ROOT, capture_output=True, text=True, env=env)
    if out.returncode: raise SystemExit(out.stderr[-3000:])
    m = json.loads(out.stdout.strip().splitlines()[-1])
    for run in (m['first'], m['daily']):   # each daily job is a new process: it imports MLflow once
        run['mlflow_seconds'] = m['mlflow_import'] + run['calls'] + run['save_model'] + run['load']
        run['share_of_job'] = run['mlflow_seconds'] / (run['job_seconds'] + m['mlflow_import'])
    return json.loads(json.dumps(m), parse_float=lambda x: round(float(x), 3))


if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--files', nargs='*', default=list(FILES))
    parser.add_argument('--overhead', action='store_true')
    args = parser.parse_args()
    for name in args.files:
        print(json.dumps(lifecycle(name, FILES[name])), flush=True)
    if args.overhead:   # the daily job before the candidate set (two_stage alone) and with it
        print(json.dumps({'overhead': overhead(candidates='two_stage'), 'candidates': 'two_stage'}), flush=True)
        print(json.dumps({'overhead': overhead(), 'candidates': 'default'}), flush=True)
