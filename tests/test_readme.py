"""The README as a new user follows it: its shell blocks run as written, in order, in a fresh copy of the checkout (its
own data/ and runs/, ../shared beside it, the .venv of this one), offline. A block that needs the network, Docker, a
PostgreSQL server or hours is marked `<!-- readme-test: skip (why) -->` in nbs/index.ipynb; one that serves until
Ctrl-C, `<!-- readme-test: serve -->`: it runs in a terminal until both servers answer, then gets a Ctrl-C and must
exit with status 0. The environment only makes it fast and private: the jobs train on 400 days of history (`HISTORY_DAYS`,
which make reads from the environment) and one quick candidate algorithm, ridge (`METEO_FORECAST_CANDIDATES`), the servers listen on
free ports."""
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from conftest import PLUMBING_ALGORITHM, ROOT
from servers import free_port
from test_serve import Terminal

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1800)]
BLOCK = re.compile(r'(?:<!-- readme-test: (?P<mark>skip|serve)\b[^>]*-->\s*)?```sh\n(?P<body>.*?)```', re.S)


def shell_blocks(readme: str) -> list[tuple[str | None, str]]:
    "The README's ```sh blocks, in order, each with its mark (None: run it)."
    return [(m['mark'], m['body']) for m in BLOCK.finditer(readme)]


def test_every_block_is_run_or_says_why_not():
    blocks = shell_blocks((ROOT / 'README.md').read_text())
    marks = re.findall(r'<!-- readme-test: (\w+)', (ROOT / 'README.md').read_text())
    assert len(marks) == sum(mark is not None for mark, _ in blocks), "a readme-test mark that no ```sh block follows"
    assert all(re.search(r'<!-- readme-test: skip \(.+\) -->', m.group(0)) for m in BLOCK.finditer((ROOT / 'README.md').read_text())
               if m['mark'] == 'skip'), "a skipped block says why"
    assert sum(mark is None for mark, _ in blocks) >= 5 and sum(mark == 'serve' for mark, _ in blocks) == 2


def fresh_copy(folder: Path) -> Path:
    "The checkout's files (tracked, and new ones git does not ignore) in `folder/checkout`, `folder/shared` the shared data."
    files = subprocess.run(['git', 'ls-files', '--cached', '--others', '--exclude-standard', '-z'], cwd=ROOT, capture_output=True,
                           check=True).stdout.decode().split('\0')
    checkout = folder / 'checkout'
    for name in filter(None, files):
        if not (ROOT / name).is_file(): continue
        (checkout / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, checkout / name)   # modification times kept: make sees .venv as up to date
    (checkout / '.venv').symlink_to(ROOT / '.venv')
    (folder / 'shared').symlink_to((ROOT.parent / 'shared').resolve())
    return checkout


def serve(block: str, checkout: Path, env: dict) -> str:
    "Run a serving block in a terminal until both servers answer, then Ctrl-C it: it must exit with status 0."
    term = Terminal(['bash', '-c', block], env, cwd=checkout)
    term.read(900, until=b'Ctrl-C stops both')
    assert b'Ctrl-C stops both' in term.output, term.read(1)
    for url in (f"http://127.0.0.1:{env['API_PORT']}/health", f"http://127.0.0.1:{env['DATASETTE_PORT']}/-/dashboards/forecasts"):
        for _ in range(150):
            try:
                if requests.get(url, timeout=2).ok: break
            except requests.ConnectionError: pass
            time.sleep(0.2)
        else: raise AssertionError(f'{url} never answered')
    term.type(b'\x03')
    status = term.wait()
    assert status == 0, term.read(1)
    return term.read(1)


def test_the_readme_runs_as_written(tmp_path):
    checkout = fresh_copy(tmp_path)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith('METEO_FORECAST_') and k not in ('VIRTUAL_ENV', 'MLFLOW_TRACKING_URI')},
           'PATH': os.environ['PATH'].replace(f"{Path(sys.executable).parent}{os.pathsep}", ''),   # as a new shell: no .venv yet
           'HISTORY_DAYS': '400', 'METEO_FORECAST_CANDIDATES': PLUMBING_ALGORITHM, 'API_PORT': str(free_port()), 'DATASETTE_PORT': str(free_port()),
           'OPEN_METEO_ARCHIVE_URL': 'http://127.0.0.1:9/v1/archive', 'TERM': 'dumb'}   # offline: nothing listens there
    transcript = []
    for mark, block in shell_blocks((checkout / 'README.md').read_text()):
        if mark == 'skip': continue
        if mark == 'serve':
            transcript.append(serve(block, checkout, env))
            continue
        done = subprocess.run(['bash', '-e', '-c', block], cwd=checkout, env=env, capture_output=True, text=True, timeout=1200)
        assert done.returncode == 0, f"{block}\n--- stdout\n{done.stdout[-3000:]}\n--- stderr\n{done.stderr[-3000:]}"
        transcript.append(done.stdout)
    everything = '\n'.join(transcript)
    # what the README promises a new user sees
    assert 'Forecast of 2025-01-01 for Paris (48.8566, 2.3522)' in everything
    assert 'Forecast of 2026-01-01 for Centre of France (46.0105, 2.0)' in everything
    assert 'stopped the REST API and Datasette' in everything
    assert '7 of 7 days forecast' in everything   # the backfill
    assert '  wrote data/monitoring/Paris_2024-12-25_2024-12-31_report.json' in everything and 'STALE: data ' in everything
    assert re.search(r'^  LATITUDE= +latitude of the place', everything, re.M)   # make help
    monitoring = sorted(p.name for p in (checkout / 'data' / 'monitoring').iterdir())
    assert [n.split('_', 3)[-1] for n in monitoring if n.startswith('Paris_2024-12-25_2024-12-31')] == \
        ['coverage.png', 'forecasts.png', 'report.json', 'rolling_error.png']
    assert (checkout / 'runs' / 'predict-2026-01-01-Centre_of_France.ipynb').exists()
