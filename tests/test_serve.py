"""`make serve` (what `make run` ends with) in a real terminal: it says where the API and Datasette are, and Ctrl-C stops
both with exit status 0 and one line, make included (make dies of a Ctrl-C that reaches it: status 130)."""
import os
import pty
import select
import sys
import time
from pathlib import Path

import pytest
import requests

from conftest import ROOT
from servers import free_port

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


class Terminal:
    "A command run in a pseudo-terminal, as in a person's shell: what it printed, keys typed to it, its exit status."
    def __init__(self, argv: list[str], env: dict, cwd: Path = ROOT):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:   # the child: the command, in the terminal's foreground
            os.chdir(cwd)
            os.execvpe(argv[0], argv, env)
        self.output = b''

    def read(self, seconds: float, until: bytes | None = None) -> str:
        end = time.monotonic() + seconds
        while time.monotonic() < end and not (until and until in self.output):
            if select.select([self.fd], [], [], 0.1)[0]:
                try: self.output += os.read(self.fd, 4096)
                except OSError: break   # the command ended and closed the terminal
        return self.output.decode(errors='replace')

    def type(self, keys: bytes) -> None: os.write(self.fd, keys)

    def wait(self, seconds: float = 30) -> int:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.read(0.2)
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid: return os.waitstatus_to_exitcode(status)
        os.kill(self.pid, 9)
        raise TimeoutError(self.output.decode(errors='replace'))


def serve_in_a_terminal(db_path: Path, folder: Path, command: list[str]) -> tuple[Terminal, int, int]:
    "`command` (a make target that serves) over `db_path` on free ports, in a terminal, once both servers answer."
    api, ds = free_port(), free_port()
    env = {**os.environ, 'METEO_FORECAST_DB': str(db_path), 'TERM': 'dumb',
           'PATH': f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    term = Terminal([*command, f'API_PORT={api}', f'DATASETTE_PORT={ds}', f'RUNS={folder}'], env)
    term.read(60, until=b'Ctrl-C stops both')
    for _ in range(150):
        try:
            if requests.get(f'http://127.0.0.1:{api}/version', timeout=1).ok and \
               requests.get(f'http://127.0.0.1:{ds}/-/versions.json', timeout=1).ok: break
        except requests.ConnectionError: pass
        time.sleep(0.2)
    return term, api, ds


def test_ctrl_c_stops_make_serve_with_status_0_and_one_line(predicted, tmp_path):
    term, api, ds = serve_in_a_terminal(predicted.db_path, tmp_path, ['make', '--no-print-directory', 'serve'])
    assert requests.get(f'http://127.0.0.1:{api}/predictions', params={'date': '2024-06-01'}, timeout=10).json()['count'] == 8
    term.type(b'\x03')   # Ctrl-C, as the terminal sends it to its foreground
    status = term.wait()
    lines = [line for line in term.read(1).replace('^C', '').splitlines() if line.strip()]
    assert status == 0, lines
    assert lines == [f'REST API:  http://127.0.0.1:{api}/docs   Datasette: http://127.0.0.1:{ds}/   '
                     f'(database {predicted.db_path}; Ctrl-C stops both)',
                     f'stopped the REST API and Datasette (logs in {tmp_path}/api.log, {tmp_path}/datasette.log)']
    for port in (api, ds):
        with pytest.raises(requests.ConnectionError): requests.get(f'http://127.0.0.1:{port}/', timeout=2)
    assert 'GET /predictions?date=2024-06-01' in (tmp_path / 'api.log').read_text()   # the servers' logs are kept
