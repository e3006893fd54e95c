"""Real servers on 127.0.0.1 (uvicorn, Datasette, MLflow's UI) for the tests and the scripts: a free port, and a process
that is ready once its URL answers."""
import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@contextmanager
def running(argv: list[str], env: dict, log_path: Path, ready_url: str, tries: int = 150):
    "A server process started with `argv` (cwd: the checkout), ready once `ready_url` answers; stopped at the end."
    import requests
    with open(log_path, 'w') as log:
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            for _ in range(tries):
                if proc.poll() is not None: break
                try:
                    requests.get(ready_url, timeout=1)
                    break
                except requests.ConnectionError: time.sleep(0.2)
            assert proc.poll() is None, Path(log_path).read_text()
            yield proc
        finally:
            proc.terminate()
            proc.wait(timeout=10)
