"""The whole pipeline on one file in-process, and `beeldcoach media transcode INPUT OUTDIR`."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from lti_tool.media import pipeline
from lti_tool.media.ffmpeg import MediaError, probe

# Share of the total progress per stage: the video itself dominates when re-encoding.
STAGES_REMUX = {"video": 0.6, "poster": 0.05, "thumbs": 0.35}
STAGES_ENCODE = {"video": 0.9, "poster": 0.02, "thumbs": 0.08}


def transcode_file(
    input_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    on_progress: Callable[[float], None] | None = None,
    chunk_s: float = 10.0,
) -> dict[str, Any]:
    """Probe, plan, remux or encode (HLS chunks + web.mp4), poster and thumbnails; a summary."""
    started = time.monotonic()
    src = Path(input_path)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pr = probe(src)
    plan = pipeline.plan(pr)
    stages = STAGES_REMUX if plan.mode == "remux" else STAGES_ENCODE
    done = 0.0
    written: list[Path] = []

    def stage(name: str) -> Callable[[float], None] | None:
        if on_progress is None:
            return None
        base, share = done, stages[name]
        report = on_progress
        return lambda fraction: report(min(1.0, base + share * fraction))

    web = out / "web.mp4"
    if plan.mode == "remux":
        pipeline.remux(src, web, pr, stage("video"))
    else:
        hls = out / "hls"
        ranges = pipeline.chunk_ranges(pr, plan, chunk_s)
        segments: list[tuple[str, float]] = []
        total = sum(d for _, _, d in ranges)
        for index, start, duration in ranges:
            name = f"seg_{index:05d}.ts"
            offset = start / total
            video_progress = stage("video")

            def chunk_progress(
                fraction: float,
                report: Callable[[float], None] | None = video_progress,
                offset: float = offset,
                duration: float = duration,
            ) -> None:
                if report is not None:
                    report(0.95 * (offset + fraction * duration / total))

            pipeline.encode_chunk(src, hls / name, pr, plan, start, duration, chunk_progress)
            segments.append((name, duration))
            written.append(hls / name)
            # The playlist grows as chunks land: playback can start after the first one.
            _write_text(hls / "index.m3u8", pipeline.hls_playlist(segments, ended=False))
        _write_text(hls / "index.m3u8", pipeline.hls_playlist(segments, ended=True))
        written.append(hls / "index.m3u8")
        pipeline.join_chunks(
            [hls / name for name, _ in segments], web, durations=[d for _, d in segments]
        )
    written.append(web)
    done += stages["video"]
    pipeline.poster(web, out / "poster.jpg", probe(web))
    written.append(out / "poster.jpg")
    done += stages["poster"]
    thumbs = pipeline.thumbnails(web, out / "thumbs", probe(web))
    written += [out / "thumbs" / name for name in thumbs.files]
    if on_progress is not None:
        on_progress(1.0)
    elapsed = time.monotonic() - started
    return {
        "input": str(src),
        "probe": pr.to_json(),
        "mode": plan.mode,
        "reasons": plan.reasons,
        "plan": plan.to_json(),
        "duration_s": round(pr.duration_s, 6),
        "fps": str(plan.fps),
        "frame_count": max(1, round(pr.duration_s * plan.fps))
        if plan.mode == "reencode"
        else pr.frame_count,
        "elapsed_s": round(elapsed, 3),
        "realtime_factor": round(pr.duration_s / elapsed, 2) if elapsed > 0 else None,
        "thumbs": thumbs.to_json(),
        "files": [str(p.relative_to(out)) for p in written],
    }


def _write_text(path: Path, text: str) -> None:
    """Write via a temporary file and a rename, so players never read half a playlist."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def main(argv: Sequence[str] | None = None) -> int:
    """Transcode INPUT into OUTDIR; the JSON summary on stdout, exit 2 on a bad input."""
    parser = argparse.ArgumentParser(
        prog="beeldcoach media transcode",
        description="Probe a recording and make the web version, HLS chunks, poster, thumbnails.",
    )
    parser.add_argument("input", help="the recording (mp4, mov, mkv, ...)")
    parser.add_argument("outdir", help="folder for web.mp4, hls/, poster.jpg and thumbs/")
    parser.add_argument("--chunk-seconds", type=float, default=10.0, help="HLS chunk length")
    args = parser.parse_args(argv)
    src = Path(args.input)
    if not src.is_file():
        print(f"error: {src} does not exist or is not a file", file=sys.stderr)
        return 2
    try:
        summary = transcode_file(src, args.outdir, chunk_s=args.chunk_seconds)
    except MediaError as exc:
        if not exc.path:
            exc.path = str(src)
        print(f"error: {exc.user_message()}", file=sys.stderr)
        return 2
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
