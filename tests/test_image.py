"""The Dockerfile, read as the build would: layers, user, volume, health check, version, no secrets.
(No Docker engine runs here: tests/test_api_live.py runs the image's own command on the host.)"""
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def instructions(stage: str = 'app'):
    "(instruction, argument) pairs of one stage of the Dockerfile (the image's: `app`, the last), continuation lines joined."
    text = re.sub(r'\\\n\s*', ' ', (ROOT / 'Dockerfile').read_text())
    pairs = [tuple(line.split(None, 1)) for line in text.splitlines() if line.strip() and not line.lstrip().startswith('#')]
    starts = [i for i, (k, a) in enumerate(pairs) if k == 'FROM'] + [len(pairs)]
    stages = {pairs[i][1].split(' AS ')[-1]: pairs[i:j] for i, j in zip(starts, starts[1:])}
    assert list(stages)[-1] == 'app', "the application's stage comes last: a plain docker build makes its image"
    return stages[stage]


def image_cmd() -> list[str]:
    "The image's default command, as the JSON array of its CMD."
    return json.loads(next(arg for ins, arg in instructions() if ins == 'CMD'))


def healthcheck_cmd() -> list[str]:
    arg = next(arg for ins, arg in instructions() if ins == 'HEALTHCHECK')
    return json.loads(arg.split('CMD', 1)[1])


def test_dependencies_are_installed_before_the_code_is_copied():
    ins = instructions()
    first_code = next(i for i, (k, a) in enumerate(ins) if k == 'COPY' and 'meteo_forecast' in a)
    install = next(i for i, (k, a) in enumerate(ins) if k == 'RUN' and 'pip install -r requirements.txt' in a)
    pins = next(i for i, (k, a) in enumerate(ins) if k == 'COPY' and 'settings.ini' in a)
    assert pins < install < first_code
    assert ins[pins][1].split()[:-1] == ['settings.ini', 'constraints.txt']   # only the pins: code changes keep the layer


def test_slim_base_non_root_user_and_data_volume():
    ins = dict(reversed(instructions()))   # first occurrence of each instruction
    assert re.match(r'python:3\.11[\d.]*-slim', ins['FROM'])
    users = [a for k, a in instructions() if k == 'USER']
    assert users and users[-1] not in ('root', '0')
    env = ' '.join(a for k, a in instructions() if k == 'ENV')
    assert 'METEO_FORECAST_DB=/data/meteo.db' in env and 'METEO_FORECAST_REGISTRY=/data/registry' in env
    assert '"/data"' in ins['VOLUME']


def test_commit_id_build_argument_becomes_app_version_and_nothing_secret_is_baked_in():
    ins = instructions()
    assert ('ARG', 'APP_VERSION=0.0.0') in ins and ('ENV', 'APP_VERSION=${APP_VERSION}') in ins
    assert ins.index(('ARG', 'APP_VERSION=0.0.0')) > max(i for i, (k, _) in enumerate(ins) if k == 'RUN')   # last layers
    baked = ' '.join(a for k, a in ins if k in ('ENV', 'ARG', 'LABEL'))
    assert not re.search(r'(TOKEN|SECRET|PASSWORD|API_KEY)\s*=', baked, re.I)
    ignored = (ROOT / '.dockerignore').read_text().split()
    assert {'.git', '.env', 'data', '.venv'} <= set(ignored)


def test_the_image_serves_the_api_and_checks_its_health():
    assert image_cmd()[:2] == ['uvicorn', 'api.main:app']
    assert 'http://127.0.0.1:8000/health' in ' '.join(healthcheck_cmd())


def test_the_mlflow_server_stage_serves_the_full_mlflow_with_a_postgresql_driver():
    ins = instructions('mlflow-server')
    install = next(a for k, a in ins if k == 'RUN' and 'pip install' in a)
    assert 'mlflow==3.17.2' in install and 'psycopg[binary]' in install and '-c constraints.txt' in install
    assert [a for k, a in ins if k == 'USER'][-1] == 'mlflow'
    command = ' '.join(json.loads(next(a for k, a in ins if k == 'CMD')))
    assert 'mlflow server' in command and '--serve-artifacts' in command and 'MLFLOW_BACKEND_STORE_URI' in command
    assert 'http://127.0.0.1:5000/health' in next(a for k, a in ins if k == 'HEALTHCHECK')
