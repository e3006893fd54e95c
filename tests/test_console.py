"""What a job shows on the terminal, run as users run it: `make predict` (through meteo_job) and plain `papermill` end with
the forecasts, or with one line that says why the job failed; the executed notebook is named after the job's place."""
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from meteo_forecast.config import sample_path

from conftest import PARIS_MULTI, ROOT

pytestmark = pytest.mark.integration
CENTRE = 'centre-france_2024-2025_export.csv'


def environment(folder: Path) -> dict:
    "A job's environment: its database and registry in `folder`, an archive where nothing listens (no download may happen)."
    return {**os.environ, 'METEO_FORECAST_DB': str(folder / 'meteo.db'), 'METEO_FORECAST_REGISTRY': str(folder / 'registry'),
            'OPEN_METEO_ARCHIVE_URL': 'http://127.0.0.1:9/v1/archive',
            'PATH': f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}


def make(folder: Path, *variables: str) -> subprocess.CompletedProcess:
    "`make predict` as a user types it: not a sub-make of the `make test` that may run this test (no make[1] in messages)."
    env = {k: v for k, v in environment(folder).items() if k not in ('MAKELEVEL', 'MAKEFLAGS', 'MFLAGS')}
    return subprocess.run(['make', '--no-print-directory', 'predict', f'RUNS={folder / "runs"}', *variables], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=600)


def papermill(folder: Path, *parameters: str) -> subprocess.CompletedProcess:
    return subprocess.run(['papermill', 'nbs/predict.ipynb', str(folder / 'run.ipynb'), *parameters], cwd=ROOT,
                          env=environment(folder), capture_output=True, text=True, timeout=600)


def summary_lines(stdout: str, day: str) -> list[str]:
    "The slot lines of a job's summary."
    return [line for line in stdout.splitlines() if line.startswith(f'  {day} ')]


def test_make_predict_prints_the_forecasts_and_files_them_under_the_file_s_place(tmp_path):
    done = make(tmp_path, f'DATA_FILE={sample_path(CENTRE)}', 'DATE=2024-12-01', 'HISTORY_DAYS=300')
    assert done.returncode == 0, done.stderr[-3000:]
    notebook = tmp_path / 'runs' / 'predict-2024-12-01-centre-france.ipynb'   # the file's place, not Paris
    assert done.stderr.splitlines() == [f"predict job: notebook {notebook}, log {notebook.with_suffix('.log')}"]
    out = done.stdout.splitlines()
    assert out[0] == 'Forecast of 2024-12-01 for centre-france (46.0105, 2.0), from the data up to 2024-12-01 00:00 UTC:'
    assert [line[2:18] for line in summary_lines(done.stdout, '2024-12-01')] == [f'2024-12-01 {h:02d}:00' for h in range(0, 24, 3)]
    assert out[-2].startswith('Model: ridge model 1 (centre-france_46.0105_2.0000_gap0h version 1, champion), trained now on ')
    assert 'too few to calibrate intervals' in out[-2]
    assert out[-1] == f"Stored: 8 forecasts in {tmp_path / 'meteo.db'}, run 1 (the API: GET /predictions?date=2024-12-01&city=centre-france)"
    assert len(out) == 12 and notebook.exists() and 'INFO meteo_forecast.jobs: predict run 1 succeeded' in notebook.with_suffix('.log').read_text()


def test_make_predict_fails_in_one_line_and_keeps_the_traceback(tmp_path):
    done = make(tmp_path, f'DATA_FILE={sample_path(CENTRE)}', 'DATE=2024-12-01', 'LATITUDE=48.8566', 'LONGITUDE=2.3522')
    notebook = tmp_path / 'runs' / 'predict-2024-12-01-Paris.ipynb'   # the job was for Paris: the coordinates say so
    cause = f"error: the predict job failed: {sample_path(CENTRE)} is for the grid cell 46.010544, 2.0, not near Paris (48.8566, 2.3522)"
    assert done.returncode != 0 and done.stdout == ''
    lines = done.stderr.splitlines()
    assert lines[:2] == [f"predict job: notebook {notebook}, log {notebook.with_suffix('.log')}", cause], done.stderr
    assert len(lines) == 3 and lines[2].startswith('make: *** [Makefile:') and lines[2].endswith('predict] Error 1')
    log = notebook.with_suffix('.log').read_text()
    assert 'Traceback (most recent call last)' in log and 'in file_location' in log   # the whole traceback, in the log ...
    cells = nbformat.read(notebook, as_version=4).cells
    assert any('in file_location' in o.get('text', '') for c in cells for o in c.get('outputs', []))   # ... and the notebook


def test_papermill_prints_the_forecasts(tmp_path):
    done = papermill(tmp_path, '-p', 'date', '2024-06-10', '-p', 'data_file', str(sample_path(PARIS_MULTI)), '-p', 'history_days', '460')
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout.splitlines()
    assert out[0] == 'Forecast of 2024-06-10 for Paris (48.8566, 2.3522), from the data up to 2024-06-10 00:00 UTC:'
    slots = summary_lines(done.stdout, '2024-06-10')
    assert len(slots) == 8 and all(' to ' in line for line in slots)   # each forecast with its 80 % interval
    assert out[-1].startswith(f"Stored: 8 forecasts in {tmp_path / 'meteo.db'}, run 1")
    assert 'Executing: 100%' in done.stderr   # papermill's own progress bar, on stderr


def test_papermill_ends_with_the_cause_of_a_failure(tmp_path):
    done = papermill(tmp_path, '-p', 'date', '2024-06-10', '-p', 'data_file', str(tmp_path / 'missing.csv'))
    cause = f"error: the predict job failed: data file {tmp_path / 'missing.csv'} does not exist"
    assert done.returncode == 1 and done.stdout == ''
    assert done.stderr.rstrip().splitlines()[-1] == cause   # papermill's last line, where one looks first
    assert done.stderr.count(cause) == 2   # the job's own line comes before papermill's traceback, which ends with it
    assert 'File "/' not in done.stderr.split('Exception encountered at', 1)[1]   # not the job's traceback: one line
