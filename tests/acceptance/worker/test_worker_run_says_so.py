"""A bare ``pgflow.Worker(...).run()`` in a script says that it runs (nothing configured logging)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.acceptance.worker.conftest import ROOT
from tests.helpers import eventually

SCRIPT = '''
import sys
import pgflow
from tests.acceptance.worker.flows import sleepy

pgflow.Worker(sys.argv[1], [sleepy], name="plain-script").run()
'''


def test_a_plain_worker_run_prints_a_start_line(db_url: str, tmp_path: Path) -> None:
    script = tmp_path / "serve.py"
    script.write_text(SCRIPT)
    err = tmp_path / "serve.err"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with open(err, "w") as stderr:
        process = subprocess.Popen([sys.executable, str(script), db_url], cwd=tmp_path, env=env,
                                   stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        line = eventually(lambda: next((li for li in err.read_text().splitlines() if "running" in li), None)
                          or process.poll() is not None, timeout=30, message="the start line")
        assert isinstance(line, str), err.read_text()
        assert line.startswith("pgflow worker plain-script running: 1 flow(s) on queue(s) sleepy"), line
        assert "Ctrl-C" in line
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0, err.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
