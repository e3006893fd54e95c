"""Batch jobs as operators run them: papermill notebooks, the backfill CLI, reruns and failures, on a SQLite file and on a
PostgreSQL server."""
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import papermill
import pytest

from meteo_forecast.config import sample_path
from meteo_forecast.schema import connect
from meteo_forecast.jobs import job_tracking, predict_job
from meteo_forecast.registry import load_version
from meteo_forecast.tracking import Tracking
from meteo_forecast.openmeteo import ArchiveClient, read_export
from meteo_forecast.standin import Fault

from conftest import MONTH, PARIS_MULTI, ROOT, job_env, run_job

pytestmark = pytest.mark.integration

PREDICT_PARAMETERS = ['date', 'latitude', 'longitude', 'city', 'data_file', 'retrain', 'model', 'history_days', 'days', 'source',
                      'utc_offset_seconds', 'timezone']
TRAIN_PARAMETERS = ['train_end', 'latitude', 'longitude', 'city', 'data_file', 'model', 'history_days', 'gap_hours', 'source',
                    'utc_offset_seconds', 'timezone']


def dump(db):
    "Everything a job writes apart from its run row, to compare two database states."
    return {t: db.execute(f'SELECT * FROM {t} ORDER BY 1, 2').fetchall()
            for t in ('locations', 'observations', 'observations_3h', 'models', 'predictions')}


def last_run(db):
    return db.execute('SELECT job, status, step, error FROM runs ORDER BY id DESC LIMIT 1').fetchone()


@pytest.mark.parametrize('notebook, names', [('predict.ipynb', PREDICT_PARAMETERS), ('train.ipynb', TRAIN_PARAMETERS)])
def test_papermill_finds_the_documented_parameters(notebook, names):
    nb = nbformat.read(ROOT / 'nbs' / notebook, as_version=4)
    tagged = [c for c in nb.cells if 'parameters' in c.metadata.get('tags', [])]
    assert len(tagged) == 1, f"{notebook}: exactly one cell tagged parameters"
    params = papermill.inspect_notebook(str(ROOT / 'nbs' / notebook))
    assert list(params) == names
    assert all(p['help'] and p['inferred_type_name'] != 'None' for p in params.values()), params
    assert 'skip_exec: true' in ''.join(nb.cells[0].source), "nbdev_test must not run a job with its defaults"


def test_predict_job_notebook_stores_the_8_forecasts(predicted):
    db = connect(predicted.db_path)
    rows = db.execute('SELECT target_time, horizon_hours, data_until, model_id, run_id, inputs FROM predictions '
                      'ORDER BY target_time').fetchall()
    assert [r[0][11:13] for r in rows] == ['00', '03', '06', '09', '12', '15', '18', '21']
    assert {r[0][:10] for r in rows} == {'2024-06-01'}
    assert [r[1] for r in rows] == [3, 6, 9, 12, 15, 18, 21, 24]
    assert {r[2] for r in rows} == {'2024-06-01T00:00:00Z'}
    inputs = json.loads(rows[0][5])
    assert inputs['lag_1'] is not None and inputs['mean_1d'] is not None   # forecast from the data, not imputed
    model = db.query('SELECT * FROM models')[0]
    assert {r[3] for r in rows} == {model['id']} and model['train_end'] == '2024-05-31T00:00:00Z'
    assert (model['role'], model['mlflow_model'], model['mlflow_version']) == ('champion', 'paris_48.8566_2.3522_gap0h', 1)
    # the version is in the MLflow store beside the database, its files in the registry folder, its checksum the recorded one
    tracking = Tracking(f"sqlite:///{predicted.folder.resolve()}/mlflow.db")
    source = tracking.get_model_version_download_uri(model['mlflow_model'], '1')
    assert source.startswith((predicted.folder / 'registry').resolve().as_uri())
    assert load_version(tracking, model['mlflow_model'], 1, model['artifact_sha256']).name == 'ridge'
    assert tracking.get_registered_model(model['mlflow_model']).aliases == {'champion': 1}
    assert db.execute('SELECT job, status, step, error FROM runs').fetchall() == [('predict', 'succeeded', 'store', None)]
    steps = json.loads(db.execute('SELECT steps FROM runs').fetchone()[0])
    assert [s['step'] for s in steps] == ['parameters', 'ingest', 'history', 'model', 'train', 'forecast', 'store']
    out = nbformat.read(predicted.output, as_version=4)
    assert any('2024-06-01T21:00:00Z' in o.get('data', {}).get('text/plain', '') for c in out.cells for o in c.get('outputs', []))
    assert not (ROOT / 'nbs' / 'data').exists() and not (ROOT / 'nbs' / 'runs').exists()


def test_nothing_on_or_after_the_day_is_downloaded(tmp_path, archive):
    predict_job('2024-06-01', history_days=200, db=tmp_path / 'm.db', registry=tmp_path / 'r',
                client=ArchiveClient(archive.url, retries=0))
    assert max(q['end_date'] for q in archive.requests) == '2024-05-31'


def test_train_then_predict_from_a_data_file_without_the_archive(tmp_path, monkeypatch):
    env = job_env(tmp_path, 'http://127.0.0.1:9/v1/archive')   # nothing listens there: no download may happen
    data_file = str(sample_path(PARIS_MULTI))
    run_job('train.ipynb', tmp_path / 'train.ipynb', env, train_end='2024-06-09', data_file=data_file, history_days=400)
    run_job('predict.ipynb', tmp_path / 'predict.ipynb', env, date='2024-06-10', data_file=data_file, retrain=False)
    db = connect(tmp_path / 'meteo.db')
    assert db.execute('SELECT job, status FROM runs ORDER BY id').fetchall() == [('train', 'succeeded'), ('predict', 'succeeded')]
    model_ids = db.execute('SELECT id FROM models').fetchall()
    assert len(model_ids) == 1
    assert db.execute('SELECT COUNT(*), MIN(model_id), MIN(target_time) FROM predictions').fetchone() == \
        (8, model_ids[0][0], '2024-06-10T00:00:00Z')
    assert db.execute('SELECT MAX(time), MIN(source) FROM observations').fetchone() == ('2024-06-09T23:00:00Z', PARIS_MULTI)
    assert db.execute('SELECT mlflow_version, role FROM models').fetchall() == [(1, 'champion')]   # trained once, in MLflow


def test_rerunning_a_date_replaces_its_forecasts(tmp_path, database_url):
    data_file = sample_path(PARIS_MULTI)
    kw = dict(data_file=data_file, history_days=400, db=database_url, registry=tmp_path / 'r')
    first = predict_job('2024-06-10', **kw)
    second = predict_job('2024-06-10', **kw)   # retrains: a second model
    db = connect(database_url)
    assert db.execute('SELECT COUNT(*), MIN(model_id), MAX(model_id), MIN(run_id) FROM predictions').fetchone() == \
        (8, second['model_id'], second['model_id'], second['run_id'])
    assert db.count('models') == 2 and first['model_id'] != second['model_id']
    predict_job('2024-06-10', retrain=False, **kw)
    assert db.count('predictions') == 8 and db.count('models') == 2


def test_a_download_failure_leaves_the_database_as_it_was(tmp_path, archive, database_url):
    env = job_env(tmp_path, archive.url, database_url)
    run_job('predict.ipynb', tmp_path / 'ok.ipynb', env, date='2024-06-01', history_days=300)
    db = connect(database_url)
    before = dump(db)
    archive.faults.append(Fault(400, "Parameter 'end_date' is out of allowed range"))
    with pytest.raises(papermill.PapermillExecutionError, match='out of allowed range'):
        run_job('predict.ipynb', tmp_path / 'failed.ipynb', env, date='2024-06-20', history_days=300)
    assert dump(db) == before
    job, status, step, error = last_run(db)
    assert (job, status, step) == ('predict', 'failed', 'ingest')
    assert error.startswith('OpenMeteoError: Open-Meteo answered HTTP 400') and 'out of allowed range' in error
    assert (tmp_path / 'failed.ipynb').exists()   # papermill keeps the executed notebook, with the error in it


def test_a_bad_data_file_leaves_a_failed_run(tmp_path):
    bad = tmp_path / 'export.csv'
    bad.write_text('this is not,an Open-Meteo export\n1,2\n')
    env = job_env(tmp_path, 'http://127.0.0.1:9/v1/archive')
    with pytest.raises(papermill.PapermillExecutionError):
        run_job('predict.ipynb', tmp_path / 'failed.ipynb', env, date='2024-06-01', data_file=str(bad))
    db = connect(tmp_path / 'meteo.db')
    assert last_run(db)[:3] == ('predict', 'failed', 'ingest')
    assert dump(db) == {t: [] for t in ('locations', 'observations', 'observations_3h', 'models', 'predictions')}


def refuse_inserts(db, table: str) -> None:
    "A real database failure on every insert into `table`, as a full disk would give (a trigger, in each engine's dialect)."
    db.execute('DROP TRIGGER IF EXISTS refuse' + (' ON predictions' if db.backend == 'postgresql' else ''))
    if db.backend == 'sqlite':
        db.execute(f"CREATE TRIGGER refuse BEFORE INSERT ON {table} BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END")
        return
    db.execute("CREATE OR REPLACE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
               "'BEGIN RAISE EXCEPTION ''database or disk is full''; END'")
    db.execute(f"CREATE TRIGGER refuse BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION refuse()")


def test_a_failed_step_writes_nothing_and_a_model_file_exists_only_with_its_row(tmp_path, database_url):
    """Each step's writes are one transaction: a failure at the last step keeps the observations and the model of the
    earlier steps (good data), writes no forecast; a failure while recording a model gives it no role: the champion serves."""
    db = connect(database_url)
    kw = dict(data_file=sample_path(PARIS_MULTI), history_days=400, db=db, registry=tmp_path / 'r')
    predict_job('2024-06-10', **kw)
    before = dump(db)
    # a real database failure at the last step (as a full disk would), after the download and the training
    refuse_inserts(db, 'predictions')
    with pytest.raises(Exception, match='disk is full'):
        predict_job('2024-06-11', **kw)
    after = dump(db)
    assert after['predictions'] == before['predictions']                      # the store step wrote nothing
    assert len(after['models']) == len(before['models']) + 1                  # the train step's model is kept ...
    tracking = job_tracking(database_url, tmp_path / 'r')
    rows = db.query('SELECT * FROM models ORDER BY id')
    assert [int(tracking.get_model_version(r['mlflow_model'], str(r['mlflow_version'])).version) for r in rows] == [1, 2]   # ... in MLflow
    job, status, step, error = last_run(db)
    assert (job, status, step) == ('predict', 'failed', 'store') and 'disk is full' in error
    steps = json.loads(db.execute('SELECT steps FROM runs ORDER BY id DESC').scalar())
    assert [s['step'] for s in steps][-3:] == ['train', 'forecast', 'store'] and steps[-1]['failed']
    # now the registration of a model fails: its file is deleted, no row, no model file without a row
    slot = rows[0]['mlflow_model']
    aliases = tracking.get_registered_model(slot).aliases   # the champion, and the retrain the gate refused (too few common days)
    refuse_inserts(db, 'models')
    with pytest.raises(Exception, match='disk is full'):
        predict_job('2024-06-12', **kw)
    assert last_run(db)[:3] == ('predict', 'failed', 'train')
    champion = db.query("SELECT mlflow_model, mlflow_version FROM models WHERE role = 'champion'")[0]
    assert aliases['champion'] == champion['mlflow_version'] and tracking.get_registered_model(slot).aliases == aliases


def test_retrain_false_without_a_model_says_what_to_do(tmp_path):
    with pytest.raises(LookupError, match="no champion in the slot paris_48.8566_2.3522_gap0h of Paris that may forecast 2024-06-10"):
        predict_job('2024-06-10', data_file=sample_path(PARIS_MULTI), retrain=False, db=tmp_path / 'm.db', registry=tmp_path / 'r')
    db = connect(tmp_path / 'm.db')
    assert last_run(db)[:3] == ('predict', 'failed', 'model')
    kept = read_export(sample_path(PARIS_MULTI)).loc[:'2024-06-09 23:00']
    assert db.count('observations') == len(kept)   # the import step's good data is kept for the next run


def test_backfill_of_a_month_fills_the_database(month):
    table = month.table
    assert len(table) == 30 and set(table.status) == {'succeeded'}
    assert table.trained.tolist() == [True] + [False] * 6 + [True] + [False] * 6 + [True] + [False] * 6 + \
        [True] + [False] * 6 + [True] + [False]   # retrained every 7 days
    db = connect(month.db_path)
    assert db.execute('SELECT COUNT(*), COUNT(DISTINCT substr(target_time, 1, 10)), MIN(target_time), MAX(target_time) '
                      'FROM predictions').fetchone() == (240, 30, '2024-06-01T00:00:00Z', '2024-06-30T21:00:00Z')
    assert db.execute("SELECT status, COUNT(*) FROM runs GROUP BY job ORDER BY job").fetchall() == [('succeeded', 1), ('succeeded', 30)]
    assert db.execute('SELECT MAX(time) FROM observations').fetchone()[0] == '2024-06-29T23:00:00Z'
    print(f"backfill of {MONTH[0]}..{MONTH[1]}: {month.seconds:.1f} s")


def test_backfill_cli_shows_progress_and_fails_on_a_bad_day(tmp_path):
    env = {**os.environ, **{k: str(v) for k, v in job_env(tmp_path, 'http://127.0.0.1:9/v1/archive').items()}}
    cli = str(Path(sys.executable).parent / 'meteo_backfill')

    def backfill_cli(start, end, data_file):
        return subprocess.run([cli, '--start', start, '--end', end, '--data_file', str(data_file), '--history_days', '400'],
                              env=env, capture_output=True, text=True, timeout=300)
    done = backfill_cli('2024-06-10', '2024-06-12', sample_path(PARIS_MULTI))
    assert done.returncode == 0, done.stderr[-2000:]
    assert '3 of 3 days forecast' in done.stdout and '1 models trained' in done.stdout
    assert 'backfill Paris: 100%' in done.stderr   # the progress bar
    assert done.stderr.count('INFO meteo_forecast.jobs: backfill run 1: predict 2024-06-1') == 3   # a log line per day
    bad = backfill_cli('2024-06-13', '2024-06-13', tmp_path / 'missing.csv')
    assert bad.returncode == 1 and '0 of 1 days forecast' in bad.stdout and 'does not exist' in bad.stdout


def test_make_run_predicts_then_serves():
    out = subprocess.run(['make', '-n', 'run', 'DATE=2024-06-01', 'DATA_FILE=export.csv', 'CITY=Saint Denis'],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    predict = next(line for line in out.stdout.splitlines() if 'meteo_job predict' in line)
    assert '--runs "runs" -p date 2024-06-01' in predict   # meteo_job names the notebook after the place (test_console.py)
    assert '-p city "Saint Denis"' in predict and '-p data_file "export.csv"' in predict and '-p latitude' not in predict
    assert out.stdout.index('meteo_job') < out.stdout.index('scripts/serve.sh')
