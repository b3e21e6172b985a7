"""Small synthetic recordings, made with ffmpeg, covering what phones and users upload."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
SIZE = "320x240"
FPS = 30
SECONDS = 6


def _counter(size: str = SIZE, rate: str | int = FPS) -> str:
    """testsrc2 with the frame number burned in big, so a frame can be recognised by its pixels."""
    font = f"fontfile={FONT}:" if FONT.exists() else ""
    return (
        f"testsrc2=size={size}:rate={rate},"
        f"drawtext={font}text='%{{frame_num}}':fontsize=96:fontcolor=white:"
        "box=1:boxcolor=black:x=20:y=60"
    )


def _ffmpeg(*args: str) -> None:
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args],
        check=True,
        timeout=120,
    )


def _sine(seconds: float) -> list[str]:
    return ["-f", "lavfi", "-t", str(seconds), "-i", "sine=frequency=440:sample_rate=48000"]


def _cut(src: Path, dst: Path, fraction: float) -> None:
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * fraction)])


def make_samples(directory: str | os.PathLike[str]) -> dict[str, Path]:
    """Write the sample files into directory; returns name -> path.

    h264: 320x240 30 fps 6 s H.264 High yuv420p + AAC, moov at the end, frame counter burned in.
    Others: hevc (59.94 fps), h264_10bit, rotated (display matrix), vfr (25 then 30 fps),
    noaudio, mkv (H.264 in Matroska), pcm (H.264 + PCM audio in mov), hdr (HEVC 10-bit HLG),
    audio_only (m4a), truncated (moov at the end, cut at 60 %), truncated_faststart
    (moov first, cut at 60 %), text (a text file named .mp4), empty (0 bytes).
    """
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    out = {name: d / f"{name}.mp4" for name in ("h264", "hevc", "h264_10bit", "rotated", "vfr")}
    out |= {name: d / f"{name}.mp4" for name in ("noaudio", "hdr", "truncated", "text", "empty")}
    out |= {
        "truncated_faststart": d / "truncated_faststart.mp4",
        "mkv": d / "mkv.mkv",
        "pcm": d / "pcm.mov",
        "audio_only": d / "audio_only.m4a",
    }
    x264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    aac = ["-c:a", "aac", "-b:a", "96k"]

    _ffmpeg(
        "-f", "lavfi", "-t", str(SECONDS), "-i", _counter(), *_sine(SECONDS),
        *x264, "-profile:v", "high", "-g", str(FPS), *aac, "-shortest", str(out["h264"]),
    )  # fmt: skip
    _ffmpeg(
        "-f", "lavfi", "-t", "4", "-i", f"testsrc2=size={SIZE}:rate=60000/1001", *_sine(4),
        "-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error",
        "-pix_fmt", "yuv420p", "-tag:v", "hvc1", *aac, "-shortest", str(out["hevc"]),
    )  # fmt: skip
    _ffmpeg(
        "-f", "lavfi", "-t", "3", "-i", f"testsrc2=size={SIZE}:rate={FPS}", *_sine(3),
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p10le", *aac,
        "-shortest", str(out["h264_10bit"]),
    )  # fmt: skip
    # ffmpeg 5.1 writes the rotate tag as a display matrix, as a phone held upright does.
    _ffmpeg(
        "-i", str(out["h264"]), "-c", "copy", "-metadata:s:v:0", "rotate=90",
        str(out["rotated"]),
    )  # fmt: skip
    parts = []
    for rate in (25, 30):
        part = d / f"vfr_part{rate}.ts"
        _ffmpeg(
            "-f", "lavfi", "-t", "2", "-i", f"testsrc2=size={SIZE}:rate={rate}",
            *x264, str(part),
        )  # fmt: skip
        parts.append(str(part))
    _ffmpeg("-i", "concat:" + "|".join(parts), "-c", "copy", "-fps_mode", "passthrough",
            str(out["vfr"]))  # fmt: skip
    for part_name in parts:
        Path(part_name).unlink()
    _ffmpeg("-i", str(out["h264"]), "-an", "-t", "3", "-c", "copy", str(out["noaudio"]))
    _ffmpeg("-i", str(out["h264"]), "-t", "3", "-c", "copy", str(out["mkv"]))
    _ffmpeg("-i", str(out["h264"]), "-t", "3", "-c:v", "copy", "-c:a", "pcm_s16le",
            str(out["pcm"]))  # fmt: skip
    _ffmpeg(
        "-f", "lavfi", "-t", "2", "-i", f"testsrc2=size={SIZE}:rate={FPS}",
        "-c:v", "libx265", "-preset", "ultrafast", "-pix_fmt", "yuv420p10le",
        "-x265-params",
        "log-level=error:colorprim=bt2020:transfer=arib-std-b67:colormatrix=bt2020nc",
        "-color_primaries", "bt2020", "-color_trc", "arib-std-b67", "-colorspace", "bt2020nc",
        "-tag:v", "hvc1", str(out["hdr"]),
    )  # fmt: skip
    _ffmpeg(*_sine(2), *aac, str(out["audio_only"]))
    _cut(out["h264"], out["truncated"], 0.6)
    faststart = d / "faststart_full.mp4"
    _ffmpeg("-i", str(out["h264"]), "-c", "copy", "-movflags", "+faststart", str(faststart))
    _cut(faststart, out["truncated_faststart"], 0.6)
    faststart.unlink()
    out["text"].write_text("This is not a video.\n" * 20)
    out["empty"].write_bytes(b"")
    return out
