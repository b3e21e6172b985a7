"""A recording through the real pipeline with real Celery workers: time to first playback and
total time, with one worker and with two.

What it does, per worker count:
  1. generates (once, cached in the temp folder) a 1080p30 HEVC recording of --minutes minutes,
     phone-like (one minute made by x265, then looped with stream copy);
  2. a fresh instance (SQLite, local media folder) and N `beeldcoach worker` processes, each
     with concurrency 1 (one encode per 2-core machine; see shared BASELINES.md), on Redis;
  3. the recording enters as a finished upload does (lti_tool.media.services.complete_upload),
     and the clock starts at that commit;
  4. "first playback" is the moment the first segment is stored, i.e. the moment the HLS
     playlist lists something playable; "total" is the moment the joined MP4 is ready;
  5. checks the result: frame count and duration of the joined MP4 against the source.

    python benchmarks/processing.py                 # 2-minute recording, workers 1 and 2
    python benchmarks/processing.py --minutes 10    # the issue's 10-minute figure

On this 2-core machine two workers share the same two cores, so the second worker shows that
the split and join are correct with several workers, not the speed-up (that needs machines).
Needs Redis (BEELDCOACH_BENCH_BROKER, default redis://127.0.0.1:6379/14) and ffmpeg.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import common
import redis
import sqlalchemy as sa

HERE = Path(__file__).resolve().parent
CACHE = Path(tempfile.gettempdir()) / "beeldcoach-bench"


def make_input(minutes: int) -> Path:
    CACHE.mkdir(exist_ok=True)
    one = CACHE / "hevc-1080p-1min.mp4"
    if not one.exists():
        print("generating one minute of 1080p30 HEVC (x265, a few minutes)...", flush=True)
        subprocess.run(
            [
                "ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
                "-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=30000/1001",
                "-f", "lavfi", "-i", "sine=frequency=300:sample_rate=48000",
                "-t", "60", "-vf", "noise=alls=12:allf=t",
                "-c:v", "libx265", "-preset", "ultrafast", "-b:v", "10M",
                "-x265-params", "log-level=error", "-tag:v", "hvc1",
                "-c:a", "aac", "-b:a", "128k", "-shortest", str(one) + ".tmp.mp4",
            ],
            check=True,
        )  # fmt: skip
        os.replace(str(one) + ".tmp.mp4", one)
    if minutes == 1:
        return one
    looped = CACHE / f"hevc-1080p-{minutes}min.mp4"
    if not looped.exists():
        subprocess.run(
            [
                "ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
                "-stream_loop", str(minutes - 1), "-i", str(one), "-c", "copy",
                "-tag:v", "hvc1", str(looped) + ".tmp.mp4",
            ],
            check=True,
        )  # fmt: skip
        os.replace(str(looped) + ".tmp.mp4", looped)
    return looped


def run(source: Path, workers: int, broker: str) -> dict[str, float | int | str]:
    instance = Path(tempfile.mkdtemp(prefix="beeldcoach-bench-"))
    env = dict(
        os.environ,
        BEELDCOACH_INSTANCE_PATH=str(instance),
        BEELDCOACH_BROKER_URL=broker,
    )
    exe = Path(sys.executable).with_name("beeldcoach")
    subprocess.run([str(exe), "db", "upgrade"], env=env, check=True, capture_output=True)
    redis.Redis.from_url(broker).flushdb()
    procs = [
        subprocess.Popen(
            [str(exe), "worker", "--concurrency=1", "--loglevel=WARNING"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(workers)
    ]
    try:
        time.sleep(4)  # workers connect
        os.environ.update(BEELDCOACH_INSTANCE_PATH=str(instance), BEELDCOACH_BROKER_URL=broker)
        from lti_tool import create_app
        from lti_tool.db import db
        from lti_tool.media import ffmpeg
        from lti_tool.media.models import Recording, Segment
        from lti_tool.media.storage import get_storage

        app = create_app({"instance_path": str(instance), "broker_url": broker})
        with app.app_context():
            recording_id = _stage(app, source)
            started = time.monotonic()
            db.session.commit()
            first = total = None
            while time.monotonic() - started < 3 * 3600:
                db.session.expire_all()
                recording = db.session.get(Recording, recording_id)
                assert recording is not None
                if recording.status == "failed":
                    raise SystemExit(f"failed: {recording.error_code}")
                if first is None and db.session.scalar(
                    sa.select(Segment.id).where(
                        Segment.recording_id == recording_id,
                        Segment.index == 0,
                        Segment.ready_at.is_not(None),
                    )
                ):
                    first = time.monotonic() - started
                if recording.status == "ready":
                    total = time.monotonic() - started
                    break
                time.sleep(0.2)
            assert first is not None and total is not None and recording.rendition_key
            with get_storage().local_path(recording.rendition_key) as rendition:
                out = ffmpeg.probe(rendition)
            src = ffmpeg.probe(source)
            expected = round(src.duration_s * float(recording.fps or 0))
            return {
                "workers": workers,
                "segments": recording.segment_count,
                "first_playback_s": round(first, 1),
                "total_s": round(total, 1),
                "x_realtime": round(src.duration_s / total, 2),
                "frames": out.frame_count,
                "frames_expected": expected,
                "duration_diff_ms": round(abs(out.duration_s - src.duration_s) * 1000),
            }
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(instance, ignore_errors=True)


def _stage(app: object, source: Path) -> int:
    """What the upload endpoint does with a finished upload (a copy into the staging folder)."""
    from lti_tool.media import services as media

    bench = common.traject_with_intake()
    return media.import_file(bench.cycle.id, bench.coach.id, source, "les.mp4").id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=int, default=2)
    parser.add_argument("--workers", default="1,2", help="worker counts to run, e.g. 1,2")
    parser.add_argument(
        "--broker",
        default=os.environ.get("BEELDCOACH_BENCH_BROKER", "redis://127.0.0.1:6379/14"),
    )
    args = parser.parse_args()
    source = make_input(args.minutes)
    print(f"input: {source.name}, {source.stat().st_size / 1e6:.0f} MB, {args.minutes} min")
    rows = [run(source, int(n), args.broker) for n in args.workers.split(",")]
    keys = list(rows[0])
    print("\t".join(keys))
    for row in rows:
        print("\t".join(str(row[k]) for k in keys))


if __name__ == "__main__":
    main()
