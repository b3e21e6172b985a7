"""What upload.py, streaming.py and processing.py share: a throwaway instance with a coach, a
teacher and a traject, and servers started the way operators start them and stopped again.

The benchmarks run as scripts (`python benchmarks/upload.py`): Python then puts this folder
first on sys.path, and `import common` finds this module. lti_tool is imported inside the
functions, so that a benchmark can set its environment before the tool is loaded.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from flask import Flask

    from lti_tool.cycles.models import Cycle, Traject
    from lti_tool.launch.models import Deployment, Platform
    from lti_tool.people.models import Course, User

ROOT = Path(__file__).resolve().parent.parent
GUNICORN_CONF = ROOT / "config" / "gunicorn.conf.py"


# --- a throwaway instance ---------------------------------------------------------------------


def instance_env(base: Path) -> dict[str, str]:
    """The servers' environment: embedded settings (SQLite, local media) in `base`, a fresh
    secret, no demo, no proxy; the caller's own BEELDCOACH_* variables left out."""
    secret = uuid.uuid4().hex * 2
    env = {k: v for k, v in os.environ.items() if not k.startswith("BEELDCOACH_")}
    env.update(
        BEELDCOACH_INSTANCE_PATH=str(base),
        BEELDCOACH_SECRET_KEY=secret,
        BEELDCOACH_DEMO="0",
        BEELDCOACH_PROXY_FIX="0",
    )
    return env


@contextlib.contextmanager
def instance_app(env: dict[str, str]) -> Iterator[Flask]:
    """The app on those settings, in its app context, the schema upgraded (Alembic); the
    engine's connections are closed at the end, before any server opens its own."""
    from flask_migrate import upgrade

    from lti_tool import create_app
    from lti_tool.db import db
    from lti_tool.settings import load_settings

    settings = load_settings({k: v for k, v in env.items() if k.startswith("BEELDCOACH_")})
    app = create_app(settings=settings)
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        yield app
        db.engine.dispose()


class BenchTraject(NamedTuple):
    platform: Platform
    deployment: Deployment
    course: Course
    coach: User
    teacher: User
    traject: Traject
    cycle: Cycle  # the first


def traject_with_intake() -> BenchTraject:
    """A platform, a deployment and a course, a coach and a teacher in it, and a traject of
    theirs with its intake completed. In an app context; flushed, not committed."""
    from lti_tool.cycles import services as traject_services
    from lti_tool.db import db
    from lti_tool.launch.models import Deployment, Platform
    from lti_tool.people.models import Course, Membership, User

    platform = Platform(
        issuer="https://moodle.bench.test", client_id="bench",
        auth_login_url="https://x/auth", auth_token_url="https://x/token",
        key_set_url="https://x/jwks",
    )  # fmt: skip
    db.session.add(platform)
    db.session.flush()
    deployment = Deployment(platform_id=platform.id, deployment_id="1")
    db.session.add(deployment)
    db.session.flush()
    course = Course(platform_id=platform.id, deployment_pk=deployment.id, context_id="c1",
                    title="Bench")  # fmt: skip
    db.session.add(course)
    db.session.flush()
    people = []
    for name, role in (("Coach", "coach"), ("Leraar", "teacher")):
        user = User(issuer=platform.issuer, sub=uuid.uuid4().hex, name=name)
        db.session.add(user)
        db.session.flush()
        db.session.add(Membership(user_id=user.id, course_id=course.id, roles=[role]))
        people.append(user)
    coach, teacher = people
    traject = traject_services.create_traject(course.id, coach.id, "teacher", "Bench",
                                              teacher.id)  # fmt: skip
    traject_services.save_intake(teacher.id, traject.id, {"help_question": "Rust"})
    traject_services.propose_question(teacher.id, traject.id, "Hoe krijg ik rust?")
    traject_services.complete_intake(coach.id, traject.id)
    cycle = next(c for c in traject.cycles if c.number == 1)
    return BenchTraject(platform, deployment, course, coach, teacher, traject, cycle)


# --- servers ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def werkzeug_argv(port: int) -> list[str]:
    """`beeldcoach serve` (werkzeug, threaded), without its embedded worker."""
    return [sys.executable, "-m", "lti_tool.cli", "serve", "--no-worker", "--port", str(port)]


def gunicorn_argv(port: int, access_log: str, control_socket: Path) -> list[str]:
    """gunicorn with the operators' config (gthread, 2 workers x 4 threads), no planned worker
    restarts; a benchmark may append more options."""
    return [
        sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF),
        "--bind", f"127.0.0.1:{port}", "--workers", "2", "--max-requests", "0",
        "--access-logfile", access_log, "--log-level", "warning",
        "--control-socket", str(control_socket),
    ]  # fmt: skip


def wait_until_up(proc: subprocess.Popen[bytes], port: int, log: Path, probe: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{proc.args!r} exited:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(OSError):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", probe)
            if conn.getresponse().status == 200:
                conn.close()
                return
        time.sleep(0.2)
    raise SystemExit(f"{proc.args!r} did not answer:\n{log.read_text()[-3000:]}")


@contextlib.contextmanager
def serve(argv: list[str], env: dict[str, str], log: Path, port: int,
          probe: str = "/healthz") -> Iterator[subprocess.Popen[bytes]]:  # fmt: skip
    """Runs argv in its own session (Ctrl-C reaches the benchmark only, which then stops it),
    its output appended to `log`, until GET `probe` on `port` answers 200; stops it at the end
    whatever happens: SIGTERM, then SIGKILL after 30 s."""
    out = log.open("ab")
    proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=out, stderr=out,
                            start_new_session=True)  # fmt: skip
    try:
        wait_until_up(proc, port, log, probe)
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        out.close()
