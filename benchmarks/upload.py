"""A tus upload of N GB over loopback against the real servers: MB/s, the server's memory and
CPU, and a direct disk write of the same size (dd) as the yardstick.

Builds a throwaway instance (embedded settings: SQLite, local media, staging folder on the same
disk), a coach with a traject in its cycles and a launch (API token) made directly in the
database, then starts the server as operators do and uploads with a plain http.client client
(POST, then PATCHes of --chunk-mib each, one keep-alive connection, the way tus-js-client does
with a fixed chunk size). The last PATCH completes the upload: the bytes are probed (random
bytes: rejected as not video, as quickly as a real file is accepted) and renamed into the media
folder, all inside the measured time.

    python benchmarks/upload.py                   # 1 GB, werkzeug (`beeldcoach serve`)
    python benchmarks/upload.py --gb 2 --gunicorn # the issue's 2 GB, also under gunicorn
    python benchmarks/upload.py --gb 0.2 --chunk-mib 64

Memory: the server process's VmRSS (for gunicorn: each worker's) sampled every 10 ms from
/proc; "above idle" is the peak minus the RSS after a warm-up upload. Target: < 100 MB.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import http.client
import os
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import common

MB = 1_000_000
MIB = 1024 * 1024


# --- a throwaway instance ---------------------------------------------------------------------


def make_instance(base: Path) -> tuple[dict[str, str], str, int]:
    """Settings, schema and data: the environment for the server, an API token, a traject."""
    os.environ.pop("BEELDCOACH_DATABASE_URL", None)
    env = common.instance_env(base)
    from lti_tool.db import db, utcnow
    from lti_tool.launch.models import Launch
    from lti_tool.launch.session import api_token

    with common.instance_app(env):
        bench = common.traject_with_intake()
        launch = Launch(
            id=uuid.uuid4().hex, platform_id=bench.platform.id,
            deployment_pk=bench.deployment.id, user_id=bench.coach.id, course_id=bench.course.id,
            message_type="LtiResourceLinkRequest", roles=["coach"], claims={},
            expires_at=utcnow() + timedelta(hours=8),
        )  # fmt: skip
        db.session.add(launch)
        db.session.commit()
        token = api_token(launch)
        traject_id = bench.traject.id
    return env, token, traject_id


@contextlib.contextmanager
def server(kind: str, env: dict[str, str], logs: Path) -> Iterator[tuple[int, int]]:
    """(pid, port) of `beeldcoach serve` (werkzeug, threaded) or gunicorn with the operators'
    config (gthread, 2 workers x 4 threads)."""
    port = common.free_port()
    if kind == "werkzeug":
        argv = common.werkzeug_argv(port)
    else:
        argv = common.gunicorn_argv(port, str(logs / "access.log"), logs / "gunicorn.ctl")
    with common.serve(argv, env, logs / f"{kind}.log", port) as proc:
        yield proc.pid, port


# --- memory and CPU from /proc ----------------------------------------------------------------


def _status_kb(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def serving_pids(pid: int) -> list[int]:
    """The processes that handle requests: gunicorn's workers, or the server itself."""
    return _children(pid) or [pid]


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


class RssSampler:
    """The largest VmRSS of each process, sampled every 10 ms while running."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self.peak = dict.fromkeys(pids, 0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for pid in self.pids:
                self.peak[pid] = max(self.peak[pid], _status_kb(pid, "VmRSS"))
            time.sleep(0.01)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


# --- the client -------------------------------------------------------------------------------


def tus_upload(port: int, token: str, traject_id: int, total: int, chunk: bytes) -> float:
    """One whole upload; the seconds from the first PATCH to the last answer."""
    auth = {"Authorization": f"Bearer {token}", "Tus-Resumable": "1.0.0"}
    meta = ",".join(
        f"{k} {base64.b64encode(v.encode()).decode()}"
        for k, v in {
            "traject": str(traject_id),
            "cycle": "1",
            "filename": "bench.mp4",
            "filetype": "video/mp4",
        }.items()  # fmt: skip
    )
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    conn.request("POST", "/api/uploads", headers={**auth, "Upload-Length": str(total),
                                                  "Upload-Metadata": meta})  # fmt: skip
    created = conn.getresponse()
    created.read()
    if created.status != 201:
        raise SystemExit(f"creation failed: {created.status}")
    path = created.getheader("Location") or ""
    offset = 0
    view = memoryview(chunk)
    started = time.perf_counter()
    while offset < total:
        n = min(len(chunk), total - offset)
        conn.request("PATCH", path, body=view[:n], headers={
            **auth, "Upload-Offset": str(offset),
            "Content-Type": "application/offset+octet-stream",
        })  # fmt: skip
        answer = conn.getresponse()
        body = answer.read()
        if answer.status != 204:
            raise SystemExit(f"PATCH at {offset} failed: {answer.status} {body[:300]!r}")
        offset = int(answer.getheader("Upload-Offset") or 0)
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


def dd_write(folder: Path, total: int, block: int) -> float:
    """MB/s of dd writing the same size to the same disk, synced (conv=fsync)."""
    target = folder / "dd.bin"
    count = max(1, total // block)
    started = time.perf_counter()
    subprocess.run(
        ["dd", "if=/dev/zero", f"of={target}", f"bs={block}", f"count={count}", "conv=fsync"],
        check=True, capture_output=True,
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    target.unlink()
    os.sync()
    return count * block / elapsed / MB


def measure(kind: str, env: dict[str, str], token: str, traject_id: int, args: Any,
            base: Path) -> dict[str, float]:  # fmt: skip
    total = int(args.gb * 1e9)
    chunk = os.urandom(args.chunk_mib * MIB)
    logs = base / "logs"
    with server(kind, env, logs) as (pid, port):
        # Warm-up: modules, the database, ffprobe in the page cache; then the idle RSS.
        tus_upload(port, token, traject_id, 3 * MIB, chunk[:MIB])
        time.sleep(0.5)
        pids = serving_pids(pid)
        idle = {p: _status_kb(p, "VmRSS") for p in pids}
        cpu0 = cpu_seconds(pids)
        with RssSampler(pids) as sampler:
            seconds = tus_upload(port, token, traject_id, total, chunk)
        cpu = cpu_seconds(pids) - cpu0
        above = max(sampler.peak[p] - idle[p] for p in pids) / 1024
        return {
            "mb_s": total / seconds / MB,
            "seconds": seconds,
            "idle_mb": max(idle.values()) / 1024,
            "peak_above_idle_mb": above,
            "cpu_s": cpu,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gb", type=float, default=1.0, help="upload size in GB (default 1)")
    parser.add_argument("--chunk-mib", type=int, default=32, help="PATCH size (default 32 MiB)")
    parser.add_argument("--gunicorn", action="store_true", help="also under gunicorn (gthread)")
    parser.add_argument("--dir", default=None, help="folder for the instance (default: a temp)")
    args = parser.parse_args()

    base = Path(tempfile.mkdtemp(prefix="bc-upload-", dir=args.dir))
    try:
        free = shutil.disk_usage(base).free
        if free < 2.2 * args.gb * 1e9:
            raise SystemExit(f"{free / 1e9:.1f} GB free in {base}: not enough for {args.gb} GB")
        (base / "logs").mkdir()
        env, token, traject_id = make_instance(base)
        print(f"tus upload of {args.gb:g} GB over loopback in PATCHes of {args.chunk_mib} MiB; "
              f"instance in {base}; {os.cpu_count()} cores")  # fmt: skip
        kinds = ["werkzeug"] + (["gunicorn"] if args.gunicorn else [])
        # Each measurement starts with no dirty pages left over from the one before.
        # Three passes: on this VM's thin-provisioned disk the first write to fresh blocks ran
        # at a third of the speed of later passes over blocks just freed; report all three.
        os.sync()
        passes = [dd_write(base, int(args.gb * 1e9), args.chunk_mib * MIB) for _ in range(3)]
        disk = sorted(passes)[1]
        results = {}
        for kind in kinds:
            os.sync()
            results[kind] = measure(kind, env, token, traject_id, args, base)
        print()
        print(f"{'server':<34} {'MB/s':>7} {'of dd':>6} {'s':>7} {'CPU s':>6} "
              f"{'idle RSS':>9} {'peak above idle':>16}")  # fmt: skip
        for kind, r in results.items():
            label = "beeldcoach serve (werkzeug)" if kind == "werkzeug" else "gunicorn gthread 2x4"
            print(
                f"{label:<34} {r['mb_s']:>7.0f} {r['mb_s'] / disk:>6.0%} {r['seconds']:>7.1f} "
                f"{r['cpu_s']:>6.1f} {r['idle_mb']:>6.0f} MB {r['peak_above_idle_mb']:>13.1f} MB"
            )
        print(f"{'dd if=/dev/zero bs=chunk conv=fsync':<34} {disk:>7.0f}  (median of "
              f"{', '.join(f'{p:.0f}' for p in passes)} MB/s)")  # fmt: skip
        for kind, r in results.items():
            per_gb = r["cpu_s"] / args.gb
            print(f"{kind}: {per_gb:.1f} CPU-s per GB in the server: at most ~{1000 / per_gb:.0f} "
                  "MB/s per busy core")  # fmt: skip
        worst = max(r["peak_above_idle_mb"] for r in results.values())
        print(f"\ntarget: peak RSS < 100 MB above idle: {'met' if worst < 100 else 'MISSED'} "
              f"({worst:.1f} MB)")  # fmt: skip
        summary = " ".join(f"{k}={r['mb_s']:.0f}MB/s,{r['peak_above_idle_mb']:.1f}MB"
                           for k, r in results.items())  # fmt: skip
        print(
            f"SUMMARY upload gb={args.gb:g} chunk={args.chunk_mib}MiB {summary} dd={disk:.0f}MB/s"
        )
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
