"""The README's first command, as a newcomer runs it: `bash scripts/demo` starts the tool with
its demo platform and a real worker (the install step is a no-op on a prepared machine)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_scripts_demo_serves_the_demo_platform(tmp_path: Path) -> None:
    port = _free_port()
    env = dict(os.environ, BEELDCOACH_PORT=str(port), BEELDCOACH_INSTANCE_PATH=str(tmp_path))
    for name in ("BEELDCOACH_DATABASE_URL", "BEELDCOACH_BROKER_URL", "BEELDCOACH_ENV"):
        env.pop(name, None)
    log = tmp_path / "demo.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            ["bash", "scripts/demo"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()[-2000:]
            try:
                if requests.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.5)
        else:
            raise AssertionError("scripts/demo did not come up:\n" + log.read_text()[-2000:])
        demo = requests.get(base + "/demo/", timeout=10)
        assert demo.status_code == 200
        assert 'data-person="coach"' in demo.text
        assert f"http://127.0.0.1:{port}/demo/" in log.read_text()  # it tells where to go
        assert (tmp_path / "beeldcoach.db").exists()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
