"""Random 1 MB byte ranges of a large media file, 20 clients at once, against the ways the tool
can send video: requests per second side by side.

    (a) `beeldcoach serve` (werkzeug, threaded) answering the signed media URL itself
    (b) gunicorn, sync, 2 workers, the same URL (the app's own Range code, no file wrapper)
    (b') gunicorn with the operators' config (gthread, 2 workers x 4 threads), the same URL
    (c) nginx in front of gunicorn (sync, 2): the app checks the link and access, answers with
        X-Accel-Redirect, nginx sends the bytes
    (c') the same with gunicorn as configured (gthread, 2 workers x 4 threads)
    (d) nginx serving the file directly (the machine's limit)

Every request through the app verifies the signed token and re-checks access in the database
(lti_tool.media.services.may_view), as in production. The file is random bytes (the servers do
not look inside). Uses wrk with a Lua script when installed (`apt-get install wrk`), else a
Python thread pool; (c) and (d) need nginx (`apt-get install nginx`; run here in the foreground
with a temporary config, nothing installed system-wide is touched).

    python benchmarks/streaming.py                         # 500 MB, 20 clients, 10 s each
    python benchmarks/streaming.py --size-mb 100 --duration 5 --only a,d
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import random
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import common

MIB = 1024 * 1024
ACCEL = "/protected-media/"

LUA = """
local size, block, path = 0, 0, "/"
function init(args)
  size, block, path = tonumber(args[1]), tonumber(args[2]), args[3]
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "1", 16) % 1000003)
end
function request()
  local start = math.random(0, size - block)
  return wrk.format("GET", path, { ["Range"] = "bytes=" .. start .. "-" .. (start + block - 1) })
end
"""

NGINX_CONF = """
worker_processes 2;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    upstream app {{ server 127.0.0.1:{app_port}; keepalive 16; }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
        }}
        # As in config/nginx.conf.
        location {accel} {{
            internal;
            alias {media}/;
            sendfile on;
            tcp_nopush off;
        }}
        location /direct/ {{
            alias {media}/;
            sendfile on;
            tcp_nopush off;
        }}
    }}
}}
"""


# --- a throwaway instance with one ready recording --------------------------------------------


def make_instance(base: Path, size: int) -> tuple[dict[str, str], str, str]:
    """The servers' environment, the signed URL's path, and the file's key."""
    env = common.instance_env(base)
    from lti_tool.db import db, utcnow
    from lti_tool.media.models import REC_READY, Recording
    from lti_tool.media.streaming import media_url

    with common.instance_app(env) as app:
        bench = common.traject_with_intake()
        coach = bench.coach
        recording = Recording(cycle_id=bench.cycle.id, uploaded_by_id=coach.id, original_key="x",
                              status=REC_READY, size=size, ready_at=utcnow())  # fmt: skip
        db.session.add(recording)
        db.session.flush()
        key = f"recordings/{recording.id}/web.mp4"
        recording.original_key = recording.rendition_key = key
        db.session.commit()
        with app.test_request_context():
            url = media_url(key, user_id=coach.id, subject=("recording", recording.id),
                            ttl=24 * 3600)  # fmt: skip
        media_dir = app.config["BEELDCOACH"].media_dir

    path = Path(media_dir) / key
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        block = os.urandom(8 * MIB)
        for start in range(0, size, len(block)):
            fh.write(block[: min(len(block), size - start)])
    # nginx's workers run as another user: let them into the throwaway folder.
    for folder in [base, *path.parents]:
        if folder == base.parent:
            break
        folder.chmod(0o755)
    return env, url, key


@contextlib.contextmanager
def werkzeug(env: dict[str, str], logs: Path) -> Iterator[int]:
    port = common.free_port()
    with common.serve(common.werkzeug_argv(port), env, logs / "werkzeug.log", port):
        yield port


@contextlib.contextmanager
def gunicorn(env: dict[str, str], logs: Path, sync: bool) -> Iterator[int]:
    port = common.free_port()
    argv = common.gunicorn_argv(port, "/dev/null", logs / f"gunicorn-{port}.ctl")
    if sync:
        argv += ["--worker-class", "sync", "--threads", "1"]
    with common.serve(argv, env, logs / "gunicorn.log", port):
        yield port


@contextlib.contextmanager
def nginx(base: Path, app_port: int, media: Path) -> Iterator[int]:
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    prefix = base / "nginx"
    prefix.mkdir(exist_ok=True)
    port = common.free_port()
    conf = prefix / "nginx.conf"
    conf.write_text(NGINX_CONF.format(prefix=prefix, port=port, app_port=app_port,
                                      media=media, accel=ACCEL))  # fmt: skip
    argv = [binary, "-p", str(prefix), "-c", str(conf), "-g", "daemon off;"]
    with common.serve(argv, dict(os.environ), prefix / "stdout.log", port, probe="/healthz"):
        yield port


# --- load -------------------------------------------------------------------------------------


def check(port: int, path: str, size: int, block: int) -> None:
    """One range by hand: the right status and length before measuring."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    start = size // 3
    conn.request("GET", path, headers={"Range": f"bytes={start}-{start + block - 1}"})
    answer = conn.getresponse()
    body = answer.read()
    conn.close()
    if answer.status != 206 or len(body) != block:
        raise SystemExit(f"{path}: {answer.status}, {len(body)} bytes")


def wrk_load(port: int, path: str, size: int, block: int, clients: int, seconds: int,
             script: Path) -> tuple[float, str]:  # fmt: skip
    argv = ["wrk", "-t2", f"-c{clients}", f"-d{seconds}s", "--timeout", "10s", "-s", str(script),
            f"http://127.0.0.1:{port}", "--", str(size), str(block), path]  # fmt: skip
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    note = ", ".join(x for x in (bad and f"{bad.group(1)} non-2xx",
                                 errors and f"socket errors {errors.group(1)}") if x)  # fmt: skip
    return rate, note


def python_load(port: int, path: str, size: int, block: int, clients: int,
                seconds: int) -> tuple[float, str]:  # fmt: skip
    """Without wrk: threads with keep-alive connections (the client then limits the rate)."""
    done = [0] * clients
    failures = [0] * clients
    deadline = time.monotonic() + seconds

    def loop(i: int) -> None:
        rng = random.Random(i)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.monotonic() < deadline:
            start = rng.randrange(0, size - block)
            try:
                conn.request("GET", path, headers={"Range": f"bytes={start}-{start + block - 1}"})
                answer = conn.getresponse()
                answer.read()
                done[i] += 1
                failures[i] += answer.status != 206
            except (OSError, http.client.HTTPException):
                failures[i] += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done) / seconds, f"{sum(failures)} failed" if sum(failures) else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=500)
    parser.add_argument("--block", type=int, default=1_000_000, help="range size in bytes")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--duration", type=int, default=10, help="seconds per server")
    parser.add_argument("--only", default="a,b,b2,c,c2,d", help="which of a,b,b2,c,c2,d")
    parser.add_argument("--python-client", action="store_true", help="not wrk")
    args = parser.parse_args()
    wanted = set(args.only.split(","))
    size = args.size_mb * 1_000_000
    use_wrk = shutil.which("wrk") is not None and not args.python_client
    has_nginx = shutil.which("nginx") is not None or Path("/usr/sbin/nginx").exists()

    base = Path(tempfile.mkdtemp(prefix="bc-stream-"))
    try:
        logs = base / "logs"
        logs.mkdir()
        env, url, key = make_instance(base, size)
        media = base / "media"
        script = base / "range.lua"
        script.write_text(LUA)
        print(f"{args.clients} clients, random {args.block / 1e6:g} MB ranges of a "
              f"{args.size_mb} MB file, {args.duration} s each; client: "
              f"{'wrk' if use_wrk else 'Python threads'}; {os.cpu_count()} cores")  # fmt: skip

        def load(port: int, path: str) -> tuple[float, str]:
            check(port, path, size, args.block)
            if use_wrk:
                return wrk_load(port, path, size, args.block, args.clients, args.duration,
                                script)  # fmt: skip
            return python_load(port, path, size, args.block, args.clients, args.duration)

        rows: list[tuple[str, float, str]] = []
        if "a" in wanted:
            with werkzeug(env, logs) as port:
                rows.append(("(a) beeldcoach serve (werkzeug), signed URL", *load(port, url)))
        if "b" in wanted:
            with gunicorn(env, logs, sync=True) as port:
                rows.append(("(b) gunicorn sync x2, signed URL", *load(port, url)))
        if "b2" in wanted:
            with gunicorn(env, logs, sync=False) as port:
                rows.append(("(b') gunicorn gthread 2x4, signed URL", *load(port, url)))
        accel_env = dict(env, BEELDCOACH_MEDIA_ACCEL_PREFIX=ACCEL)
        if {"c", "c2", "d"} & wanted and not has_nginx:
            print("nginx is not installed: (c) and (d) skipped (apt-get install nginx)")
        elif {"c", "d"} & wanted:
            with gunicorn(accel_env, logs, sync=True) as app_port, \
                    nginx(base, app_port, media) as port:  # fmt: skip
                if "c" in wanted:
                    rows.append(("(c) nginx + gunicorn sync x2, X-Accel", *load(port, url)))
                if "d" in wanted:
                    rows.append(("(d) nginx, the file directly", *load(port, "/direct/" + key)))
        if "c2" in wanted and has_nginx:
            with gunicorn(accel_env, logs, sync=False) as app_port, \
                    nginx(base, app_port, media) as port:  # fmt: skip
                rows.append(("(c') nginx + gunicorn gthread 2x4, X-Accel", *load(port, url)))

        print()
        top = max((r for _, r, _ in rows), default=1.0) or 1.0
        for label, rate, note in rows:
            mb = rate * args.block / 1e6
            print(f"{label:<46} {rate:>8.0f} requests/s {mb:>7.0f} MB/s {rate / top:>6.0%}"
                  + (f"  ({note})" if note else ""))  # fmt: skip
        summary = " ".join(f"{label.split()[0]}={rate:.0f}" for label, rate, _ in rows)
        print(f"SUMMARY streaming size={args.size_mb}MB clients={args.clients} {summary}")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
