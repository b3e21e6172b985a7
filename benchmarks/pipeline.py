"""Benchmark of the video pipeline against bare ffmpeg with the same arguments.

Makes two phone-like inputs with ffmpeg (noisy testsrc2, 1080p30): H.264 at ~10 Mbit/s and
HEVC at ~6 Mbit/s, then measures in one run:

1. remux (pipeline.remux) against bare ffmpeg with the same arguments: x real time, overhead %;
2. encoding one 10 s chunk (pipeline.encode_chunk) against bare ffmpeg with the same command
   line: x real time and overhead % (the target is at most 10 %);
3. for the HEVC input: time to the first playable HLS segment (probe + plan + chunk 0) and the
   total sequential encode (all chunks + join), as x real time.

Usage:
    python benchmarks/pipeline.py                # 1-minute inputs, a few minutes in all
    python benchmarks/pipeline.py --minutes 10   # the 10-minute run (making the HEVC input
                                                 # alone takes ~15-20 min on 2 cores)
    python benchmarks/pipeline.py --workdir bench-work --keep   # reuse inputs between runs

Quote figures as ratios to docs/BASELINES (same machine, same run), as absolute times drift.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lti_tool.media import ffmpeg as ff  # noqa: E402
from lti_tool.media import pipeline  # noqa: E402

NOISY = "testsrc2=size=1920x1080:rate=30,noise=alls=12:allf=t"


def make_inputs(workdir: Path, minutes: float) -> tuple[Path, Path]:
    seconds = str(round(minutes * 60, 3))
    h264, hevc = workdir / "phone_h264.mp4", workdir / "phone_hevc.mp4"
    audio = ["-f", "lavfi", "-t", seconds, "-i", "sine=frequency=440:sample_rate=48000"]
    common = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y"]
    video = ["-f", "lavfi", "-t", seconds, "-i", NOISY]
    if not h264.exists():
        print(f"making {h264.name} ({seconds} s, 1080p30 H.264 ~10 Mbit/s) ...", flush=True)
        subprocess.run(
            [*common, *video, *audio, "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "10M"]
            + ["-maxrate", "12M", "-bufsize", "20M", "-pix_fmt", "yuv420p", "-g", "30"]
            + ["-c:a", "aac", "-b:a", "128k", "-shortest", str(h264)],
            check=True,
        )
    if not hevc.exists():
        print(f"making {hevc.name} ({seconds} s, 1080p30 HEVC ~6 Mbit/s) ...", flush=True)
        subprocess.run(
            [*common, *video, *audio, "-c:v", "libx265", "-preset", "ultrafast", "-b:v", "6M"]
            + ["-x265-params", "log-level=error:keyint=30", "-pix_fmt", "yuv420p"]
            + ["-tag:v", "hvc1", "-c:a", "aac", "-b:a", "128k", "-shortest", str(hevc)],
            check=True,
        )
    return h264, hevc


def timed(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def median_of(runs: int, fn: Callable[[], Any]) -> float:
    return statistics.median(timed(fn) for _ in range(runs))


class Recorder:
    """Wraps ff.run to keep the last command line the pipeline ran, for the bare comparison."""

    def __init__(self) -> None:
        self.argv: list[str] = []
        self._run = ff.run

    def __enter__(self) -> Recorder:
        def run(stream: Any, **kwargs: Any) -> str:
            self.argv = ff.command(stream)
            return self._run(stream, **kwargs)

        ff.run = run  # type: ignore[assignment]
        return self

    def __exit__(self, *exc: object) -> None:
        ff.run = self._run  # type: ignore[assignment]


def bare(argv: list[str], out: Path) -> None:
    """The same command without our progress pipe, writing to out."""
    args = list(argv)
    i = args.index("-progress")
    del args[i : i + 2]
    args[-2 if args[-1] == "-y" else -1] = str(out)
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=1.0, help="input length (default 1)")
    parser.add_argument("--runs", type=int, default=3, help="repetitions of the fast steps")
    parser.add_argument("--workdir", type=Path, help="keep inputs here (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="do not delete the workdir")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bc-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    rows: list[tuple[str, str, str]] = []
    try:
        h264, hevc = make_inputs(workdir, args.minutes)
        out = workdir / "out"
        out.mkdir(exist_ok=True)

        # 1. remux
        probe_s = median_of(args.runs, lambda: ff.probe(h264))
        pr = ff.probe(h264)
        assert pipeline.plan(pr).mode == "remux", pipeline.plan(pr)
        with Recorder() as rec:
            pipeline.remux(h264, out / "remux.mp4", pr)
        argv = rec.argv
        ours = median_of(args.runs, lambda: pipeline.remux(h264, out / "remux.mp4", pr))
        theirs = median_of(args.runs, lambda: bare(argv, out / "bare.mp4"))
        rows += [
            ("probe (2 ffprobe calls)", f"{probe_s:.3f} s", ""),
            ("remux, pipeline", f"{ours:.2f} s", f"{pr.duration_s / ours:.0f}x RT"),
            ("remux, bare ffmpeg", f"{theirs:.2f} s", f"{pr.duration_s / theirs:.0f}x RT"),
            ("remux overhead", f"{(ours / theirs - 1) * 100:+.1f} %", ""),
        ]

        # 2. one 10 s chunk of the H.264 input, re-encoded to 720p
        plan = pipeline.Plan("reencode", ["bench"], pr.fps, 1280, 720)
        _, start, duration = pipeline.chunk_ranges(pr, plan)[0]
        with Recorder() as rec:
            pipeline.encode_chunk(h264, out / "chunk.ts", pr, plan, start, duration)
        argv = rec.argv
        runs = max(1, args.runs - 1)
        ours = median_of(
            runs,
            lambda: pipeline.encode_chunk(h264, out / "chunk.ts", pr, plan, start, duration),
        )
        theirs = median_of(runs, lambda: bare(argv, out / "bare.ts"))
        rows += [
            (
                f"chunk {duration:.0f} s 1080p->720p, pipeline",
                f"{ours:.2f} s",
                f"{duration / ours:.2f}x RT",
            ),  # fmt: skip
            ("chunk, bare ffmpeg", f"{theirs:.2f} s", f"{duration / theirs:.2f}x RT"),
            ("chunk overhead", f"{(ours / theirs - 1) * 100:+.1f} %", "target <= 10 %"),
        ]

        # 3. HEVC: first playable segment, then everything
        started = time.perf_counter()
        hpr = ff.probe(hevc)
        hplan = pipeline.plan(hpr)
        ranges = pipeline.chunk_ranges(hpr, hplan)
        hls = out / "hls"
        _, start, duration = ranges[0]
        pipeline.encode_chunk(hevc, hls / "seg_00000.ts", hpr, hplan, start, duration)
        first = time.perf_counter() - started
        for index, start, duration in ranges[1:]:
            pipeline.encode_chunk(hevc, hls / f"seg_{index:05d}.ts", hpr, hplan, start, duration)
        encoded = time.perf_counter() - started
        pipeline.join_chunks(
            [hls / f"seg_{i:05d}.ts" for i, _, _ in ranges],
            out / "hevc_web.mp4",
            durations=[d for _, _, d in ranges],
        )
        total = time.perf_counter() - started
        rows += [
            (
                f"HEVC plan: {hplan.mode} {','.join(hplan.reasons)}",
                f"{hplan.width}x{hplan.height}@{float(hplan.fps):.3f}",
                "",
            ),  # fmt: skip
            ("HEVC first playable segment", f"{first:.2f} s", "probe+plan+chunk 0"),
            (
                f"HEVC all {len(ranges)} chunks",
                f"{encoded:.1f} s",
                f"{hpr.duration_s / encoded:.2f}x RT",
            ),  # fmt: skip
            ("HEVC chunks + join", f"{total:.1f} s", f"{hpr.duration_s / total:.2f}x RT"),
        ]
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"\ninputs: {args.minutes:g} min 1080p30, {workdir}")
    width = max(len(r[0]) for r in rows)
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>14}  {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
