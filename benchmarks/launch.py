"""Complete LTI 1.3 launches against gunicorn on PostgreSQL: launches per second and latency.

One launch is what a browser does when someone clicks the tool's link in the learning platform:
  1. POST /lti/login, as Moodle sends it     -> 302 to the platform's auth URL (state, nonce)
                                                and a state cookie;
  2. the platform signs an id_token with that nonce (RS256; done here, in the client);
  3. POST /lti/launch: id_token, state and the state cookie -> 303 to /start.

The script builds everything it needs and removes it afterwards, also on Ctrl-C or an error: a
throwaway PostgreSQL database, an instance folder, `beeldcoach db upgrade`, a tiny platform (JWKS
only) registered with `beeldcoach platform add`, and gunicorn with config/gunicorn.conf.py.
Clients run in their own processes (threads inside) and talk to gunicorn directly, sending the
X-Forwarded-* headers that nginx would, so the tool builds its public https URLs as in production.

    python benchmarks/launch.py                      # 50 clients, 20 s
    python benchmarks/launch.py --clients 10 --duration 10
    python benchmarks/launch.py --profile 300        # one process, cProfile, DB round trips

benchmarks/README.md says what the figures mean and what they were on the project's machine.
It needs the tool installed (the `beeldcoach` command) and a PostgreSQL server; nothing here
imports the tests.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import multiprocessing
import os
import platform as host_platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

ROOT = Path(__file__).resolve().parent.parent
GUNICORN_CONF = ROOT / "config" / "gunicorn.conf.py"
DEFAULT_DB = os.environ.get(
    "BEELDCOACH_TEST_DATABASE_URL", "postgresql+psycopg://127.0.0.1:5432/test"
)
# The public address the tool believes it has (nginx's X-Forwarded-* headers say so).
PUBLIC_HOST = "beeldcoach.bench.test"
PUBLIC_BASE = f"https://{PUBLIC_HOST}"
CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership#"
STATE_COOKIE_PREFIX = "lti1p3-"
# Server-side timing per request, from gunicorn's access log (the path only, as in production).
ACCESS_FORMAT = "%(U)s %(s)s %(D)s %({x-bench-phase}i)s"


class Record(NamedTuple):
    """One launch (or one yardstick request, in `login`), times in seconds."""

    start: float  # time.monotonic() when it started, or was due to start (--rate)
    login: float
    sign: float
    launch: float
    error: str  # "" when it went well
    late: float = 0.0  # --rate: how late the client could start it (busy with the previous one)

    @property
    def total(self) -> float:
        return self.late + self.login + self.sign + self.launch


# --- the platform --------------------------------------------------------------------------


class PlatformKey:
    """The platform's RS256 key: signs id_tokens; its public half is served as a JWKS."""

    def __init__(self, pem: bytes | None = None, kid: str | None = None) -> None:
        if pem is None:
            private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            pem = private.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        self.pem = pem
        self.kid = kid or uuid.uuid4().hex
        self.private = serialization.load_pem_private_key(pem, password=None)

    def jwks(self) -> dict[str, Any]:
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private.public_key()))
        public.update({"kid": self.kid, "alg": "RS256", "use": "sig"})
        return {"keys": [public]}

    def sign(self, body: dict[str, Any]) -> str:
        return jwt.encode(body, self.private, algorithm="RS256", headers={"kid": self.kid})


class QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


class JwksServer:
    """The platform's only endpoint the tool calls: its key set, on a thread of this process."""

    def __init__(self, key: PlatformKey) -> None:
        self.body = json.dumps(key.jwks())
        self.fetches = 0
        self._server = make_server(
            "127.0.0.1", 0, self._wsgi, threaded=True, request_handler=QuietHandler
        )
        self.base = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        if Request(environ).path == "/jwks":
            self.fetches += 1
            response = Response(self.body, mimetype="application/json")
        else:
            response = Response("not found", status=404)
        return response(environ, start_response)

    def close(self) -> None:
        self._server.shutdown()


# --- one launch, as a browser and its platform do it ---------------------------------------


class HttpTransport:
    """HTTP/1.1 with nginx's headers: a new connection per request, as nginx opens to gunicorn
    by default, or (keep_alive) one connection per client. http.client, not requests: the
    clients share the 2 cores with the server, and requests costs several times the CPU."""

    def __init__(
        self, host: str, port: int, phase: Callable[[], str], keep_alive: bool = False
    ) -> None:
        self.host, self.port, self.phase = host, port, phase
        self.keep_alive = keep_alive
        self.conn: http.client.HTTPConnection | None = None

    def request(
        self, method: str, path: str, form: dict[str, str] | None, headers: dict[str, str]
    ) -> tuple[int, list[tuple[str, str]]]:
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        sent = {**nginx_headers(), "X-Bench-Phase": self.phase(), **headers}
        if not self.keep_alive:
            sent["Connection"] = "close"
        body = None
        if form is not None:
            body = urlencode(form)
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            self.conn.request(method, path, body=body, headers=sent)
            response = self.conn.getresponse()
            response.read()
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        if response.will_close:  # also: sync workers close after every answer
            self.close()
        return response.status, response.getheaders()

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def nginx_headers() -> dict[str, str]:
    return {
        "X-Forwarded-For": "203.0.113.7",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": PUBLIC_HOST,
        "X-Forwarded-Port": "443",
        "User-Agent": "beeldcoach-launch-benchmark",
    }


class LaunchSpec:
    """Everything a client needs to launch, picklable for the client processes."""

    def __init__(self, **kwargs: Any) -> None:
        self.issuer: str = kwargs["issuer"]
        self.client_id: str = kwargs["client_id"]
        self.deployment_id: str = kwargs["deployment_id"]
        self.auth_url: str = kwargs["auth_url"]
        self.key_pem: bytes = kwargs["key_pem"]
        self.kid: str = kwargs["kid"]
        self.courses: int = kwargs.get("courses", 10)
        self.users_per_client: int = kwargs.get("users_per_client", 3)

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def person(client: int, n: int, spec: LaunchSpec) -> tuple[str, list[str], str]:
    """Client `client`'s n-th launch: each client takes turns with a few people of its own (so
    one person never launches twice at once) in one course, which it shares with other
    clients. The first person of each client is a coach. After the warm-up nearly every launch
    is a returning person's, as on a school day; the first launches into a course race each
    other, as when a class clicks the link at once."""
    k = n % spec.users_per_client
    sub = f"bench-{client}-{k}"
    role = MEMBERSHIP + ("Instructor" if k == 0 else "Learner")
    return sub, [role], f"course-{client % spec.courses}"


def claims(spec: LaunchSpec, sub: str, roles: list[str], course: str, nonce: str) -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": spec.issuer,
        "aud": spec.client_id,
        "sub": sub,
        "iat": now,
        "exp": now + 60,  # Moodle: one minute
        "nonce": nonce,
        "name": f"Leerkracht {sub}",
        "email": f"{sub}@school.example",
        CLAIM + "version": "1.3.0",
        CLAIM + "message_type": "LtiResourceLinkRequest",
        CLAIM + "deployment_id": spec.deployment_id,
        CLAIM + "target_link_uri": PUBLIC_BASE + "/lti/launch",
        CLAIM + "roles": roles,
        CLAIM + "context": {"id": course, "title": "Groep 5", "type": ["CourseSection"]},
        CLAIM + "resource_link": {"id": "link-1", "title": "Beeldcoach"},
        CLAIM + "launch_presentation": {"locale": "nl", "document_target": "iframe"},
        CLAIM + "tool_platform": {"family_code": "moodle", "version": "2024100700"},
        CLAIM + "ext": {"lms": "moodle-2"},
    }


def _header(headers: list[tuple[str, str]], name: str) -> str:
    for key, value in headers:
        if key.lower() == name:
            return value
    return ""


def _cookie(headers: list[tuple[str, str]], name: str) -> str | None:
    for key, value in headers:
        if key.lower() == "set-cookie":
            pair = value.split(";", 1)[0]
            cookie_name, _, cookie_value = pair.partition("=")
            if cookie_name.strip() == name:
                return cookie_value.strip()
    return None


def launch_once(transport: Any, spec: LaunchSpec, key: PlatformKey, client: int, n: int) -> Record:
    """login -> auth request -> signed id_token -> launch; the times of each part."""
    sub, roles, course = person(client, n, spec)
    started, t0 = time.monotonic(), time.perf_counter()
    try:
        status, headers = transport.request(
            "POST",
            "/lti/login",
            {
                "iss": spec.issuer,
                "login_hint": sub,
                "target_link_uri": PUBLIC_BASE + "/lti/launch",
                "lti_message_hint": json.dumps({"cmid": 7, "launchid": uuid.uuid4().hex}),
                "client_id": spec.client_id,
                "lti_deployment_id": spec.deployment_id,
            },
            {},
        )
        t1 = time.perf_counter()
        location = _header(headers, "location")
        if status != 302 or not location.startswith(spec.auth_url + "?"):
            return Record(started, t1 - t0, 0.0, 0.0, f"login {status}")
        auth = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
        redirect_uri = auth.get("redirect_uri", "")
        if not redirect_uri.startswith(PUBLIC_BASE + "/"):
            return Record(started, t1 - t0, 0.0, 0.0, "login: redirect_uri not https (ProxyFix?)")
        state, nonce = auth["state"], auth["nonce"]
        cookie = _cookie(headers, STATE_COOKIE_PREFIX + state)
        if cookie is None:
            return Record(started, t1 - t0, 0.0, 0.0, "login: no state cookie")
        id_token = key.sign(claims(spec, sub, roles, course, nonce))
        t2 = time.perf_counter()
        status, headers = transport.request(
            "POST",
            urlsplit(redirect_uri).path,
            {"id_token": id_token, "state": state},
            # Secure cookies come back over https; the browser sends the state cookie.
            {"Cookie": f"{STATE_COOKIE_PREFIX}{state}={cookie}"},
        )
        t3 = time.perf_counter()
        location = _header(headers, "location")
        if status != 303 or not location.startswith(PUBLIC_BASE + "/start?launch="):
            return Record(started, t1 - t0, t2 - t1, t3 - t2, f"launch {status}")
        return Record(started, t1 - t0, t2 - t1, t3 - t2, "")
    except (OSError, http.client.HTTPException) as exc:
        return Record(
            started, time.perf_counter() - t0, 0.0, 0.0, f"exception {type(exc).__name__}"
        )


def baseline_once(transport: Any) -> Record:
    """A request to a trivial JSON endpoint of the same app (no database): the yardstick."""
    started, t0 = time.monotonic(), time.perf_counter()
    try:
        status, _ = transport.request("GET", "/lti/config.json", None, {})
    except (OSError, http.client.HTTPException) as exc:
        return Record(
            started, time.perf_counter() - t0, 0.0, 0.0, f"exception {type(exc).__name__}"
        )
    error = "" if status == 200 else f"config.json {status}"
    return Record(started, time.perf_counter() - t0, 0.0, 0.0, error)


# --- client processes ----------------------------------------------------------------------


def client_process(conn: Any, load: dict[str, Any], spec_dict: dict[str, Any]) -> None:
    """Run some clients as threads; send back their records. The main process stops this one on
    Ctrl-C (it ignores SIGINT so that the main process decides)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    spec = LaunchSpec(**spec_dict)
    key = PlatformKey(spec.key_pem, spec.kid)
    clients: list[int] = load["clients"]
    start_at, warm_end, end_at = load["start_at"], load["warm_end"], load["end_at"]
    # --rate: each client launches every `interval` seconds, the clients evenly staggered.
    interval = load["total_clients"] / load["rate"] if load["rate"] else 0.0
    records: list[list[tuple[Any, ...]]] = [[] for _ in clients]

    def phase() -> str:
        return "warmup" if time.monotonic() < warm_end else "run"

    def loop(index: int, client: int) -> None:
        transport = HttpTransport(load["host"], load["port"], phase, load["keep_alive"])
        due = start_at + (client / load["total_clients"]) * interval
        n = 0
        _sleep_until(due)
        while time.monotonic() < end_at:
            started = time.monotonic()
            if load["mode"] == "launch":
                record = launch_once(transport, spec, key, client, n)
            else:
                record = baseline_once(transport)
            if interval:
                # Latency counts from when the launch was due, not from when this client got
                # round to it: a slow answer must not hide the launches queued behind it.
                record = record._replace(start=due, late=max(0.0, started - due))
                due += interval
                _sleep_until(min(due, end_at))
            records[index].append(tuple(record))
            n += 1
        transport.close()

    threads = [
        threading.Thread(target=loop, args=(i, client), daemon=True)
        for i, client in enumerate(clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    conn.send([r for rs in records for r in rs])
    conn.close()


def run_load(
    mode: str,
    spec: LaunchSpec,
    args: argparse.Namespace,
    port: int,
    warmup: float,
    duration: float,
    on_window: Callable[[str], None],
) -> tuple[list[Record], list[Record], list[int]]:
    """Closed loop (each client starts its next launch when the previous one is answered), or
    with --rate an open loop at a fixed rate. Returns the warm-up records, the measured records
    and the client process ids."""
    ctx = multiprocessing.get_context("spawn")
    start_at = time.monotonic() + 1.5  # time for the processes to start
    load = {
        "mode": mode,
        "total_clients": args.clients,
        "rate": args.rate if mode == "launch" else 0.0,
        "host": "127.0.0.1",
        "port": port,
        "keep_alive": args.keep_alive,
        "start_at": start_at,
        "warm_end": start_at + warmup,
        "end_at": start_at + warmup + duration,
    }
    pipes, workers = [], []
    for i in range(args.client_procs):
        group = list(range(args.clients))[i :: args.client_procs]
        if not group:
            continue
        parent, child = ctx.Pipe(duplex=False)
        proc = ctx.Process(
            target=client_process,
            args=(child, {**load, "clients": group}, spec.as_dict()),
            daemon=True,
        )
        proc.start()
        pipes.append(parent)
        workers.append(proc)
    try:
        _sleep_until(load["warm_end"])
        on_window("start")
        _sleep_until(load["end_at"])
        on_window("end")
        records = []
        for pipe in pipes:
            # The clients finish the launches in flight; a client process that died says so.
            if not pipe.poll(120):
                raise SystemExit("a client process sent no results")
            try:
                records += [Record._make(r) for r in pipe.recv()]
            except EOFError as exc:
                raise SystemExit("a client process died; see its traceback above") from exc
        for proc in workers:
            proc.join(timeout=10)
    finally:
        for proc in workers:
            if proc.is_alive():
                proc.terminate()
    # time.monotonic() is one clock for all processes of the machine.
    warm = [r for r in records if r.start < load["warm_end"]]
    run = [r for r in records if load["warm_end"] <= r.start < load["end_at"]]
    return warm, run, [p.pid for p in workers if p.pid]


def _sleep_until(deadline: float) -> None:
    while (left := deadline - time.monotonic()) > 0:
        time.sleep(min(left, 0.5))


# --- CPU accounting from /proc (Linux) -----------------------------------------------------

TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds used) of a process."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK


def _processes() -> dict[int, tuple[int, str, float]]:
    """pid -> (parent pid, command name, CPU seconds) for every process we may read."""
    found: dict[int, tuple[int, str, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        stat = _stat(pid)
        if stat is None:
            continue
        try:
            comm = (entry / "comm").read_text().strip()
        except OSError:
            continue
        found[pid] = (stat[0], comm, stat[1])
    return found


def _machine() -> dict[str, float]:
    """Whole-machine CPU seconds by kind, from /proc/stat."""
    try:
        first = Path("/proc/stat").read_text().splitlines()[0].split()
    except OSError:
        return {}
    v = [int(x) / TICK for x in first[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (v + [0.0] * 8)[:8]
    return {
        "busy": user + nice + system + irq + softirq,
        "idle": idle + iowait,
        "steal": steal,
    }


class CpuMeter:
    """CPU used between two snapshots by the clients, gunicorn, PostgreSQL and the rest."""

    def __init__(self, gunicorn_pid: int | None) -> None:
        self.gunicorn_pid = gunicorn_pid
        self.client_pids: list[int] = []
        self.marks: dict[str, tuple[float, dict[int, tuple[int, str, float]], dict]] = {}

    def mark(self, name: str) -> None:
        self.marks[name] = (time.monotonic(), _processes(), _machine())

    def report(self) -> dict[str, float]:
        (t0, p0, m0), (t1, p1, m1) = self.marks["start"], self.marks["end"]

        def used(pids: set[int]) -> float:
            return sum(p1[pid][2] - (p0[pid][2] if pid in p0 else 0.0) for pid in pids if pid in p1)

        gunicorn = {self.gunicorn_pid} if self.gunicorn_pid else set()
        gunicorn |= {pid for pid, (ppid, _, _) in p1.items() if ppid == self.gunicorn_pid}
        clients = set(self.client_pids) | {os.getpid()}
        postgres = {pid for pid, (_, comm, _) in p1.items() if comm.startswith("postgres")}
        out = {
            "wall": t1 - t0,
            "client": used(clients),
            "gunicorn": used(gunicorn),
            "postgres": used(postgres),
        }
        if m0 and m1:
            out["busy"] = m1["busy"] - m0["busy"]
            out["steal"] = m1["steal"] - m0["steal"]
            out["idle"] = m1["idle"] - m0["idle"]
        return out


# --- setting up and tearing down ------------------------------------------------------------


@contextlib.contextmanager
def throwaway_database(admin_url: str) -> Iterator[str]:
    """CREATE DATABASE bc_bench_<random>; dropped at the end whatever happens."""
    name = "bc_bench_" + secrets.token_hex(5)
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.SQLAlchemyError as exc:
        raise SystemExit(f"cannot create a database with {admin_url}: {exc}") from exc
    try:
        yield sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"
                ),
                {"n": name},
            )
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()
        print(f"dropped database {name}")


def tool_env(database_url: str, instance: Path, broker_url: str) -> dict[str, str]:
    """The environment for every `beeldcoach` command and gunicorn: production settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BEELDCOACH_")}
    env.update(
        {
            "BEELDCOACH_ENV": "production",
            "BEELDCOACH_DATABASE_URL": database_url,
            "BEELDCOACH_BROKER_URL": broker_url,
            "BEELDCOACH_SECRET_KEY": secrets.token_urlsafe(48),
            "BEELDCOACH_INSTANCE_PATH": str(instance),
            "BEELDCOACH_MEDIA_DIR": str(instance / "media"),
            "BEELDCOACH_PROXY_FIX": "1",
            # Empty: URLs come from the request, i.e. from the X-Forwarded-* headers.
            "BEELDCOACH_BASE_URL": "",
            "BEELDCOACH_REGISTRATION_HOSTS": "",
        }
    )
    return env


def beeldcoach(env: dict[str, str], *args: str) -> str:
    command = shutil.which("beeldcoach", path=str(Path(sys.executable).parent))
    argv = [command] if command else [sys.executable, "-m", "lti_tool.cli"]
    result = subprocess.run([*argv, *args], env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"beeldcoach {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout.strip()


def register(env: dict[str, str], jwks: JwksServer) -> LaunchSpec:
    key = PlatformKey()
    jwks.body = json.dumps(key.jwks())
    spec = LaunchSpec(
        issuer="https://moodle.bench.test",
        client_id="bench-" + secrets.token_hex(4),
        deployment_id="1",
        auth_url=jwks.base + "/auth",
        key_pem=key.pem,
        kid=key.kid,
    )
    beeldcoach(
        env,
        "platform", "add",
        "--issuer", spec.issuer,
        "--client-id", spec.client_id,
        "--deployment-id", spec.deployment_id,
        "--auth-login-url", spec.auth_url,
        "--auth-token-url", jwks.base + "/token",
        "--key-set-url", jwks.base + "/jwks",
        "--name", "Benchmark platform",
    )  # fmt: skip
    return spec


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def gunicorn(env: dict[str, str], args: argparse.Namespace, logs: Path) -> Iterator[Any]:
    """gunicorn with the operators' config file; the benchmark overrides only what it must."""
    port = free_port()
    argv = [
        sys.executable, "-m", "gunicorn",
        "-c", str(GUNICORN_CONF),
        "--bind", f"127.0.0.1:{port}",
        "--workers", str(args.workers),
        "--worker-class", args.worker_class,
        # gunicorn turns sync into gthread when threads > 1: sync means one thread.
        "--threads", str(args.threads if args.worker_class == "gthread" else 1),
        # Steady state: no planned worker restarts in the middle of the measurement.
        "--max-requests", "0",
        "--access-logfile", str(logs / "access.log"),
        "--access-logformat", ACCESS_FORMAT,
        "--error-logfile", str(logs / "error.log"),
        "--log-level", "warning",
    ]  # fmt: skip
    if gunicorn_version() >= (25, 1):
        # Its control socket defaults to one path per user: keep ours apart from any other.
        argv += ["--control-socket", str(logs / "gunicorn.ctl")]
    if args.app:
        argv.append(args.app)
    # Its own session: Ctrl-C reaches this script only, which then stops gunicorn gracefully.
    output = (logs / "gunicorn.out").open("ab")
    proc = subprocess.Popen(
        argv, env=env, cwd=ROOT, start_new_session=True, stdout=output, stderr=output
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"gunicorn exited:\n{_tail(logs / 'error.log')}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    conn.close()
                    break
                conn.close()
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"gunicorn did not answer:\n{_tail(logs / 'error.log')}")
            time.sleep(0.2)
        proc.port = port  # type: ignore[attr-defined]
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=35)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        output.close()


def gunicorn_version() -> tuple[int, ...]:
    from importlib.metadata import version

    return tuple(int(part) for part in version("gunicorn").split(".")[:2] if part.isdigit())


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text().splitlines()[-lines:])
    except OSError:
        return "(no log)"


def pg_counters(engine: sa.Engine, database: str) -> dict[str, int]:
    with engine.connect() as conn:
        row = conn.execute(
            sa.text(
                "SELECT xact_commit, xact_rollback, tup_fetched, tup_inserted, tup_updated,"
                " tup_deleted FROM pg_stat_database WHERE datname = :d"
            ),
            {"d": database},
        ).one()
    return dict(row._mapping)


# --- reporting -----------------------------------------------------------------------------


def pct(values: list[float], p: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def latency_row(label: str, seconds: list[float]) -> str:
    ms = [x * 1000 for x in seconds]
    mean = sum(ms) / len(ms) if ms else math.nan
    cols = [pct(ms, 50), pct(ms, 90), pct(ms, 99), max(ms, default=math.nan), mean]
    return f"  {label:<34}" + "".join(f"{c:>8.1f}" for c in cols)


def access_log(path: Path) -> dict[str, list[float]]:
    """Server-side seconds per path for the measured phase (excludes time queued in gunicorn)."""
    out: dict[str, list[float]] = {}
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return out
    for line in lines:
        parts = line.split()
        if len(parts) == 4 and parts[3] == "run":
            out.setdefault(parts[0], []).append(int(parts[2]) / 1e6)
    return out


def server_exceptions(logs: Path) -> Counter[str]:
    """The exceptions gunicorn's logs show (the last line of each traceback), counted."""
    found: Counter[str] = Counter()
    for name in ("error.log", "gunicorn.out"):
        try:
            lines = (logs / name).read_text(errors="replace").splitlines()
        except OSError:
            continue
        for line in lines:
            head = line.split(":", 1)[0]
            if head and " " not in head and head.endswith(("Error", "Exception")):
                found[line[:160]] += 1
    return found


def describe_errors(records: list[Record]) -> str:
    counts = Counter(r.error for r in records if r.error)
    return ", ".join(f"{n}x {kind}" for kind, n in counts.most_common()) or "none"


# --- sampling the workers with py-spy (optional) --------------------------------------------


def start_py_spy(pid: int, duration: float, out: Path) -> subprocess.Popen[bytes]:
    """Sample gunicorn's workers through the measured window (collapsed stacks: --format raw).
    --gil: only the thread holding the GIL, i.e. where the workers' Python CPU time goes."""
    command = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or "py-spy"
    return subprocess.Popen(
        [
            command, "record", "--pid", str(pid), "--subprocesses", "--nonblocking", "--gil",
            "--rate", "100", "--duration", str(max(1, int(duration))),
            "--format", "raw", "--output", str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip


def _package(frame: str) -> str:
    """The package of a py-spy frame, "function (package/module.py:line)"."""
    path = frame[frame.find("(") + 1 :].rsplit(":", 1)[0]
    if path.startswith("<sqlalchemy"):  # SQLAlchemy's generated wrappers
        return "sqlalchemy"
    return path.split("/", 1)[0].removesuffix(".py")


def print_py_spy(path: Path, top: int = 22) -> None:
    """Where the workers' CPU samples go: by package (on the stack, and at the top of it) and
    by the tool's own functions (on the stack)."""
    samples = 0
    on_stack: Counter[str] = Counter()
    leaf: Counter[str] = Counter()
    tool: Counter[str] = Counter()
    try:
        lines = path.read_text().splitlines()
    except OSError:
        print(f"no py-spy output in {path} (py-spy installed? allowed to trace?)")
        return
    for line in lines:
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        frames = [f for f in stack.split(";") if "(" in f and not f.startswith("process ")]
        if not frames:
            continue
        samples += n
        leaf[_package(frames[-1])] += n
        for package in {_package(f) for f in frames}:
            on_stack[package] += n
        functions = {
            f.rsplit(":", 1)[0] + ")" for f in frames if "lti_tool/" in f or "pylti1p3/" in f
        }
        for function in functions:
            tool[function] += n
    if not samples:
        print("py-spy recorded no samples")
        return
    print(f"\npy-spy, gunicorn workers, {samples} samples of the thread holding the GIL ({path})")
    print(f"  {'package':<28}{'on stack':>9}{'own':>7}")
    for package, n in on_stack.most_common(top):
        print(f"  {package:<28}{n / samples:>9.0%}{leaf[package] / samples:>7.0%}")
    print("  the tool's and pylti1p3's functions, share of samples with them on the stack:")
    for function, n in tool.most_common(top):
        print(f"  {n / samples:>5.0%}  {function}")


# --- the benchmark ---------------------------------------------------------------------------


def benchmark(args: argparse.Namespace) -> int:
    target_ms = 100.0
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bc-bench-")))
        database_url = stack.enter_context(throwaway_database(args.database_url))
        database = sa.make_url(database_url).database or ""
        instance = tmp / "instance"
        env = tool_env(database_url, instance, args.broker_url)
        print(f"database {database}, instance folder {instance}")
        beeldcoach(env, "db", "upgrade")
        jwks = JwksServer(PlatformKey())
        stack.callback(jwks.close)
        spec = register(env, jwks)
        server = stack.enter_context(gunicorn(env, args, tmp))
        port = server.port
        pg = sa.create_engine(args.database_url, poolclass=sa.pool.NullPool)
        stack.callback(pg.dispose)

        # One launch fetches the platform's key set into the database (the cache every worker
        # shares); the warm-up then fills each worker's parsed-key cache and connection pool.
        key = PlatformKey(spec.key_pem, spec.kid)
        first = launch_once(HttpTransport("127.0.0.1", port, lambda: "first"), spec, key, 0, 0)
        if first.error:
            print(f"first launch failed: {first.error}\n{_tail(tmp / 'error.log')}")
            return 1
        print(f"first launch ok ({first.total * 1000:.0f} ms, {jwks.fetches} JWKS fetch)")

        workers = f"{args.workers} workers"
        if args.worker_class == "gthread":
            workers += f" x {args.threads} threads"
        loop = f"open loop at {args.rate:g} launches/s" if args.rate else "closed loop"
        loop += ", keep-alive" if args.keep_alive else ", a connection per request"
        print(
            f"\ngunicorn {args.worker_class}, {workers}; {args.clients} clients in "
            f"{args.client_procs} processes, {loop}; warm-up {args.warmup:g} s, "
            f"measured {args.duration:g} s"
        )
        meter = CpuMeter(server.pid)
        counters: dict[str, dict[str, int]] = {}
        fetches: dict[str, int] = {}
        spy: list[subprocess.Popen[bytes]] = []

        def window(name: str) -> None:
            meter.mark(name)
            counters[name] = pg_counters(pg, database)
            fetches[name] = jwks.fetches
            if name == "start" and args.py_spy:
                spy.append(start_py_spy(server.pid, args.duration, Path(args.py_spy)))

        warm, run, meter.client_pids = run_load(
            "launch", spec, args, port, args.warmup, args.duration, window
        )
        cpu = meter.report()
        server_times = access_log(tmp / "access.log")

        ok = [r for r in run if not r.error]
        wall = cpu["wall"]
        rate = len(ok) / wall
        print(
            f"\n{len(ok)} launches in {wall:.1f} s = {rate:.1f} launches/s "
            f"({2 * rate:.0f} HTTP requests/s); errors: {describe_errors(run)}"
        )
        if any(r.error for r in warm):
            print(f"warm-up errors: {describe_errors(warm)}")
        for line, count in server_exceptions(tmp).most_common(5):
            print(f"  server log, {count}x: {line}")
        print(
            f"\nlatency, ms ({len(ok)} launches){'p50':>12}{'p90':>8}{'p99':>8}{'max':>8}"
            f"{'mean':>8}"
        )
        print(latency_row("login + sign + launch (complete)", [r.total for r in ok]))
        if args.rate:
            print(latency_row("  late start (client still busy)", [r.late for r in ok]))
        print(latency_row("  POST /lti/login -> 302", [r.login for r in ok]))
        print(latency_row("  sign id_token (client)", [r.sign for r in ok]))
        print(latency_row("  POST /lti/launch -> 303", [r.launch for r in ok]))
        print("server side (gunicorn access log: in the app, without time queued before it)")
        for path in ("/lti/login", "/lti/launch"):
            print(latency_row(f"  {path}", server_times.get(path, [])))

        n = max(len(ok), 1)
        cores = os.cpu_count() or 1
        print(f"\nCPU in the measured {wall:.1f} s ({cores} cores = {wall * cores:.1f} core-s)")
        for name in ("client", "gunicorn", "postgres"):
            print(
                f"  {name:<18}{cpu[name]:>6.1f} core-s {cpu[name] / wall:>6.0%} of a core"
                f"{cpu[name] / n * 1000:>8.2f} ms per launch"
            )
        if "busy" in cpu:
            other = cpu["busy"] - cpu["client"] - cpu["gunicorn"] - cpu["postgres"]
            for name, used in (("other processes", other), ("idle", cpu["idle"])):
                print(f"  {name:<18}{used:>6.1f} core-s {used / wall:>6.0%} of a core")
            if cpu["steal"] > 0.05 * wall:
                print(f"  {'stolen by the host':<18}{cpu['steal']:>6.1f} core-s")
        delta = {k: counters["end"][k] - counters["start"][k] for k in counters["start"]}
        print(
            "PostgreSQL per launch (pg_stat_database, approximate): "
            + ", ".join(f"{k} {v / n:.1f}" for k, v in delta.items())
        )
        print(f"platform JWKS fetches while measured: {fetches['end'] - fetches['start']}")
        if spy:
            spy[0].wait(timeout=args.duration + 30)
            print_py_spy(Path(args.py_spy))

        totals = [r.total * 1000 for r in ok]
        p50, p99 = pct(totals, 50), pct(totals, 99)
        if not args.rate and rate:
            print(
                f"\nLittle's law: {args.clients} clients / {rate:.1f} launches/s = "
                f"{args.clients / rate * 1000:.0f} ms mean per launch, whatever the server does"
            )
        verdict = "met" if p99 < target_ms else "missed"
        print(f"target p99 < {target_ms:.0f} ms for the complete launch: {verdict}")
        other = cpu.get("busy", 0.0) - cpu["client"] - cpu["gunicorn"] - cpu["postgres"]
        print(
            f"SUMMARY clients={args.clients} rate={args.rate or 'closed'} "
            f"server={args.worker_class}:{args.workers}"
            f"x{args.threads if args.worker_class == 'gthread' else 1} "
            f"keepalive={int(args.keep_alive)} launches/s={rate:.1f} "
            f"p50={p50:.0f}ms p99={p99:.0f}ms max={max(totals, default=0):.0f}ms "
            f"errors={len(run) - len(ok)} gunicorn_ms/launch={cpu['gunicorn'] / n * 1000:.1f} "
            f"other_cores={other / wall:.2f}"
        )

        if args.baseline > 0:
            _, base, _ = run_load(
                "baseline", spec, args, port, 1.0, args.baseline, lambda name: None
            )
            base_ok = [r.login * 1000 for r in base if not r.error]
            base_rate = len(base_ok) / args.baseline
            print(
                f"\nyardstick, same server and clients, closed loop: GET /lti/config.json "
                f"(no database) {base_rate:.0f} requests/s, p50 {pct(base_ok, 50):.1f} ms, "
                f"p99 {pct(base_ok, 99):.1f} ms; errors: {describe_errors(base)}"
            )
            if base_rate and rate and not args.rate:
                print(
                    f"one launch (2 requests) costs as much as {base_rate / rate:.0f} of these "
                    f"requests; launch requests/s are {2 * rate / base_rate:.1%} of its rate"
                )
    return 0


# --- profile: one process, in-process requests, cProfile and DB round trips -----------------


class CountingProxy:
    """A TCP proxy in front of PostgreSQL that counts the client's round trips: each simple
    Query ('Q') or extended-protocol Sync ('S') message waits for the server's answer."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.round_trips = 0
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            threading.Thread(target=self._pump, args=(server, client, None), daemon=True).start()
            threading.Thread(target=self._pump, args=(client, server, []), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, parse: list[bytes] | None) -> None:
        buffer, started = b"", False
        try:
            while data := src.recv(65536):
                dst.sendall(data)
                if parse is None:
                    continue
                buffer += data
                while True:
                    if not started:  # untyped startup, SSL or GSS request
                        if len(buffer) < 8:
                            break
                        size = int.from_bytes(buffer[:4], "big")
                        code = int.from_bytes(buffer[4:8], "big")
                        if len(buffer) < size:
                            break
                        buffer = buffer[size:]
                        started = code == 196608  # protocol 3.0
                        continue
                    if len(buffer) < 5:
                        break
                    size = int.from_bytes(buffer[1:5], "big")
                    if len(buffer) < size + 1:
                        break
                    if buffer[:1] in (b"Q", b"S"):
                        with self._lock:
                            self.round_trips += 1
                    buffer = buffer[size + 1 :]
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self._listener.close()


class FlaskTransport:
    """In-process requests through the Flask test client, with nginx's headers."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def request(
        self, method: str, path: str, form: dict[str, str] | None, headers: dict[str, str]
    ) -> tuple[int, list[tuple[str, str]]]:
        response = self.client.open(
            path, method=method, data=form, headers={**nginx_headers(), **headers}
        )
        return response.status_code, list(response.headers.items())


def profile(args: argparse.Namespace) -> int:
    """Launches one after the other in this process: CPU and wall time per request, database
    round trips and SQL statements per request, and a CPU profile (cProfile on thread_time)."""
    import cProfile
    import pstats

    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bc-bench-")))
        database_url = stack.enter_context(throwaway_database(args.database_url))
        instance = tmp / "instance"
        env = tool_env(database_url, instance, args.broker_url)
        beeldcoach(env, "db", "upgrade")
        jwks = JwksServer(PlatformKey())
        stack.callback(jwks.close)
        spec = register(env, jwks)
        os.environ.clear()
        os.environ.update(env)

        # Two apps on one database: one direct (times, profile), one through a proxy that
        # counts round trips (its threads would blur the times).
        url = sa.make_url(database_url)
        proxy = CountingProxy((url.host or "127.0.0.1", url.port or 5432))
        stack.callback(proxy.close)
        proxied = url.set(host="127.0.0.1", port=proxy.port).update_query_dict(
            {"sslmode": "disable"}
        )
        from lti_tool import create_app
        from lti_tool.db import db

        app = create_app()
        counted = create_app({"database_url": proxied.render_as_string(hide_password=False)})
        statements: Counter[str] = Counter()
        current = {"path": ""}
        with counted.app_context():
            counted_engine = db.engine

        def on_execute(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
            shape = " ".join(statement.split())[:88]
            statements[f"{current['path']}: {shape}"] += 1

        sa.event.listen(counted_engine, "before_cursor_execute", on_execute)

        class Measured:
            """Wraps a transport: per path, (wall s, this thread's CPU s, DB round trips)."""

            def __init__(self, inner: FlaskTransport) -> None:
                self.inner = inner
                self.rows: dict[str, list[tuple[float, float, int]]] = {}

            def request(self, method: str, path: str, *rest: Any) -> Any:
                current["path"] = path
                trips, wall, cpu = proxy.round_trips, time.perf_counter(), time.thread_time()
                result = self.inner.request(method, path, *rest)
                self.rows.setdefault(path, []).append(
                    (
                        time.perf_counter() - wall,
                        time.thread_time() - cpu,
                        proxy.round_trips - trips,
                    )
                )
                return result

        key = PlatformKey(spec.key_pem, spec.kid)
        count = args.profile

        def launches(transport: Any, label: str, n: int = count) -> list[Record]:
            records = [launch_once(transport, spec, key, i % 50, i) for i in range(n)]
            failed = Counter(r.error for r in records if r.error)
            if failed:
                raise SystemExit(f"{label}: launches failed: {dict(failed)}")
            return records

        direct = FlaskTransport(app.test_client(use_cookies=False))
        through_proxy = FlaskTransport(counted.test_client(use_cookies=False))
        # Warm-up: the key fetch, SQLAlchemy's statement caches, psycopg's prepared statements
        # (after 5 uses), connection pools; launches for the first time make users and courses.
        launches(direct, "warm-up", 100)
        launches(through_proxy, "warm-up", 100)

        timed = Measured(direct)
        signing = [r.sign for r in launches(timed, "timed")]
        statements.clear()
        tripped = Measured(through_proxy)
        launches(tripped, "counted")

        print(
            f"\none process, {count} launches in a row after 100 warm-up launches "
            "(Flask test client, PostgreSQL over TCP, production settings)"
        )
        print(f"  {'':<24}{'wall ms':>9}{'CPU ms':>9}{'DB round trips':>16}")
        for path, rows in timed.rows.items():
            wall = sum(r[0] for r in rows) / len(rows) * 1000
            cpu = sum(r[1] for r in rows) / len(rows) * 1000
            trips = sum(r[2] for r in tripped.rows[path]) / len(rows)
            print(f"  {path:<24}{wall:>9.2f}{cpu:>9.2f}{trips:>16.1f}")
        print(f"  {'sign id_token (client)':<24}{sum(signing) / len(signing) * 1000:>9.2f}")
        # Yardstick: a trivial JSON answer of the same app (no database), the same way.
        yardstick = Measured(direct)
        for _ in range(count):
            yardstick.request("GET", "/lti/config.json", None, {})
        trivial = sum(r[1] for r in yardstick.rows["/lti/config.json"]) / count * 1000
        launch_cpu = sum(sum(r[1] for r in rows) / len(rows) * 1000 for rows in timed.rows.values())
        print(
            f"  {'GET /lti/config.json':<24}{'':>9}{trivial:>9.2f}{'':>16}  (yardstick: one "
            f"login + launch = {launch_cpu / trivial:.0f} of these in CPU)"
        )
        print(
            "\nSQL statements per launch, by request (BEGIN, COMMIT and the pool's pings are "
            "round trips without a statement here):"
        )
        for shape, n in sorted(statements.items()):
            print(f"  {n / count:>4.1f}  {shape}")

        # CPU profile: time.thread_time, so waiting for PostgreSQL does not count.
        profiler = cProfile.Profile(time.thread_time)
        profiler.enable()
        launches(direct, "profiled")
        profiler.disable()
        stats = pstats.Stats(profiler)
        if args.profile_out:
            stats.dump_stats(args.profile_out)
            print(f"\ncProfile data written to {args.profile_out} (snakeviz, pstats)")
        print(
            "\nCPU profile by own time (includes the test client and the client's signing). "
            "cProfile's own cost\ninflates functions made of many tiny calls (PyJWT's "
            "per-character base64 check, say): --py-spy gives fairer shares."
        )
        stats.sort_stats("tottime").print_stats(30)
        print("CPU profile, cumulative, the tool's and pylti1p3's functions:")
        stats.sort_stats("cumulative").print_stats(r"lti_tool|pylti1p3", 40)
        for each in (app, counted):
            with each.app_context():
                db.engine.dispose()
    return 0


def code_version() -> str:
    """The commit measured, and whether the tool's code differed from it."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--", "lti_tool", "migrations"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        return "code version unknown"
    return f"commit {commit}" + (f" + {len(changed)} changed files" if changed else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=20.0, help="measured seconds (20)")
    parser.add_argument("--warmup", type=float, default=3.0, help="unmeasured seconds first (3)")
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients (50)")
    parser.add_argument(
        "--client-procs",
        type=int,
        default=2,
        help="processes the clients are spread over (2: one Python process would be GIL-bound)",
    )
    parser.add_argument(
        "--rate", type=float, default=0.0,
        help="offer this many launches/s in all (open loop) instead of a closed loop",
    )  # fmt: skip
    parser.add_argument(
        "--keep-alive", action="store_true",
        help="one connection per client (default: a new one per request, as nginx does)",
    )  # fmt: skip
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (2)")
    parser.add_argument("--threads", type=int, default=4, help="threads per gthread worker (4)")
    parser.add_argument("--worker-class", default="gthread", help="gunicorn worker class")
    parser.add_argument(
        "--app", default="", help="WSGI app for gunicorn (default: the config's lti_tool.wsgi:app)"
    )
    parser.add_argument(
        "--baseline",
        type=float,
        default=5.0,
        help="seconds of GET /lti/config.json afterwards, as a yardstick (0: skip)",
    )
    parser.add_argument("--database-url", default=DEFAULT_DB, help="PostgreSQL to create in")
    parser.add_argument("--broker-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="instead: N launches in this process under cProfile, with DB round trips counted",
    )
    parser.add_argument("--profile-out", default="", help="write the cProfile data here")
    parser.add_argument(
        "--py-spy", default="", metavar="FILE",
        help="sample the gunicorn workers with py-spy while measured; collapsed stacks to FILE",
    )  # fmt: skip
    args = parser.parse_args(argv)

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    # Ctrl-C raises KeyboardInterrupt even where a shell started us with SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    print(
        f"Beeldcoach launch benchmark, {time.strftime('%Y-%m-%d %H:%M')}, {code_version()}, "
        f"{host_platform.node()} ({os.cpu_count()} cores), Python {host_platform.python_version()}"
    )
    try:
        return profile(args) if args.profile else benchmark(args)
    except KeyboardInterrupt:
        print("\ninterrupted; cleaned up")
        return 130


if __name__ == "__main__":
    sys.exit(main())
