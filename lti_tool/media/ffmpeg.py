"""The only door to ffmpeg and ffprobe: probing files, running ffmpeg with progress, and errors."""

from __future__ import annotations

import collections
import json
import math
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import ffmpeg

ErrorCode = Literal[
    "empty",
    "not_video",
    "truncated",
    "no_video_stream",
    "ffmpeg_failed",
    "ffmpeg_missing",
    "source_missing",
]

# One-line English explanations for logs and the CLI; the web layer translates codes itself.
MESSAGES: dict[str, str] = {
    "empty": "is empty (0 bytes)",
    "source_missing": "is missing (not found where it was stored)",
    "not_video": "is not a video file (ffprobe could not read it)",
    "truncated": "is incomplete (the upload or copy was cut short)",
    "no_video_stream": "has no video stream (audio only?)",
    "ffmpeg_failed": "could not be processed by ffmpeg",
    "ffmpeg_missing": "cannot be processed: ffmpeg/ffprobe is not installed",
}

HDR_TRANSFERS = frozenset({"smpte2084", "arib-std-b67"})
# Seconds of packets read at the start to judge frame-rate regularity; demuxing only, cheap.
# A later rate change is still caught where it matters (the remux path, MP4/MOV): there
# avg_frame_rate comes from the whole index and r_frame_rate from the start, so they disagree
# by more than 1 %, or, for a short dip, the indexed frame count drifts from duration x rate
# (VFR_DRIFT_FRAMES). Matroska/WebM may hide it, but those are re-encoded to constant rate.
VFR_SAMPLE_S = 5
# Frames the index may count off from duration x rate before a file counts as VFR (rounding of
# the last frame's duration, an edit list), or 1 in 2000 of a long file's frames.
VFR_DRIFT_FRAMES = 3
PROGRESS_INTERVAL_S = 0.5
STDERR_TAIL_LINES = 20


class MediaError(Exception):
    """A file ffmpeg cannot (or may not) handle; `code` is stable, `detail` is for logs only."""

    def __init__(
        self, code: ErrorCode | str, detail: str = "", path: str | os.PathLike[str] = ""
    ) -> None:
        # Callers may add codes of their own (e.g. "source_missing"); ours are ErrorCode.
        self.code: str = code
        self.detail = detail
        self.path = str(path)
        super().__init__(f"{code}: {detail}" if detail else code)

    def user_message(self) -> str:
        """One line such as "input.mp4 is not a video file (ffprobe could not read it)"."""
        name = Path(self.path).name if self.path else "the file"
        return f"{name} {MESSAGES.get(self.code, self.code)}"


def binaries() -> tuple[str, str]:
    """Absolute paths of (ffmpeg, ffprobe) on PATH."""
    ff, fp = shutil.which("ffmpeg"), shutil.which("ffprobe")
    if not ff or not fp:
        raise MediaError("ffmpeg_missing", f"ffmpeg={ff!r} ffprobe={fp!r} on PATH")
    return ff, fp


def _fraction(text: str | None) -> Fraction:
    """ffprobe's "30000/1001"; "0/0" and garbage mean unknown, as Fraction(0)."""
    if not text:
        return Fraction(0)
    try:
        num, _, den = text.partition("/")
        return Fraction(int(num), int(den or 1)) if int(den or 1) else Fraction(0)
    except ValueError:
        return Fraction(0)


def _float(value: Any) -> float | None:
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None
    return result if math.isfinite(result) else None


@dataclass(frozen=True)
class Probe:
    """What the pipeline needs to know about one recording, from ffprobe."""

    path: str
    format_name: str
    size: int
    duration_s: float
    start_s: float
    format_start_s: float
    video_index: int
    audio_index: int | None
    keyframe_interval_s: float | None
    bit_rate: int
    has_audio: bool
    video_codec: str
    profile: str
    pix_fmt: str
    bit_depth: int
    width: int
    height: int
    sar: Fraction
    rotation: int
    display_width: int
    display_height: int
    avg_fps: Fraction
    r_fps: Fraction
    is_vfr: bool
    frame_count: int
    color_transfer: str
    color_primaries: str
    field_order: str
    audio_codec: str
    audio_channels: int
    audio_sample_rate: int

    @property
    def fps(self) -> Fraction:
        """The frame rate to count frames by: r_frame_rate when regular, else the average."""
        if not self.is_vfr and 0 < self.r_fps <= 240:
            return self.r_fps
        return self.avg_fps if self.avg_fps > 0 else self.r_fps

    @property
    def is_hdr(self) -> bool:
        return self.color_transfer in HDR_TRANSFERS

    @property
    def is_portrait(self) -> bool:
        return self.display_height > self.display_width

    def to_json(self) -> dict[str, Any]:
        """JSON-able; Probe.from_json(p.to_json()) == p."""
        return {
            "path": self.path,
            "format_name": self.format_name,
            "size": self.size,
            "duration_s": round(self.duration_s, 6),
            "start_s": round(self.start_s, 6),
            "format_start_s": round(self.format_start_s, 6),
            "video_index": self.video_index,
            "audio_index": self.audio_index,
            "keyframe_interval_s": self.keyframe_interval_s,
            "bit_rate": self.bit_rate,
            "has_audio": self.has_audio,
            "video_codec": self.video_codec,
            "profile": self.profile,
            "pix_fmt": self.pix_fmt,
            "bit_depth": self.bit_depth,
            "width": self.width,
            "height": self.height,
            "sar": str(self.sar),
            "rotation": self.rotation,
            "display_width": self.display_width,
            "display_height": self.display_height,
            "avg_fps": str(self.avg_fps),
            "r_fps": str(self.r_fps),
            "fps": str(self.fps),
            "is_vfr": self.is_vfr,
            "frame_count": self.frame_count,
            "color_transfer": self.color_transfer,
            "color_primaries": self.color_primaries,
            "is_hdr": self.is_hdr,
            "field_order": self.field_order,
            "audio_codec": self.audio_codec,
            "audio_channels": self.audio_channels,
            "audio_sample_rate": self.audio_sample_rate,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Probe:
        """The Probe that to_json() described (stored with a recording, say)."""
        derived = {"fps", "is_hdr"}
        fractions = {"sar", "avg_fps", "r_fps"}
        values: dict[str, Any] = {}
        for name in cls.__dataclass_fields__:
            if name in derived:
                continue
            value = data.get(name)
            if name in fractions:
                value = Fraction(str(value or "0"))
            elif name == "path":
                value = str(value or "")
            values[name] = value
        return cls(**values)


def _ffprobe(path: str, **kwargs: Any) -> tuple[dict[str, Any], str]:
    """ffprobe's JSON for path, and its stderr (warnings such as "partial file")."""
    _, ffprobe_bin = binaries()
    args = [ffprobe_bin, "-hide_banner", "-v", "error", "-of", "json"]
    for key, value in kwargs.items():  # the same mapping as ffmpeg.probe's keyword arguments
        args += [f"-{key}"] if value is None else [f"-{key}", str(value)]
    args.append(path)
    proc = subprocess.run(args, capture_output=True, timeout=120, check=False)
    stderr = proc.stderr.decode("utf-8", "replace")
    if proc.returncode != 0:
        raise ffmpeg.Error("ffprobe", proc.stdout, proc.stderr)
    return json.loads(proc.stdout or b"{}"), stderr


def _tail(text: str, lines: int = STDERR_TAIL_LINES) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _rotation(stream: dict[str, Any]) -> int:
    """Clockwise degrees a player must turn the stored picture, as 0/90/180/270."""
    for side in stream.get("side_data_list") or []:
        if "rotation" in side:
            # ffprobe reports the display matrix counter-clockwise (iPhone portrait: -90).
            return int(round(-float(side["rotation"]) / 90.0)) * 90 % 360
    tag = (stream.get("tags") or {}).get("rotate")
    if tag is not None:
        try:
            return int(round(float(tag) / 90.0)) * 90 % 360  # the old tag is clockwise
        except ValueError:
            return 0
    return 0


def _bit_depth(stream: dict[str, Any]) -> int:
    raw = stream.get("bits_per_raw_sample")
    if raw and str(raw).isdigit() and int(raw) > 0:
        return int(raw)
    pix = str(stream.get("pix_fmt") or "")
    for depth in (16, 14, 12, 10, 9):
        if f"p{depth}" in pix:
            return depth
    return 8


def _is_vfr(avg: Fraction, r: Fraction, durations: list[float]) -> bool:
    """Irregular frame timing: avg and r_frame_rate disagree, or packet durations vary.

    Phones record VFR in low light; remuxed as is, frame N is then not at N / fps, which the
    frame-exact stills and clip cuts rely on. Tiny differences (2997/100 vs 30000/1001) are
    rounding in the container, not VFR.
    """
    if avg > 0 and r > 0 and abs(float(avg) / float(r) - 1) > 0.01:
        return True
    values = sorted(d for d in durations if d > 0)
    if len(values) < 10:
        return False
    median = values[len(values) // 2]
    odd = sum(1 for d in values if abs(d - median) > 0.1 * median)
    # A single odd packet (a dropped frame, the stream's end) does not make a file VFR.
    return odd > max(1, len(values) // 50)


def _looks_like_mp4(path: str) -> bool:
    """The file starts with an ISO-BMFF box, so a missing moov means a cut, not a text file."""
    with open(path, "rb") as fh:
        head = fh.read(8)
    return head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot")


def probe(path: str | os.PathLike[str]) -> Probe:
    """Probe a recording; MediaError for empty, unreadable, audio-only and cut-short files."""
    p = str(path)
    # Object storage: ffmpeg reads a presigned URL with range requests (no local copy).
    remote = p.startswith(("http://", "https://"))
    size = -1
    if not remote:
        try:
            size = os.path.getsize(p)
        except OSError as exc:
            # A vanished file (storage trouble), not something wrong with the video.
            raise MediaError("source_missing", f"cannot read: {exc}", p) from exc
    if size == 0:
        raise MediaError("empty", "0 bytes", p)
    try:
        info, _ = _ffprobe(
            p,
            show_format=None,
            show_streams=None,
            show_entries="packet=stream_index,pts_time,duration_time,flags",
            read_intervals=f"%+{VFR_SAMPLE_S}",
        )
    except ffmpeg.Error as exc:
        detail = _tail(exc.stderr.decode("utf-8", "replace"))
        if "moov atom not found" in detail and not remote and _looks_like_mp4(p):
            raise MediaError("truncated", detail, p) from exc
        raise MediaError("not_video", detail, p) from exc
    fmt = info.get("format") or {}
    streams = info.get("streams") or []
    format_name = str(fmt.get("format_name") or "")
    if format_name == "tty" or not streams:
        # A text file passes as an ANSI-art "video" in the tty demuxer.
        raise MediaError("not_video", f"format {format_name or 'unknown'}", p)
    videos = [
        s
        for s in streams
        if s.get("codec_type") == "video" and not (s.get("disposition") or {}).get("attached_pic")
    ]
    audios = [s for s in streams if s.get("codec_type") == "audio"]
    if not videos:
        if audios:
            raise MediaError("no_video_stream", f"streams: {len(streams)} audio/other", p)
        raise MediaError("not_video", "no audio or video streams", p)
    v = videos[0]
    a = audios[0] if audios else {}
    if format_name.endswith("_pipe") or format_name == "image2":
        raise MediaError("not_video", f"a still image ({format_name})", p)

    duration = _float(v.get("duration")) or _float(fmt.get("duration"))
    v_index = int(v.get("index", 0))
    packets = [pk for pk in info.get("packets") or [] if pk.get("stream_index") == v_index]
    if not duration:
        # Browser (MediaRecorder) WebM has no duration in its header: read all timestamps.
        data, _ = _ffprobe(
            p, select_streams=f"{v_index}", show_entries="packet=pts_time,duration_time"
        )
        ends = [
            (_float(pk.get("pts_time")) or 0.0) + (_float(pk.get("duration_time")) or 0.0)
            for pk in data.get("packets") or []
        ]
        duration = max(ends, default=0.0)
    if not duration or duration <= 0:
        raise MediaError("not_video", "no duration", p)

    avg, r = _fraction(v.get("avg_frame_rate")), _fraction(v.get("r_frame_rate"))
    durations = [_float(pk.get("duration_time")) or 0.0 for pk in packets]
    if not any(durations):
        pts = sorted(t for t in (_float(pk.get("pts_time")) for pk in packets) if t is not None)
        durations = [b - a_ for a_, b in zip(pts, pts[1:], strict=False)]
    elif len(packets) > 2 and duration <= VFR_SAMPLE_S + 0.5:
        durations = durations[:-1]  # the very last packet of a short file is often cut short
    vfr = _is_vfr(avg, r, durations)
    nb_frames = v.get("nb_frames")
    counted = int(nb_frames) if nb_frames and str(nb_frames).isdigit() else 0
    if not vfr and counted and 0 < r <= 240 and _float(v.get("duration")):
        # The index counts every frame: at a constant rate they fill the duration exactly. A
        # dip later in the lesson (low light) that the sampled start and the 1 % avg/r test
        # miss still leaves frame N far from N / r.
        expected = float(_float(v.get("duration")) or 0.0) * float(r)
        vfr = abs(counted - expected) > max(VFR_DRIFT_FRAMES, expected / 2000)
    key_times = sorted(
        t
        for pk in packets
        if "K" in str(pk.get("flags", "")) and (t := _float(pk.get("pts_time"))) is not None
    )
    gaps = [b - a_ for a_, b in zip(key_times, key_times[1:], strict=False)]
    keyframe_interval = round(max(gaps), 3) if gaps else None
    fps_for_count = r if (not vfr and 0 < r <= 240) else (avg or r)
    if counted > 0:
        frame_count = counted
    else:
        frame_count = round(duration * float(fps_for_count)) if fps_for_count else 0

    width, height = int(v.get("width") or 0), int(v.get("height") or 0)
    sar = _fraction(str(v.get("sample_aspect_ratio") or "1:1").replace(":", "/")) or Fraction(1)
    rotation = _rotation(v)
    shown_w, shown_h = round(width * sar), height
    if rotation in (90, 270):
        shown_w, shown_h = shown_h, shown_w
    result = Probe(
        path=p,
        format_name=format_name,
        size=size if size >= 0 else int(_float(fmt.get("size")) or 0),
        duration_s=float(duration),
        start_s=_float(v.get("start_time")) or 0.0,
        format_start_s=_float(fmt.get("start_time")) or 0.0,
        video_index=v_index,
        audio_index=int(a["index"]) if a else None,
        keyframe_interval_s=keyframe_interval,
        bit_rate=int(_float(fmt.get("bit_rate")) or 0),
        has_audio=bool(audios),
        video_codec=str(v.get("codec_name") or ""),
        profile=str(v.get("profile") or ""),
        pix_fmt=str(v.get("pix_fmt") or ""),
        bit_depth=_bit_depth(v),
        width=width,
        height=height,
        sar=sar,
        rotation=rotation,
        display_width=shown_w,
        display_height=shown_h,
        avg_fps=avg,
        r_fps=r,
        is_vfr=vfr,
        frame_count=frame_count,
        color_transfer=str(v.get("color_transfer") or ""),
        color_primaries=str(v.get("color_primaries") or ""),
        field_order=str(v.get("field_order") or ""),
        audio_codec=str(a.get("codec_name") or ""),
        audio_channels=int(a.get("channels") or 0),
        audio_sample_rate=int(_float(a.get("sample_rate")) or 0),
    )
    _check_complete(result, v_index)
    return result


def _check_complete(pr: Probe, v_index: int) -> None:
    """Raise "truncated" when the index promises packets the file does not hold.

    A faststart mp4 cut short still has its complete moov at the front, so ffprobe reports the
    full duration; only reading the last seconds' packets shows the hole (ffprobe then stops
    early with "partial file", or packet positions point past the end of the file).
    """
    tail_from = max(0.0, pr.start_s + pr.duration_s - 2.0)
    try:
        data, stderr = _ffprobe(
            pr.path,
            select_streams=f"{v_index}",
            show_entries="packet=pts_time,duration_time,pos,size",
            read_intervals=f"{tail_from:.3f}%",
        )
    except ffmpeg.Error as exc:
        detail = _tail(exc.stderr.decode("utf-8", "replace"))
        raise MediaError("truncated", detail, pr.path) from exc
    packets = data.get("packets") or []
    if "partial file" in stderr or not packets:
        raise MediaError("truncated", _tail(stderr) or "no packets near the end", pr.path)
    ends = [int(pk["pos"]) + int(pk["size"]) for pk in packets if str(pk.get("pos", "")).isdigit()]
    if ends and pr.size > 0 and max(ends) > pr.size:
        raise MediaError("truncated", f"packet data ends at {max(ends)} > size {pr.size}", pr.path)
    last = max((_float(pk.get("pts_time")) or 0.0) for pk in packets)
    # Packets stop well before the promised end: the file was cut (1 s slack for B-frames etc.).
    if last < pr.start_s + pr.duration_s - 1.0 - (1.0 / float(pr.fps) if pr.fps else 0.0):
        raise MediaError("truncated", f"last video packet at {last:.3f}s", pr.path)


Compilable = Any  # an ffmpeg-python output node (OutputStream / MergeOutputsNode)


def command(stream_or_args: Compilable | Sequence[str]) -> list[str]:
    """The full argv: ffmpeg, our global flags, then the stream's (or the given) arguments."""
    ffmpeg_bin, _ = binaries()
    if isinstance(stream_or_args, Sequence) and not isinstance(stream_or_args, str):
        rest = list(stream_or_args)
    else:
        rest = stream_or_args.compile(cmd=ffmpeg_bin)[1:]
    # -nostdin: a worker has no terminal, and ffmpeg would otherwise eat the caller's stdin.
    flags = ["-hide_banner", "-nostdin", "-nostats", "-loglevel", "warning"]
    flags += ["-progress", "pipe:1", "-y"]
    return [ffmpeg_bin, *flags, *rest]


def run(
    stream_or_args: Compilable | Sequence[str],
    *,
    total_s: float = 0.0,
    on_progress: Callable[[float], None] | None = None,
    timeout_s: float | None = None,
) -> str:
    """Run ffmpeg to completion, reporting progress 0..1; returns stderr's tail.

    Raises MediaError("ffmpeg_failed") on a non-zero exit. If on_progress raises (that is how a
    caller cancels), ffmpeg is killed and the exception propagates.
    """
    argv = command(stream_or_args)
    tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    stderr = proc.stderr

    def drain() -> None:
        # stderr must be read concurrently, or a chatty ffmpeg blocks on a full pipe.
        for raw in stderr:
            tail.append(raw.decode("utf-8", "replace").rstrip())

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    started = time.monotonic()
    last_report = 0.0
    first_us: int | None = None
    try:
        for raw in proc.stdout:
            key, _, value = raw.decode("ascii", "replace").strip().partition("=")
            if timeout_s is not None and time.monotonic() - started > timeout_s:
                raise MediaError("ffmpeg_failed", f"timed out after {timeout_s:.0f}s")
            if on_progress is None or total_s <= 0 or key not in ("out_time_us", "out_time_ms"):
                continue
            try:
                us = int(value)
            except ValueError:
                continue  # "N/A" before the first frame
            if first_us is None and us > 0:
                # An -output_ts_offset shows up in out_time; measure from the first report.
                first_us = us if us > total_s * 1e6 else 0
            now = time.monotonic()
            if now - last_report >= PROGRESS_INTERVAL_S:
                last_report = now
                done = (us - (first_us or 0)) / 1e6 / total_s
                on_progress(min(1.0, max(0.0, done)))
        returncode = proc.wait(timeout=timeout_s)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    finally:
        reader.join(timeout=5)
        proc.stdout.close()
        stderr.close()
    if returncode != 0:
        raise MediaError("ffmpeg_failed", f"exit {returncode}: " + "\n".join(tail))
    if on_progress is not None:
        on_progress(1.0)
    return "\n".join(tail)


def video_duration(path: str | os.PathLike[str]) -> float:
    """The first video stream's duration (of an MPEG-TS chunk, say), from ffprobe."""
    try:
        data, _ = _ffprobe(str(path), select_streams="v:0", show_entries="stream=duration")
    except ffmpeg.Error as exc:
        raise MediaError("not_video", _tail(exc.stderr.decode("utf-8", "replace")), path) from exc
    streams = data.get("streams") or [{}]
    value = _float(streams[0].get("duration"))
    if value is None:
        raise MediaError("not_video", "no video duration", path)
    return value


def filters() -> frozenset[str]:
    """Names of the filters this ffmpeg has (zscale and tonemap are optional builds)."""
    return _filters_cached()


_FILTERS: dict[str, frozenset[str]] = {}


def _filters_cached() -> frozenset[str]:
    ffmpeg_bin, _ = binaries()
    if ffmpeg_bin not in _FILTERS:
        out = subprocess.run(
            [ffmpeg_bin, "-hide_banner", "-filters"], capture_output=True, check=False, timeout=30
        ).stdout.decode("utf-8", "replace")
        names = set()
        for line in out.splitlines():
            parts = line.split()
            if len(parts) >= 3 and "->" in parts[2]:
                names.add(parts[1])
        _FILTERS[ffmpeg_bin] = frozenset(names)
    return _FILTERS[ffmpeg_bin]
