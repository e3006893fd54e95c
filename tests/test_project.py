"""Project invariants: README generated from the index notebook, notebooks shaped the nbdev way."""
import configparser
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / 'scripts'))
from make_readme import readme_text  # noqa: E402


def test_readme_is_generated_from_the_index_notebook():
    assert (ROOT / 'README.md').read_text(encoding='utf-8') == readme_text(), \
        "README.md is out of date: edit nbs/index.ipynb, then run `make readme`"


def test_readme_opens_with_the_two_commands_and_ci_runs_the_test_one():
    readme = (ROOT / 'README.md').read_text(encoding='utf-8')
    block = re.search(r'```sh\n(.*?)```', readme, re.S).group(1)
    commands = [line.split('#')[0].strip() for line in block.splitlines() if line.strip()]
    assert commands == ['make run', 'make test']
    assert 'make test' in (ROOT / '.ci' / 'run').read_text()


def test_numbered_notebooks_open_with_default_exp_title_and_summary():
    notebooks = sorted((ROOT / 'nbs').glob('[0-9][0-9]*_*.ipynb'))   # 04a_schema and the like too
    assert {'04_db.ipynb', '04a_schema.ipynb', '04b_snapshot.ipynb'} <= {p.name for p in notebooks}
    for nb_path in notebooks:
        cells = json.loads(nb_path.read_text())['cells']
        assert ''.join(cells[0]['source']).startswith('#| default_exp '), nb_path.name
        title = ''.join(cells[1]['source'])
        assert re.match(r'# .+\n\n> .+', title), f"{nb_path.name}: title and one-line summary"
        assert len(re.findall(r'^> ', title, re.M)) == 1, nb_path.name


def test_nbdev_clean_keeps_cell_tags_for_papermill():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / 'settings.ini')
    assert 'tags' in cfg['DEFAULT']['allowed_cell_metadata_keys'].split()


def test_make_help_lists_every_variable_the_commands_take_with_its_value():
    import subprocess
    makefile = (ROOT / 'Makefile').read_text()
    internal = {'BIN', 'VENV', 'STAMP', 'CURDIR', 'MAKEFILE_LIST', 'PLACE', 'JOB_PARAMS', 'HELP_VARIABLES'}
    used = set(re.findall(r'\$\(([A-Z][A-Z0-9_]*)\)', makefile)) - internal
    shown = subprocess.run(['make', '--no-print-directory', 'help', 'CITY=Saint Denis'], cwd=ROOT, capture_output=True,
                           text=True, timeout=60, check=True).stdout
    listed = set(re.findall(r'^  ([A-Z][A-Z0-9_]*)=', shown, re.M))
    assert used <= listed, f"make help does not list {sorted(used - listed)}: document them with a `## NAME: what` line"
    assert re.search(r'^  CITY=Saint Denis +the place', shown, re.M) and re.search(r'^  API_PORT=8000 +', shown, re.M)
    assert re.search(r'^  predict +forecast DATE', shown, re.M)   # the commands first
