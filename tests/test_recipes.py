"""The README's sqlite-utils recipes run as written, on a SQLite database that a real predict job filled."""
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT
from meteo_forecast.snapshot import snapshot


def readme_recipes() -> list[str]:
    "The sqlite-utils command lines of the README's shell blocks, without their comments."
    readme = (ROOT / 'README.md').read_text(encoding='utf-8')
    blocks = re.findall(r'```sh\n(.*?)```', readme, re.S)
    return [line.split('  #')[0].strip() for block in blocks for line in block.replace('\\\n', ' ').splitlines()
            if line.startswith('sqlite-utils ')]


def test_the_readme_shows_the_sqlite_utils_recipes():
    assert {shlex.split(r)[1] for r in readme_recipes()} >= {'tables', 'rows', 'query', 'optimize'}


@pytest.fixture(scope='module')
def snapshot_db(predicted, tmp_path_factory) -> Path:
    "The Datasette snapshot of the database a real predict job filled, made once."
    path = tmp_path_factory.mktemp('recipes') / 'meteo.db'
    snapshot(str(predicted.db_path), path)
    return path


@pytest.mark.parametrize('recipe', readme_recipes())
def test_each_sqlite_utils_recipe_of_the_readme_runs_as_written(recipe, snapshot_db, tmp_path):
    (tmp_path / 'data').mkdir()
    shutil.copyfile(snapshot_db, tmp_path / 'data' / 'meteo.db')   # a copy for each recipe: optimize rewrites the file
    env = {**os.environ, 'PATH': f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(shlex.split(recipe), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    expected = {'tables': 'predictions', 'rows': 'Paris', 'query': 'predict' if 'runs' in recipe else 'Paris', 'optimize': ''}
    assert expected[shlex.split(recipe)[1]] in done.stdout, done.stdout[-2000:]
