"""The video pipeline as pure functions over files: plan, remux, chunked encode, stills, montage."""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import ffmpeg as ffmpeg_python  # only to build streams; ffmpeg.py runs them

from lti_tool.media import ffmpeg as ff
from lti_tool.media.ffmpeg import MediaError, Probe

Progress = Callable[[float], None] | None
PathLike = str | os.PathLike[str]

GOP_S = 2  # keyframe spacing of everything we encode: HLS segments and chunks cut exactly there
MAX_FPS = Fraction(30)
STANDARD_RATES = [Fraction(r) for r in (10, 12, 15, 20, 24, 25, 30)] + [
    Fraction(24000, 1001),
    Fraction(30000, 1001),
]
LANDSCAPE_BOX = (1280, 720)
TOO_LARGE_BOX = (1920, 1080)  # 4K phone video: re-encode to 720p rather than serve 50 Mbit/s
AUDIO_RATE = 48000
AAC_FRAME = 1024  # samples per AAC packet; chunk audio is cut on these so packets never overlap
REMUX_CONTAINERS = ("mov,mp4",)
REMUX_PROFILES = frozenset({"High", "Main", "Baseline", "Constrained Baseline"})
REMUX_AUDIO = frozenset({"aac", "mp3"})
X264_PRESET = "veryfast"
X264_CRF = 23
THUMB_WIDTH = 160
THUMB_GRID = (10, 10)


@dataclass
class Plan:
    """What to do with a recording: stream-copy it, or re-encode it to this fps and size."""

    mode: Literal["remux", "reencode"]
    reasons: list[str] = field(default_factory=list)
    fps: Fraction = Fraction(30)
    width: int = 0
    height: int = 0
    tonemap: bool = False

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height

    @property
    def gop_frames(self) -> int:
        """Frames between keyframes: 2 s, or the nearest whole frame count (60 at 29.97 fps)."""
        return max(1, round(GOP_S * self.fps))

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "reasons": list(self.reasons),
            "fps": str(self.fps),
            "width": self.width,
            "height": self.height,
            "tonemap": self.tonemap,
        }


@dataclass(frozen=True)
class MontageClip:
    path: PathLike
    in_s: float
    out_s: float


@dataclass(frozen=True)
class ThumbResult:
    """Sprite sheets of thumbnails and the WebVTT that points players into them."""

    sheets: list[str]
    vtt_name: str
    vtt: str
    interval_s: float
    count: int
    width: int
    height: int

    @property
    def files(self) -> list[str]:
        """Every file written into out_dir: the sheets, then the VTT."""
        return [*self.sheets, self.vtt_name]

    def to_json(self) -> dict[str, Any]:
        return {
            "sheets": self.sheets,
            "vtt": self.vtt_name,
            "interval_s": self.interval_s,
            "count": self.count,
            "width": self.width,
            "height": self.height,
        }


# ---------------------------------------------------------------------------------------------
# Planning


def target_fps(source: Fraction) -> Fraction:
    """A standard rate at most 30: 59.94 -> 29.97, 50 -> 25, 25 -> 25, a VFR 28.7 -> 29.97."""
    if source <= 0:
        return Fraction(30000, 1001)
    rate = source
    if rate > MAX_FPS * Fraction(21, 20):  # 5 % slack: a VFR average of 31 is 30, not 15.5
        rate = rate / math.ceil(rate / (MAX_FPS * Fraction(21, 20)))
    return min(STANDARD_RATES, key=lambda std: abs(math.log(float(std) / float(rate))))


def _even(value: float) -> int:
    return max(2, int(round(value / 2.0)) * 2)


def target_size(width: int, height: int) -> tuple[int, int]:
    """Fit within 1280x720 (or 720x1280 upright), even sides, never upscaled."""
    box_w, box_h = LANDSCAPE_BOX if width >= height else LANDSCAPE_BOX[::-1]
    scale = min(1.0, box_w / width, box_h / height)
    fit_w = min(_even(width * scale), width - width % 2)
    return fit_w, min(_even(height * scale), height - height % 2)


def plan(probe: Probe) -> Plan:
    """Stream copy when browsers can play the file as is and frame N is at N / fps; else encode."""
    reasons: list[str] = []
    if not probe.format_name.startswith(REMUX_CONTAINERS):
        reasons.append("container")
    if probe.video_codec == "hevc":
        reasons.append("hevc")
    elif probe.video_codec != "h264":
        reasons.append("video_codec")
    if probe.bit_depth > 8:
        reasons.append("10bit")
    elif probe.pix_fmt not in ("yuv420p", "yuvj420p"):
        reasons.append("pix_fmt")
    elif probe.video_codec == "h264" and probe.profile not in REMUX_PROFILES:
        reasons.append("profile")
    # Chromium and Firefox do honour the mp4 display matrix, but thumbnails, stills and clip
    # montages are drawn from decoded frames; an upright rendition keeps them all consistent.
    if probe.rotation:
        reasons.append("rotation")
    if probe.is_vfr:
        reasons.append("vfr")
    if probe.has_audio and probe.audio_codec not in REMUX_AUDIO:
        reasons.append("audio_codec")
    if probe.is_hdr:
        reasons.append("hdr")
    if probe.sar != 1:
        reasons.append("sar")
    if probe.field_order in ("tt", "bb", "tb", "bt"):
        reasons.append("interlaced")
    long_side, short_side = sorted((probe.display_width, probe.display_height), reverse=True)
    if long_side > TOO_LARGE_BOX[0] or short_side > TOO_LARGE_BOX[1]:
        reasons.append("too_large")
    if probe.fps > 61:
        reasons.append("high_fps")
    if not reasons:
        return Plan("remux", [], probe.fps, probe.display_width, probe.display_height)
    width, height = target_size(probe.display_width, probe.display_height)
    tonemap = probe.is_hdr and {"zscale", "tonemap"} <= ff.filters()
    return Plan("reencode", reasons, target_fps(probe.fps), width, height, tonemap)


# ---------------------------------------------------------------------------------------------
# Helpers


@contextlib.contextmanager
def _atomic(dst: PathLike) -> Iterator[Path]:
    """A temporary path next to dst, renamed onto dst only when the block succeeds."""
    final = Path(dst)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{final.stem}.", suffix=f".part{final.suffix}",
                                dir=final.parent)  # fmt: skip
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        if not tmp.exists() or tmp.stat().st_size == 0:
            raise MediaError("ffmpeg_failed", f"ffmpeg wrote nothing for {final.name}")
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


def _seconds(value: float) -> str:
    """Seconds for ffmpeg's command line, exact to the microsecond it rounds to anyway."""
    return f"{value:.6f}"


def _sdr(stream: Any, probe: Probe, width: int, height: int) -> Any:
    """Scale to width x height and bring HDR down to 8-bit BT.709 where this ffmpeg can.

    Scaling first keeps the costly float tone mapping to the small picture. Without zscale
    (not all builds have it) HDR is only converted, not tone mapped: playable, but pale.
    """
    if probe.is_hdr and {"zscale", "tonemap"} <= ff.filters():
        stream = stream.filter("zscale", w=width, h=height, t="linear", npl=100)
        stream = stream.filter("format", "gbrpf32le")
        stream = stream.filter("zscale", p="bt709")
        stream = stream.filter("tonemap", tonemap="hable", desat=0)
        stream = stream.filter("zscale", t="bt709", m="bt709", r="tv")
    elif probe.is_hdr:
        stream = stream.filter(
            "scale", width, height, in_color_matrix="bt2020", out_color_matrix="bt709"
        )
    else:
        stream = stream.filter("scale", width, height)
    return stream.filter("setsar", 1).filter("format", "yuv420p")


def _sdr_output_args(probe: Probe) -> dict[str, Any]:
    if probe.is_hdr:
        return {"colorspace": "bt709", "color_primaries": "bt709", "color_trc": "bt709"}
    return {}


def _x264_args(plan_: Plan, preset: str) -> dict[str, Any]:
    gop = plan_.gop_frames
    return {
        "c:v": "libx264",
        "preset": preset,
        "crf": X264_CRF,
        "profile:v": "high",
        "pix_fmt": "yuv420p",
        # Exactly every `gop` frames and nowhere else, so every chunk boundary is a keyframe.
        "g": gop,
        "keyint_min": gop,
        "sc_threshold": 0,
        "force_key_frames": f"expr:eq(mod(n,{gop}),0)",
    }


AAC_ARGS: dict[str, Any] = {"c:a": "aac", "b:a": "128k", "ar": AUDIO_RATE, "ac": 2}
# async: pad gaps and a late start with silence, so audio stays in sync with the picture.
RESAMPLE_ARGS: dict[str, Any] = {"async": 1, "first_pts": 0}


def _silence() -> Any:
    return ffmpeg_python.input(f"anullsrc=r={AUDIO_RATE}:cl=stereo", f="lavfi").audio


def _check_source(src: PathLike) -> str:
    path = str(src)
    # Object storage: a presigned URL that ffmpeg reads with range requests.
    if path.startswith(("http://", "https://")):
        return path
    if not os.path.isfile(path):
        raise MediaError("source_missing", f"no such file: {path}", path)
    return path


# ---------------------------------------------------------------------------------------------
# Remux


def remux(src: PathLike, dst_mp4: PathLike, probe: Probe, on_progress: Progress = None) -> None:
    """Stream copy into mp4 with the index first; first video and audio only, no metadata."""
    inp = ffmpeg_python.input(_check_source(src))
    streams = [inp[str(probe.video_index)]]
    if probe.audio_index is not None:
        streams.append(inp[str(probe.audio_index)])
    with _atomic(dst_mp4) as tmp:
        out = ffmpeg_python.output(
            *streams,
            str(tmp),
            c="copy",
            f="mp4",
            movflags="+faststart",
            # Phones write location and device into the metadata; a school has no use for it.
            map_metadata=-1,
            map_chapters=-1,
        )
        ff.run(out, total_s=probe.duration_s, on_progress=on_progress)


# ---------------------------------------------------------------------------------------------
# Chunked encode (HLS segments) and join


def chunk_ranges(
    probe: Probe, plan_: Plan, chunk_s: float = 10.0
) -> list[tuple[int, float, float]]:
    """(index, start_s, duration_s) covering the recording, cut on whole GOPs of the output.

    At 29.97 fps a GOP is 60 frames (2.002 s), so boundaries are multiples of that; a tail
    shorter than one GOP joins the previous chunk.
    """
    fps, gop = plan_.fps, plan_.gop_frames
    total = max(1, round(probe.duration_s * fps))
    per = max(1, round(chunk_s * fps / gop)) * gop
    starts = list(range(0, total, per))
    if len(starts) > 1 and total - starts[-1] < gop:
        starts.pop()
    ends = starts[1:] + [total]
    return [
        (i, float(start / fps), float((end - start) / fps))
        for i, (start, end) in enumerate(zip(starts, ends, strict=True))
    ]


def _aac_boundary(t: Fraction) -> int:
    """The sample at t rounded up to a whole AAC packet.

    Chunk audio covering whole packets, with the encoder's priming packet dropped, continues
    seamlessly into the next chunk's: no overlap, so the mp4 join and HLS players see
    monotonic, gapless audio timestamps.
    """
    return math.ceil(t * AUDIO_RATE / AAC_FRAME) * AAC_FRAME


def encode_chunk(
    src: PathLike,
    dst_ts: PathLike,
    probe: Probe,
    plan_: Plan,
    start_s: float,
    duration_s: float,
    on_progress: Progress = None,
    *,
    preset: str = X264_PRESET,
) -> None:
    """Encode [start_s, start_s + duration_s) into one self-contained MPEG-TS segment.

    Timestamps are absolute (the chunk's video starts at exactly start_s), so chunks encoded
    in any order, in any process, play back to back and join into one file.
    """
    fps = plan_.fps
    first = round(Fraction(start_s) * fps)
    frames = max(1, round(Fraction(duration_s) * fps))
    start, end = first / fps, (first + frames) / fps
    total_end = max(1, round(probe.duration_s * fps)) / fps
    is_last = end >= total_end
    audio_from = 0 if first == 0 else _aac_boundary(start)
    audio_to = round(end * AUDIO_RATE) if is_last else _aac_boundary(end)
    origin = round(start * AUDIO_RATE)  # sample at the seek point, local time 0

    # Input seek (fast, and accurate: ffmpeg decodes from the keyframe and drops up to start);
    # read a second more than needed so the fps filter has a frame after the end.
    inp = ffmpeg_python.input(
        _check_source(src), ss=_seconds(float(start)), t=_seconds(float(end - start) + 1.0)
    )
    video = inp[str(probe.video_index)]
    if probe.field_order in ("tt", "bb", "tb", "bt"):
        video = video.filter("bwdif")
    # start_time=0 pads the first slot should the first source frame land a tick after start.
    video = video.filter("fps", fps=str(fps), start_time=0)
    video = _sdr(video, probe, plan_.width, plan_.height)
    # tpad: a source ending a frame early still fills the last chunk; trim makes it exact.
    video = video.filter("tpad", stop_mode="clone", stop_duration=1)
    video = video.filter("trim", end_frame=frames).filter("setpts", "PTS-STARTPTS")

    audio = (
        inp[str(probe.audio_index)].filter("aresample", AUDIO_RATE, **RESAMPLE_ARGS)
        if probe.audio_index is not None
        else _silence()
    )
    audio = audio.filter("aformat", sample_rates=AUDIO_RATE, channel_layouts="stereo")
    audio = audio.filter("apad").filter(
        "atrim", start_sample=audio_from - origin, end_sample=audio_to - origin
    )
    offset = Fraction(audio_from - origin, AUDIO_RATE)
    audio = audio.filter("asetpts", f"N/SR/TB+{float(offset):.9f}/TB")

    with _atomic(dst_ts) as tmp:
        out = ffmpeg_python.output(
            video,
            audio,
            str(tmp),
            f="mpegts",
            **_x264_args(plan_, preset),
            **AAC_ARGS,
            **_sdr_output_args(probe),
            # The AAC encoder's priming packet would overlap the previous chunk's last packet.
            **{"bsf:a": "noise=drop=not(n)"},
            output_ts_offset=_seconds(float(start)),
            # No mux delay and no shifting: chunk N's first frame is at exactly start_s.
            muxdelay=0,
            muxpreload=0,
            avoid_negative_ts="disabled",
            map_metadata=-1,
        )
        ff.run(out, total_s=float(end - start), on_progress=on_progress)


def hls_playlist(segments: Sequence[tuple[str, float]], *, ended: bool) -> str:
    """An HLS v3 EVENT playlist of (uri, duration) segments; ENDLIST once all are there."""
    longest = max((round(d, 6) for _, d in segments), default=GOP_S * 5.0)
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        "#EXT-X-PLAYLIST-TYPE:EVENT",
        f"#EXT-X-TARGETDURATION:{max(1, math.ceil(longest))}",
        "#EXT-X-MEDIA-SEQUENCE:0",
    ]
    for uri, duration in segments:
        lines += [f"#EXTINF:{duration:.6f},", uri]
    if ended:
        lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def _concat_quote(path: Path) -> str:
    return "'" + str(path.resolve()).replace("'", "'\\''") + "'"


def join_chunks(
    ts_paths: Sequence[PathLike],
    dst_mp4: PathLike,
    on_progress: Progress = None,
    *,
    durations: Sequence[float] | None = None,
) -> None:
    """Concatenate the chunks into one faststart mp4 by stream copy.

    The concat demuxer re-bases each file on the sum of the previous durations; it is told the
    exact video durations (measured with ffprobe when not given), as its own guess would
    include audio and drift.
    """
    paths = [Path(p) for p in ts_paths]
    if not paths:
        raise ValueError("no chunks to join")
    spans = list(durations) if durations is not None else [ff.video_duration(p) for p in paths]
    if len(spans) != len(paths):
        raise ValueError("one duration per chunk")
    dst = Path(dst_mp4)
    dst.parent.mkdir(parents=True, exist_ok=True)
    listing = ["ffconcat version 1.0"]
    for path, span in zip(paths, spans, strict=True):
        listing += [f"file {_concat_quote(path)}", f"duration {span:.6f}"]
    fd, list_name = tempfile.mkstemp(prefix=f".{dst.stem}.", suffix=".ffconcat", dir=dst.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write("\n".join(listing) + "\n")
        inp = ffmpeg_python.input(list_name, f="concat", safe=0)
        with _atomic(dst) as tmp:
            out = ffmpeg_python.output(
                inp,
                str(tmp),
                c="copy",
                f="mp4",
                movflags="+faststart",
                **{"bsf:a": "aac_adtstoasc"},
            )
            ff.run(out, total_s=sum(spans), on_progress=on_progress)
    finally:
        os.unlink(list_name)


# ---------------------------------------------------------------------------------------------
# Pictures


def poster(src: PathLike, dst_jpg: PathLike, probe: Probe, at_s: float | None = None) -> None:
    """An upright JPEG of the frame at about 10 %, at most 1280 px wide."""
    at = probe.duration_s * 0.1 if at_s is None else at_s
    at = max(0.0, min(at, probe.duration_s - 0.5))
    width, height = _fit_width(probe, 1280)
    inp = ffmpeg_python.input(_check_source(src), ss=_seconds(at))
    video = _sdr(inp[str(probe.video_index)], probe, width, height)
    with _atomic(dst_jpg) as tmp:
        out = ffmpeg_python.output(video, str(tmp), f="image2", vframes=1, **{"q:v": 3})
        ff.run(out)


def _fit_width(probe: Probe, max_width: int) -> tuple[int, int]:
    width = min(max_width, probe.display_width)
    return _even(width), _even(width * probe.display_height / probe.display_width)


def _fps_of(probe_or_fps: Probe | Fraction | float | str) -> Fraction:
    if isinstance(probe_or_fps, Probe):
        return probe_or_fps.fps
    return Fraction(probe_or_fps).limit_denominator(1001 * 1000)


def still(
    src: PathLike,
    dst_jpg: PathLike,
    probe_or_fps: Probe | Fraction | float | str,
    frame_index: int,
) -> None:
    """Frame number frame_index (at frame_index / fps) as a full-size upright JPEG.

    Input seek to half a frame before it: ffmpeg decodes from the keyframe before and hands
    over the first frame at or after that point, which is the frame wanted, whatever rounding
    the container's time base does.
    """
    fps = _fps_of(probe_or_fps)
    at = max(0.0, (frame_index - 0.5) / float(fps))
    if isinstance(probe_or_fps, Probe):
        at += probe_or_fps.start_s - probe_or_fps.format_start_s
    inp = ffmpeg_python.input(_check_source(src), ss=_seconds(at))
    video: Any = inp["v:0"]
    if isinstance(probe_or_fps, Probe):
        video = _sdr(
            inp[str(probe_or_fps.video_index)],
            probe_or_fps,
            probe_or_fps.display_width - probe_or_fps.display_width % 2,
            probe_or_fps.display_height - probe_or_fps.display_height % 2,
        )
    with _atomic(dst_jpg) as tmp:
        out = ffmpeg_python.output(video, str(tmp), f="image2", vframes=1, **{"q:v": 2})
        ff.run(out)


def _vtt_time(seconds: float) -> str:
    ms = int(round(seconds * 1000))
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    secs, ms = divmod(ms, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{ms:03d}"


def thumb_interval(duration_s: float) -> float:
    """About 150 thumbnails per recording, whole seconds, at least one a second."""
    return float(max(1, math.ceil(duration_s / 150)))


def thumbnails(
    src: PathLike, out_dir: PathLike, probe: Probe, interval_s: float | None = None
) -> ThumbResult:
    """Sprite sheets (10x10 thumbnails 160 px wide) and thumbs.vtt with #xywh= cues.

    Decoding only keyframes is about five times faster; it is used when keyframes come often
    enough that the nearest one is at most half an interval off.
    """
    interval = thumb_interval(probe.duration_s) if interval_s is None else float(interval_s)
    count = max(1, math.ceil(probe.duration_s / interval - 1e-6))
    width, height = _fit_width(probe, THUMB_WIDTH)
    cols, rows = THUMB_GRID
    per_sheet = cols * rows
    keyframes_only = (
        probe.keyframe_interval_s is not None and probe.keyframe_interval_s <= interval / 2
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".thumbs.", dir=out))
    try:
        inp = ffmpeg_python.input(
            _check_source(src), **({"skip_frame": "nokey"} if keyframes_only else {})
        )
        video = inp[str(probe.video_index)].filter(
            "fps", fps=str(1 / Fraction(interval).limit_denominator(1000)), start_time=0
        )
        video = _sdr(video, probe, width, height)
        video = video.filter("tile", f"{cols}x{rows}")
        stream = ffmpeg_python.output(
            video,
            str(work / "sheet_%03d.jpg"),
            f="image2",
            start_number=0,
            vsync="passthrough",
            **{"q:v": 4},
        )
        ff.run(stream, total_s=probe.duration_s)
        sheets = sorted(p.name for p in work.glob("sheet_*.jpg"))
        if not sheets:
            raise MediaError("ffmpeg_failed", "no thumbnail sheets written")
        count = min(count, len(sheets) * per_sheet)
        cues = ["WEBVTT", ""]
        for i in range(count):
            sheet, pos = divmod(i, per_sheet)
            x, y = (pos % cols) * width, (pos // cols) * height
            start, end = i * interval, min((i + 1) * interval, probe.duration_s)
            cues += [
                f"{_vtt_time(start)} --> {_vtt_time(end)}",
                f"sheet_{sheet:03d}.jpg#xywh={x},{y},{width},{height}",
                "",
            ]
        vtt = "\n".join(cues)
        (work / "thumbs.vtt").write_text(vtt, encoding="utf-8")
        # Sheets first, the VTT last: a reader that finds the VTT finds its sheets too.
        for name in sheets:
            os.replace(work / name, out / name)
        os.replace(work / "thumbs.vtt", out / "thumbs.vtt")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return ThumbResult(sheets, "thumbs.vtt", vtt, interval, count, width, height)


# ---------------------------------------------------------------------------------------------
# Montage


def render_montage(
    clips: Sequence[MontageClip],
    dst_mp4: PathLike,
    *,
    fade_s: float = 0.0,
    fps: Fraction | float | str,
    size: tuple[int, int],
    on_progress: Progress = None,
) -> None:
    """Cut the clips frame-exactly, fit them into size, and join them into one H.264/AAC mp4."""
    if not clips:
        raise ValueError("no clips")
    rate = Fraction(fps).limit_denominator(1001 * 1000)
    width, height = size
    parts: list[Any] = []
    total_frames = 0
    for clip in clips:
        pr = ff.probe(clip.path)
        frames = max(1, round(Fraction(clip.out_s - clip.in_s) * rate))
        total_frames += frames
        length = frames / rate
        inp = ffmpeg_python.input(
            str(clip.path), ss=_seconds(clip.in_s), t=_seconds(float(length) + 1.0)
        )
        video = inp[str(pr.video_index)].filter("fps", fps=str(rate), start_time=0)
        # Fit inside the frame without distortion, then pad (letterbox) to exactly size.
        fit_w, fit_h = _fit_box(pr.display_width, pr.display_height, width, height)
        video = _sdr(video, pr, fit_w, fit_h)
        video = video.filter("pad", width, height, "(ow-iw)/2", "(oh-ih)/2")
        video = video.filter("tpad", stop_mode="clone", stop_duration=1)
        video = video.filter("trim", end_frame=frames).filter("setpts", "PTS-STARTPTS")
        audio = (
            inp[str(pr.audio_index)].filter("aresample", AUDIO_RATE, **RESAMPLE_ARGS)
            if pr.audio_index is not None
            else _silence()
        )
        audio = audio.filter(
            "aformat", sample_fmts="fltp", sample_rates=AUDIO_RATE, channel_layouts="stereo"
        )
        samples = round(length * AUDIO_RATE)
        audio = audio.filter("apad").filter("atrim", end_sample=samples)
        audio = audio.filter("asetpts", "N/SR/TB")
        fade = min(fade_s, float(length) / 2)
        if fade > 0:
            video = video.filter("fade", t="in", st=0, d=fade).filter(
                "fade", t="out", st=float(length) - fade, d=fade
            )
            audio = audio.filter("afade", t="in", st=0, d=fade).filter(
                "afade", t="out", st=float(length) - fade, d=fade
            )
        parts += [video, audio]
    joined = ffmpeg_python.concat(*parts, v=1, a=1).node
    plan_ = Plan("reencode", [], rate, width, height)
    with _atomic(dst_mp4) as tmp:
        out = ffmpeg_python.output(
            joined[0],
            joined[1],
            str(tmp),
            f="mp4",
            movflags="+faststart",
            **_x264_args(plan_, X264_PRESET),
            **AAC_ARGS,
            map_metadata=-1,
        )
        ff.run(out, total_s=float(total_frames / rate), on_progress=on_progress)


def _fit_box(src_w: int, src_h: int, box_w: int, box_h: int) -> tuple[int, int]:
    scale = min(box_w / src_w, box_h / src_h)
    return min(box_w, _even(src_w * scale)), min(box_h, _even(src_h * scale))


# ---------------------------------------------------------------------------------------------
# Demo footage


_DEMO_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def demo_recording(
    dst_mp4: PathLike, seconds: int, *, width: int = 640, height: int = 360, fps: int = 25
) -> None:
    """Classroom-like footage for the demo school, with the frame number and time burned in
    (so frame-exact stepping can be checked by eye): a whiteboard, a teacher walking to and
    fro, two rows of pupils who move a little, and a soft tone. H.264/AAC, browser-playable."""
    font = {"fontfile": str(_DEMO_FONT)} if _DEMO_FONT.exists() else {}
    video = ffmpeg_python.input(
        f"gradients=size={width}x{height}:rate={fps}:c0=0xd9cdb4:c1=0xb8c8d8:speed=0.002:seed=7",
        f="lavfi",
        t=seconds,
    )
    # The whiteboard with a sum, and the teacher (a dark figure) walking along it.
    video = video.filter(
        "drawbox",
        x=width * 0.08,
        y=height * 0.08,
        w=width * 0.5,
        h=height * 0.3,
        color="0xf4f4f0",
        t="fill",
    )
    video = video.filter(
        "drawtext",
        text="3 x 4 = ?",
        x=width * 0.14,
        y=height * 0.16,
        fontsize=height // 10,
        fontcolor="0x2a4d8f",
        **font,
    )
    video = video.filter(
        "drawbox",
        x=f"{width * 0.6}+{width * 0.25}*sin(t/3)",
        y=height * 0.18,
        w=width * 0.07,
        h=height * 0.42,
        color="0x35424f",
        t="fill",
    )
    # Pupils: two rows of heads behind tables, each moving in its own rhythm.
    for row, y in enumerate((0.55, 0.72)):
        for seat in range(6):
            phase = seat * 1.3 + row * 0.7
            speed = 0.8 + seat * 0.11
            video = video.filter(
                "drawbox",
                x=f"{width * (0.08 + seat * 0.15)}+{width * 0.01}*sin(t*{speed}+{phase})",
                y=f"{height * y}+{height * 0.012}*sin(t*{1.1 + row * 0.3}+{phase})",
                w=width * 0.06,
                h=height * 0.08,
                color=["0xc98b5b", "0x8d5a3b", "0xe0b48a", "0xa86f4c"][(seat + row) % 4],
                t="fill",
            )
        video = video.filter(
            "drawbox",
            x=width * 0.05,
            y=height * (y + 0.09),
            w=width * 0.9,
            h=height * 0.035,
            color="0x8a6a45",
            t="fill",
        )
    video = video.filter(
        "drawbox", x=0, y=height * 0.9, w=width, h=height * 0.1, color="0x000000@0.55", t="fill"
    )
    video = video.filter(
        "drawtext",
        text="frame %{frame_num}   %{pts:hms}",
        x=width * 0.03,
        y=height * 0.925,
        fontsize=max(12, height // 20),
        fontcolor="white",
        **font,
    )
    audio = ffmpeg_python.input("sine=frequency=220:sample_rate=48000", f="lavfi", t=seconds)
    audio = audio.filter("volume", 0.05)
    with _atomic(dst_mp4) as tmp:
        out = ffmpeg_python.output(
            video,
            audio,
            str(tmp),
            f="mp4",
            vcodec="libx264",
            preset="veryfast",
            crf=26,
            pix_fmt="yuv420p",
            g=fps * 2,
            acodec="aac",
            audio_bitrate="64k",
            movflags="+faststart",
            t=seconds,
        )
        ff.run(out, total_s=float(seconds))
