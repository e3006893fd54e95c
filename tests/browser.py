"""A headless Chromium driven over the DevTools protocol on a pipe (no extra package, no network): open a page at a
window size, wait for a condition, evaluate JavaScript in it, take a screenshot. For the page tests."""
import base64
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

CHROMIUM = shutil.which('chromium') or shutil.which('chromium-browser') or shutil.which('google-chrome')


class Browser:
    "One headless Chromium; `with Browser() as b: b.open(url, 1400, 900); b.evaluate('document.title')`."
    def __init__(self):
        self.profile = tempfile.mkdtemp(prefix='chromium-')
        to_chrome, self._commands = os.pipe()
        self._answers, from_chrome = os.pipe()

        def pipes_as_3_and_4():   # the protocol's pipe: Chromium reads commands on fd 3, writes answers on fd 4
            read, write = (fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (to_chrome, from_chrome))   # out of the way first
            os.dup2(read, 3)
            os.dup2(write, 4)
        self.proc = subprocess.Popen([CHROMIUM, '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                                      '--disable-background-networking', '--disable-component-update', '--disable-sync',
                                      '--hide-scrollbars', '--remote-debugging-pipe', f'--user-data-dir={self.profile}', 'about:blank'],
                                     preexec_fn=pipes_as_3_and_4, pass_fds=(3, 4),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_chrome)
        os.close(from_chrome)
        self._id, self._buffer, self.session = 0, b'', None

    def __enter__(self): return self

    def __exit__(self, *exc):
        try: self.call('Browser.close')
        except Exception: pass
        try: self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired: self.proc.kill()
        os.close(self._commands)
        os.close(self._answers)
        shutil.rmtree(self.profile, ignore_errors=True)

    def call(self, method: str, session: bool = False, **params) -> dict:
        "Send one command and return its result (events that arrive meanwhile are dropped)."
        self._id += 1
        message = {'id': self._id, 'method': method, 'params': params, **({'sessionId': self.session} if session else {})}
        os.write(self._commands, json.dumps(message).encode() + b'\0')
        while True:
            while b'\0' not in self._buffer:
                chunk = os.read(self._answers, 1 << 20)
                if not chunk: raise RuntimeError(f'Chromium closed the pipe during {method}')
                self._buffer += chunk
            raw, self._buffer = self._buffer.split(b'\0', 1)
            answer = json.loads(raw)
            if answer.get('id') == self._id:
                if 'error' in answer: raise RuntimeError(f"{method}: {answer['error']}")
                return answer['result']

    def open(self, url: str, width: int, height: int, ready: str = 'true', timeout: float = 60) -> None:
        "Load `url` in a `width` × `height` window, then wait until the JavaScript expression `ready` is true."
        if self.session is None:
            target = self.call('Target.createTarget', url='about:blank')['targetId']
            self.session = self.call('Target.attachToTarget', targetId=target, flatten=True)['sessionId']
        self.call('Emulation.setDeviceMetricsOverride', session=True, width=width, height=height, deviceScaleFactor=1, mobile=False)
        self.call('Page.navigate', session=True, url=url)
        end = time.monotonic() + timeout
        while not self.evaluate(f"document.readyState === 'complete' && ({ready})"):
            if time.monotonic() > end: raise TimeoutError(f'{url}: not ready ({ready}) after {timeout} s')
            time.sleep(0.2)

    def evaluate(self, expression: str):
        "The value of a JavaScript expression in the page (JSON-serializable)."
        result = self.call('Runtime.evaluate', session=True, expression=expression, returnByValue=True)
        if 'exceptionDetails' in result: raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result['result'].get('value')

    def screenshot(self, path: Path) -> Path:
        "The whole page as a PNG."
        size = self.evaluate('[document.documentElement.scrollWidth, document.documentElement.scrollHeight]')
        shot = self.call('Page.captureScreenshot', session=True, format='png', captureBeyondViewport=True,
                         clip={'x': 0, 'y': 0, 'width': size[0], 'height': size[1], 'scale': 1})
        Path(path).write_bytes(base64.b64decode(shot['data']))
        return Path(path)
