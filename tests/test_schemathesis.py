"""The OpenAPI schema against the running server: `schemathesis run --checks all`.

`searcher serve` runs in a subprocess on a free loopback port over a real index of
sample_docs; schemathesis (its CLI, a dev dependency) generates requests from
/openapi.json, within bounds, and checks every answer: status declared, body matching its
model, content type, 405s with Allow, invalid input rejected, valid input accepted
(tests/schemathesis.toml: a query's syntax errors are 400s no schema can foresee).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import ROOT, SAMPLE_DOCS

CONFIG = Path(__file__).with_name("schemathesis.toml")
#: Examples per operation and phase: enough to meet every parameter's edge cases (the
#: coverage phase tries each boundary anyway), bounded so the run takes about a minute.
MAX_EXAMPLES = 30


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("schemathesis")
    docs = base / "docs"
    shutil.copytree(SAMPLE_DOCS, docs)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    index_dir = base / "ix"
    subprocess.run([sys.executable, "-m", "searcher", "--index-dir", str(index_dir), "index",
                    str(docs), "--quiet"], check=True, env=env, cwd=base, timeout=300)
    port = _free_port()
    log_path = base / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "searcher", "--index-dir", str(index_dir), "serve",
             "--host", "127.0.0.1", "--port", str(port)],
            env=env, cwd=base, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url + "/healthz", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail("server did not start:\n" + log_path.read_text())
            time.sleep(0.2)
        try:
            yield url, log_path
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


@pytest.mark.slow
def test_schemathesis_all_checks_pass(server, tmp_path):
    url, log_path = server
    cli = shutil.which("schemathesis") or shutil.which("st")
    if cli is None:
        if os.environ.get("CI"):
            pytest.fail("schemathesis is missing: pip install -e '.[dev]'", pytrace=False)
        pytest.skip("schemathesis is missing (pip install -e '.[dev]')")
    run = subprocess.run(
        [cli, "--config-file", str(CONFIG), "run", f"{url}/openapi.json", "--checks", "all",
         "--max-examples", str(MAX_EXAMPLES), "--request-timeout", "30", "--no-color",
         "--report", "junit", "--report-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=900, cwd=tmp_path)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-6000:] + "\n--- server log ---\n" + \
        log_path.read_text()[-3000:]
    assert "6/6" in output  # every operation of the schema was tested
    assert " 500 " not in log_path.read_text()
