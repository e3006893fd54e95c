"""The model lifecycle end to end on real data through the stand-in: the promotion gate, shadow forecasts, promote and
roll back from the command line, lineage from a forecast to its MLflow run, jobs side by side on the embedded store,
and a tracking store that cannot be reached."""
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient
from mlflow import MlflowClient

from meteo_forecast.api import create_app
from meteo_forecast.config import sample_path
from meteo_forecast.jobs import predict_job, train_job
from meteo_forecast.openmeteo import ArchiveClient
from meteo_forecast.schema import connect
from meteo_forecast.tracking import EXPERIMENTS, TrackingUnavailable

from conftest import PARIS_MULTI, ROOT, TEST_HISTORY_DAYS, job_env

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group('lifecycle'), pytest.mark.timeout(600)]
SLOT = 'paris_48.8566_2.3522_gap0h'
CLI = str(Path(sys.executable).parent / 'meteo_model')


def store(folder: Path) -> MlflowClient:
    "MLflow's own client on the embedded store beside a job's database in `folder`."
    uri = f"sqlite:///{folder.resolve()}/mlflow.db"
    return MlflowClient(uri, registry_uri=uri)


@pytest.fixture(scope='module')
def lifecycle(tmp_path_factory, session_archive):
    """A slot's life for Paris, gap 0 h: a persistence model first (champion), the production model two_stage (passes the
    gate), two_stage on too short a history and a persistence again (both refused: challengers), then the day
    forecast by the champion with the challenger in shadow."""
    folder = tmp_path_factory.mktemp('lifecycle')
    client = ArchiveClient(session_archive.url, retries=1, backoff=0.01)
    kw = dict(db=folder / 'meteo.db', registry=folder / 'registry', client=client)
    steps = SimpleNamespace(folder=folder, kw=kw)
    steps.first = predict_job('2024-06-01', model='persistence', history_days=TEST_HISTORY_DAYS, **kw)
    steps.better = train_job('2024-05-31', model='two_stage', history_days=TEST_HISTORY_DAYS, **kw)
    steps.short = train_job('2024-05-31', model='two_stage', history_days=400, **kw)
    steps.baseline = train_job('2024-05-31', model='persistence', history_days=TEST_HISTORY_DAYS, **kw)
    steps.shadow = predict_job('2024-06-01', retrain=False, history_days=TEST_HISTORY_DAYS, **kw)
    return steps


def test_the_gate_promotes_a_better_model_and_keeps_worse_ones_as_challengers(lifecycle):
    db = connect(lifecycle.folder / 'meteo.db')
    moves = db.query('SELECT action, role, from_version, to_version, reason FROM model_transitions ORDER BY id')
    assert [(m['action'], m['role'], m['from_version'], m['to_version']) for m in moves] == [
        ('first', 'champion', None, 1), ('gate', 'champion', 1, 2), ('gate', 'challenger', None, 3), ('gate', 'challenger', 3, 4)]
    assert moves[1]['reason'].startswith('not worse than the champion')
    assert moves[2]['reason'].startswith('worse than the champion') and moves[3]['reason'].startswith('worse than the champion')
    assert (lifecycle.better['role'], lifecycle.short['role'], lifecycle.baseline['role']) == ('champion', 'challenger', 'challenger')
    # both sides of each decision were scored on the same out-of-sample days, recorded on the candidate's MLflow run
    mlflow = store(lifecycle.folder)
    runs = {m['mlflow_version']: mlflow.get_run(m['mlflow_run_id']).data for m in db.query('SELECT * FROM models')}
    days = {v: r.tags.get('gate.days') for v, r in runs.items()}
    print('the days each candidate and its champion were both scored on:', days)
    assert days[2] == days[4] == '2023-06-02..2024-05-31'                   # a year of validation: the same 365 days
    assert days[3] == '2024-04-02..2024-05-31' and runs[3].metrics['gate_n_days'] == 60   # too short a history: 60 days
    assert runs[4].metrics['gate_relative'] > 0.2 and runs[4].metrics['gate_p_value'] < 0.001
    assert runs[2].metrics['gate_relative'] < 0                               # better than the persistence it replaced
    assert 'base.seasonal' in runs[2].params and 'base' not in runs[2].params   # the fitted model's parameters (its base's), not an unfitted copy's
    assert mlflow.get_registered_model(SLOT).aliases == {'champion': 2, 'challenger': 4}


def test_a_day_with_a_challenger_stores_both_and_the_api_serves_the_champion(lifecycle):
    db = connect(lifecycle.folder / 'meteo.db')
    assert db.query("SELECT p.role, m.name, m.mlflow_version AS version, COUNT(*) AS n FROM predictions p "
                    "JOIN models m ON m.id = p.model_id WHERE p.target_time LIKE '2024-06-01%' GROUP BY p.role, m.name, m.mlflow_version "
                    "ORDER BY p.role") == [{'role': 'challenger', 'name': 'persistence', 'version': 4, 'n': 8},
                                           {'role': 'champion', 'name': 'two_stage', 'version': 2, 'n': 8}]
    api = TestClient(create_app(str(lifecycle.folder / 'meteo.db')))
    served = api.get('/predictions', params={'date': '2024-06-01'}).json()['predictions']
    shadow = api.get('/predictions', params={'date': '2024-06-01', 'role': 'challenger'}).json()['predictions']
    assert {(p['model'], p['role']) for p in served} == {('two_stage', 'champion')} and len(served) == 8
    assert {(p['model'], p['role']) for p in shadow} == {('persistence', 'challenger')} and len(shadow) == 8
    assert [p['predicted'] for p in served] != [p['predicted'] for p in shadow]
    roles = {m['mlflow_version']: m['role'] for m in api.get('/models', params={'city': 'Paris'}).json()}
    assert roles == {1: 'retired', 2: 'champion', 3: 'retired', 4: 'challenger'}


def test_a_forecast_traces_to_its_mlflow_run_parameters_and_metrics_through_the_api(lifecycle):
    api = TestClient(create_app(str(lifecycle.folder / 'meteo.db')))
    forecast = api.get('/predictions', params={'date': '2024-06-01'}).json()['predictions'][0]
    model = api.get(f"/models/{forecast['model_id']}").json()
    run = store(lifecycle.folder).get_run(model['mlflow_run_id'])
    assert run.info.status == 'FINISHED'
    assert (run.data.params['algorithm'], run.data.params['train_end'], run.data.params['gap_hours']) == \
        (model['name'], model['train_end'], str(model['gap_hours']))
    assert run.data.tags['city'] == 'Paris' and run.data.tags['job'] == 'train'
    assert run.data.metrics['validation_mae'] == pytest.approx(model['validation_mae'], abs=0.005)   # the API answers to 0.01 °C
    assert model['artifact_path'] == f"models:/{SLOT}/{model['mlflow_version']}"
    assert store(lifecycle.folder).get_model_version(SLOT, str(model['mlflow_version'])).run_id == run.info.run_id


def test_promote_then_roll_back_from_the_command_line(lifecycle):
    env = {**os.environ, 'METEO_FORECAST_DB': str(lifecycle.folder / 'meteo.db'),
           'METEO_FORECAST_REGISTRY': str(lifecycle.folder / 'registry')}
    env.pop('MLFLOW_TRACKING_URI', None)
    def cli(*args):
        done = subprocess.run([CLI, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout
    kw = {**lifecycle.kw, 'history_days': TEST_HISTORY_DAYS}
    promoted = cli('promote', '--city', 'Paris', '--reason', 'better in shadow')
    assert f'{SLOT} (gap 0 h)' in promoted and 'champion' in promoted
    assert predict_job('2024-06-02', retrain=False, **kw)['model'] == 'persistence'    # the served model changed
    cli('rollback', '--city', 'Paris', '--reason', 'persistence drifts')
    assert predict_job('2024-06-03', retrain=False, **kw)['model'] == 'two_stage'      # and came back
    api = TestClient(create_app(str(lifecycle.folder / 'meteo.db')))
    served = {d: api.get('/predictions', params={'date': d}).json()['predictions'][0]['model'] for d in ('2024-06-02', '2024-06-03')}
    assert served == {'2024-06-02': 'persistence', '2024-06-03': 'two_stage'}
    moves = api.get('/models/transitions', params={'city': 'Paris'}).json()
    assert [(m['action'], m['role'], m['from_version'], m['to_version'], m['reason']) for m in moves[:3]] == [
        ('rollback', 'champion', 4, 2, 'persistence drifts'), ('promote', 'challenger', 4, None, 'better in shadow'),
        ('promote', 'champion', 2, 4, 'better in shadow')]
    assert '@' in moves[0]['actor']                               # the operator, as user@host
    history = cli('history', '--city', 'Paris')
    assert 'rollback' in history and 'persistence drifts' in history
    assert store(lifecycle.folder).get_registered_model(SLOT).aliases == {'champion': 2}


def test_a_tracking_store_that_cannot_be_reached_stops_a_job_in_one_line_before_it_writes(tmp_path, monkeypatch):
    kw = dict(data_file=sample_path(PARIS_MULTI), model='persistence', history_days=400, db=tmp_path / 'meteo.db',
              registry=tmp_path / 'registry')
    monkeypatch.setenv('MLFLOW_TRACKING_URI', 'http://127.0.0.1:9')
    with pytest.raises(TrackingUnavailable) as failure:
        predict_job('2024-06-10', **kw)
    assert len(str(failure.value).splitlines()) == 1
    assert str(failure.value).startswith('cannot use the MLflow tracking store http://127.0.0.1:9')
    assert not (tmp_path / 'meteo.db').exists()                   # nothing written, not even a run row
    monkeypatch.delenv('MLFLOW_TRACKING_URI')
    again = predict_job('2024-06-10', **kw)                       # the rerun picks up cleanly
    db = connect(tmp_path / 'meteo.db')
    assert db.execute('SELECT job, status FROM runs').fetchall() == [('predict', 'succeeded')]
    assert again['trained'] and db.count('predictions') == 8


JOB = ("import sys\nfrom meteo_forecast.jobs import predict_job\n"
       "r = predict_job('2025-01-01', latitude=float(sys.argv[1]), longitude=float(sys.argv[2]), city=sys.argv[3], "
       "data_file=sys.argv[4], history_days=400)\nprint(r['model_id'])")


@pytest.mark.new_mlflow_store
def test_two_jobs_side_by_side_log_every_run_to_the_embedded_store(tmp_path, session_archive, database_url):
    env = {**os.environ, **{k: str(v) for k, v in job_env(tmp_path, session_archive.url, database_url).items()}}
    env.pop('MLFLOW_TRACKING_URI', None)
    places = [('48.8566', '2.3522', 'Paris', str(sample_path(PARIS_MULTI))),
              ('46.0105', '2.0', 'Centre', str(sample_path('centre-france_2024-2025_export.csv')))]
    jobs = [subprocess.Popen([sys.executable, '-c', JOB, *p], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True) for p in places]
    outputs = [j.communicate(timeout=400) for j in jobs]
    assert [j.returncode for j in jobs] == [0, 0], [o[1][-2000:] for o in outputs]
    assert not any('database is locked' in o[1] for o in outputs)
    mlflow = store(tmp_path)
    experiment = mlflow.get_experiment_by_name(EXPERIMENTS['jobs'])
    runs = mlflow.search_runs([experiment.experiment_id])
    assert sorted((r.data.tags['city'], r.info.status) for r in runs) == [('Centre', 'FINISHED'), ('Paris', 'FINISHED')]
    models = {m.name.split('_gap')[0]: m.aliases for m in mlflow.search_registered_models()}   # each city's slot of its data's gap
    assert models == {'paris_48.8566_2.3522': {'champion': 1}, 'centre_46.0105_2.0000': {'champion': 1}}
    db = connect(database_url)
    assert db.execute("SELECT COUNT(*) FROM models WHERE role = 'champion'").scalar() == 2
    assert db.execute("SELECT COUNT(*) FROM runs WHERE job = 'predict' AND status = 'succeeded'").scalar() == 2


def test_the_candidate_set_trains_scores_and_offers_the_best_then_the_champions_algorithm_in_between(tmp_path, monkeypatch):
    monkeypatch.setenv('METEO_FORECAST_CANDIDATES', 'persistence,climatology,ridge')
    kw = dict(data_file=sample_path(PARIS_MULTI), history_days=500, db=tmp_path / 'meteo.db', registry=tmp_path / 'registry')
    first = train_job('2024-05-31', **kw)
    db = connect(tmp_path / 'meteo.db')
    scores = json.loads(db.query('SELECT metrics FROM models WHERE id = :id', {'id': first['model_id']})[0]['metrics'])['candidates']
    assert sorted(scores) == ['climatology', 'persistence', 'ridge'] and first['model'] == min(scores, key=scores.get)
    assert first['role'] == 'champion'                                       # the slot's first model
    mlflow = store(tmp_path)
    runs = mlflow.search_runs([mlflow.get_experiment_by_name(EXPERIMENTS['jobs']).experiment_id])
    parent = next(r for r in runs if r.info.run_name.startswith('candidates'))
    children = [r for r in runs if r.data.tags.get('mlflow.parentRunId') == parent.info.run_id]
    assert sorted(r.data.params['algorithm'] for r in children) == ['climatology', 'persistence', 'ridge']
    assert parent.data.tags['best'] == first['model']
    # two days later: only the champion's algorithm; a week after the choice: the whole set again
    assert train_job('2024-06-02', **kw)['model'] == first['model']
    assert len(mlflow.search_runs([parent.info.experiment_id])) == len(runs) + 1
    train_job('2024-06-07', **kw)
    assert len(mlflow.search_runs([parent.info.experiment_id])) == len(runs) + 1 + 4   # a parent and its three candidates
