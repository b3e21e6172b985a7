"""The video pipeline on real (synthetic) files with the real ffmpeg: no mocks."""

from __future__ import annotations

import json
import re
import struct
import subprocess
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from lti_tool.media import ffmpeg as ff
from lti_tool.media import pipeline
from lti_tool.media.ffmpeg import MediaError, Probe, probe
from lti_tool.media.pipeline import MontageClip

Samples = dict[str, Path]


def ffprobe(path: Path, *args: str) -> dict[str, Any]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-of", "json", *args, str(path)],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    result: dict[str, Any] = json.loads(out)
    return result


def video_stream(path: Path) -> dict[str, Any]:
    """The first video stream, with its frames counted by decoding."""
    data = ffprobe(path, "-count_frames", "-select_streams", "v:0", "-show_streams")
    stream: dict[str, Any] = data["streams"][0]
    return stream


def gray(path: Path, *vf: str) -> bytes:
    """Decode (the selected frame of) path to 8-bit gray pixels."""
    filters = [*vf, "format=gray"]
    return subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-vf", ",".join(filters), "-frames:v", "1"]
        + ["-f", "rawvideo", "-"],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout


def mean_abs_diff(a: bytes, b: bytes) -> float:
    assert len(a) == len(b) and a
    return sum(abs(x - y) for x, y in zip(a, b, strict=True)) / len(a)


def top_level_boxes(path: Path) -> list[str]:
    boxes = []
    with path.open("rb") as fh:
        while header := fh.read(8):
            size, kind = struct.unpack(">I4s", header)
            if size == 1:
                size = struct.unpack(">Q", fh.read(8))[0] - 8
            boxes.append(kind.decode("latin-1"))
            fh.seek(size - 8, 1)
    return boxes


def leftovers(directory: Path) -> list[Path]:
    return [p for p in directory.iterdir() if p.name.startswith(".")]


# --- probe --------------------------------------------------------------------------------


def test_probe_h264(media_samples: Samples) -> None:
    pr = probe(media_samples["h264"])
    assert (pr.video_codec, pr.pix_fmt, pr.bit_depth) == ("h264", "yuv420p", 8)
    assert (pr.width, pr.height, pr.display_width, pr.display_height) == (320, 240, 320, 240)
    assert pr.fps == Fraction(30) and pr.avg_fps == pr.r_fps == Fraction(30)
    assert not pr.is_vfr and pr.frame_count == 180 and pr.duration_s == pytest.approx(6.0)
    assert pr.has_audio and pr.audio_codec == "aac" and pr.rotation == 0
    assert pr.keyframe_interval_s == pytest.approx(1.0)
    assert Probe.from_json(json.loads(json.dumps(pr.to_json()))) == pr


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("hevc", {"video_codec": "hevc", "r_fps": Fraction(60000, 1001), "frame_count": 240}),
        ("h264_10bit", {"bit_depth": 10, "pix_fmt": "yuv420p10le", "profile": "High 10"}),
        ("rotated", {"display_width": 240, "display_height": 320, "width": 320}),
        ("vfr", {"is_vfr": True, "has_audio": False}),
        ("noaudio", {"has_audio": False, "audio_codec": "", "is_vfr": False}),
        ("hdr", {"color_transfer": "arib-std-b67", "is_hdr": True, "bit_depth": 10}),
        ("mkv", {"format_name": "matroska,webm"}),
        ("pcm", {"audio_codec": "pcm_s16le"}),
    ],
)
def test_probe_samples(media_samples: Samples, name: str, expected: dict[str, Any]) -> None:
    pr = probe(media_samples[name])
    assert {key: getattr(pr, key) for key in expected} == expected
    if name == "rotated":
        assert pr.rotation in (90, 270)


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("empty", "empty"),
        ("text", "not_video"),
        ("audio_only", "no_video_stream"),
        ("truncated", "truncated"),
        ("truncated_faststart", "truncated"),
    ],
)
def test_probe_errors(media_samples: Samples, name: str, code: str) -> None:
    with pytest.raises(MediaError) as caught:
        probe(media_samples[name])
    assert caught.value.code == code
    assert media_samples[name].name in caught.value.user_message()


def test_binaries_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(MediaError) as caught:
        ff.binaries()
    assert caught.value.code == "ffmpeg_missing"


# --- plan ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "mode", "reasons"),
    [
        ("h264", "remux", []),
        ("noaudio", "remux", []),
        ("hevc", "reencode", ["hevc"]),
        ("h264_10bit", "reencode", ["10bit"]),
        ("rotated", "reencode", ["rotation"]),
        ("vfr", "reencode", ["vfr"]),
        ("mkv", "reencode", ["container"]),
        ("pcm", "reencode", ["audio_codec"]),
        ("hdr", "reencode", ["hevc", "10bit", "hdr"]),
    ],
)
def test_plan(media_samples: Samples, name: str, mode: str, reasons: list[str]) -> None:
    plan = pipeline.plan(probe(media_samples[name]))
    assert (plan.mode, plan.reasons) == (mode, reasons)


def test_a_rate_change_after_the_sampled_start_is_still_vfr(tmp_path: Path) -> None:
    """probe() reads packet timing for the first seconds only (ff.VFR_SAMPLE_S). A phone that
    drops from 30 to 24 fps later in the lesson is still caught on the remux path (MP4/MOV):
    their demuxer derives avg_frame_rate from the whole index, r_frame_rate from the start."""
    seconds = ff.VFR_SAMPLE_S + 3
    pr = probe(_joined(tmp_path, "late", [(30, seconds), (24, seconds)]))
    assert pr.r_fps == 30 and pr.avg_fps < 29
    assert pr.is_vfr
    assert pipeline.plan(pr).reasons == ["vfr"]


def _joined(tmp_path: Path, name: str, parts: list[tuple[int, int]]) -> Path:
    """MP4 parts of (frame rate, seconds) joined by stream copy, as a phone writes one file."""
    names = []
    for i, (rate, seconds) in enumerate(parts):
        part = tmp_path / f"{name}-{i}.mp4"
        subprocess.run(
            ["ffmpeg", "-v", "error", "-f", "lavfi",
             "-i", f"testsrc2=size=160x120:rate={rate}:duration={seconds}",
             "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
             "-video_track_timescale", "30000", str(part)],
            check=True, timeout=60,
        )  # fmt: skip
        names.append(f"file '{part.name}'")
    (tmp_path / f"{name}.txt").write_text("\n".join(names) + "\n")
    out = tmp_path / f"{name}.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "concat", "-i", str(tmp_path / f"{name}.txt"),
         "-c", "copy", str(out)],
        check=True, timeout=60,
    )  # fmt: skip
    return out


def test_a_short_dip_in_frame_rate_mid_lesson_is_vfr(tmp_path: Path) -> None:
    """Two seconds at 24 fps inside a minute at 30 (low light for a moment): avg and r differ
    by under 1 %, but frame N is no longer at N / 30 after the dip, so it must be re-encoded."""
    dip = probe(_joined(tmp_path, "dip", [(30, 30), (24, 2), (30, 30)]))
    assert dip.r_fps == 30 and abs(float(dip.avg_fps) / 30 - 1) < 0.01
    assert dip.is_vfr and pipeline.plan(dip).reasons == ["vfr"]
    steady = probe(_joined(tmp_path, "steady", [(30, 30), (30, 2), (30, 30)]))
    assert not steady.is_vfr and pipeline.plan(steady).mode == "remux"


def test_plan_targets(media_samples: Samples) -> None:
    hevc = pipeline.plan(probe(media_samples["hevc"]))
    assert hevc.fps == Fraction(30000, 1001) and hevc.size == (320, 240)
    assert hevc.gop_frames == 60
    rotated = pipeline.plan(probe(media_samples["rotated"]))
    assert rotated.size == (240, 320)
    assert pipeline.plan(probe(media_samples["hdr"])).tonemap == (
        {"zscale", "tonemap"} <= ff.filters()
    )


@pytest.mark.parametrize(
    ("source", "target"),
    [
        (Fraction(60000, 1001), Fraction(30000, 1001)),
        (Fraction(60), Fraction(30)),
        (Fraction(50), Fraction(25)),
        (Fraction(25), Fraction(25)),
        (Fraction(120), Fraction(30)),
        (Fraction(30.6), Fraction(30)),
        (Fraction(28.7), Fraction(30000, 1001)),
        (Fraction(24000, 1001), Fraction(24000, 1001)),
        (Fraction(15), Fraction(15)),
    ],
)
def test_target_fps(source: Fraction, target: Fraction) -> None:
    assert pipeline.target_fps(source) == target


@pytest.mark.parametrize(
    ("size", "target"),
    [
        ((1920, 1080), (1280, 720)),
        ((1080, 1920), (720, 1280)),
        ((3840, 2160), (1280, 720)),
        ((640, 360), (640, 360)),
        ((1440, 1080), (960, 720)),
        ((321, 241), (320, 240)),
    ],
)
def test_target_size(size: tuple[int, int], target: tuple[int, int]) -> None:
    assert pipeline.target_size(*size) == target


# --- remux --------------------------------------------------------------------------------


def test_remux(media_samples: Samples, tmp_path: Path) -> None:
    src = media_samples["h264"]
    assert top_level_boxes(src).index("moov") > top_level_boxes(src).index("mdat")
    dst = tmp_path / "web.mp4"
    pipeline.remux(src, dst, probe(src))
    boxes = top_level_boxes(dst)
    assert boxes.index("moov") < boxes.index("mdat")  # faststart: playable while downloading
    streams = ffprobe(dst, "-show_streams")["streams"]
    assert [s["codec_type"] for s in streams] == ["video", "audio"]
    out = probe(dst)
    assert out.frame_count == 180 and pipeline.plan(out).mode == "remux"
    assert leftovers(tmp_path) == []


# --- chunks and join ----------------------------------------------------------------------


def test_chunk_ranges(media_samples: Samples) -> None:
    pr = probe(media_samples["hevc"])  # 4.004 s at 59.94 -> 29.97 fps: 120 frames
    plan = pipeline.plan(pr)
    assert pipeline.chunk_ranges(pr, plan, chunk_s=2.0) == [(0, 0.0, 2.002), (1, 2.002, 2.002)]
    # A tail shorter than a GOP joins the chunk before it; one chunk when chunk_s is long.
    assert pipeline.chunk_ranges(pr, plan, chunk_s=10.0) == [(0, 0.0, 4.004)]
    h264 = probe(media_samples["h264"])
    plan = pipeline.Plan("reencode", ["test"], Fraction(30), 320, 240)
    ranges = pipeline.chunk_ranges(h264, plan, chunk_s=4.0)
    assert ranges == [(0, 0.0, 4.0), (1, 4.0, 2.0)]


@pytest.mark.parametrize("name", ["hevc", "h264"])
def test_chunks_join_exact(media_samples: Samples, tmp_path: Path, name: str) -> None:
    src = media_samples[name]
    pr = probe(src)
    plan = pipeline.plan(pr)
    if plan.mode == "remux":
        plan = pipeline.Plan("reencode", ["test"], pr.fps, pr.display_width, pr.display_height)
    ranges = pipeline.chunk_ranges(pr, plan, chunk_s=2.0)
    assert len(ranges) >= 2
    paths = [tmp_path / f"seg_{i:05d}.ts" for i, _, _ in ranges]

    def encode(item: tuple[int, float, float]) -> None:
        index, start, duration = item
        pipeline.encode_chunk(src, paths[index], pr, plan, start, duration, preset="ultrafast")

    # Chunks are independent: two ffmpeg processes at once, finishing in any order.
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(encode, ranges))

    audio_ends = []
    for (_, start, duration), path in zip(ranges, paths, strict=True):
        streams = {s["codec_type"]: s for s in ffprobe(path, "-show_streams")["streams"]}
        assert set(streams) == {"video", "audio"}  # the same layout in every chunk
        assert float(streams["video"]["start_time"]) == pytest.approx(start, abs=1e-4)
        assert float(streams["video"]["duration"]) == pytest.approx(duration, abs=1e-4)
        assert streams["video"]["pix_fmt"] == "yuv420p"
        audio_start = float(streams["audio"]["start_time"])
        if audio_ends:
            # The audio continues where the previous chunk's stopped: no gap, no overlap.
            assert audio_start == pytest.approx(audio_ends[-1], abs=1e-4)
        assert start <= audio_start < start + 1024 / 48000 + 1e-4
        audio_ends.append(audio_start + float(streams["audio"]["duration"]))
        keyframes = ffprobe(
            path, "-select_streams", "v:0", "-show_entries", "packet=pts_time,flags"
        )["packets"]
        key_times = sorted(float(p["pts_time"]) for p in keyframes if "K" in p["flags"])
        assert key_times == pytest.approx(
            [start + k * float(plan.gop_frames / plan.fps) for k in range(len(key_times))],
            abs=1e-4,
        )

    playlist = pipeline.hls_playlist(
        [(p.name, d) for p, (_, _, d) in zip(paths, ranges, strict=True)], ended=True
    )
    assert playlist.count("#EXTINF:") == len(ranges)

    dst = tmp_path / "web.mp4"
    pipeline.join_chunks(paths, dst)  # durations measured from the chunks themselves
    stream = video_stream(dst)
    expected = round(pr.duration_s * plan.fps)
    assert abs(int(stream["nb_read_frames"]) - expected) <= 1
    assert float(stream["duration"]) == pytest.approx(pr.duration_s, abs=1 / float(plan.fps))
    audio = ffprobe(dst, "-select_streams", "a:0", "-show_streams")["streams"][0]
    assert float(audio["duration"]) == pytest.approx(float(stream["duration"]), abs=0.03)
    assert top_level_boxes(dst).index("moov") < top_level_boxes(dst).index("mdat")
    assert leftovers(tmp_path) == []


def test_encode_chunk_rotated_silent_hdr(media_samples: Samples, tmp_path: Path) -> None:
    rotated = probe(media_samples["rotated"])
    plan = pipeline.plan(rotated)
    pipeline.encode_chunk(media_samples["rotated"], tmp_path / "r.ts", rotated, plan, 0.0, 1.0)
    stream = video_stream(tmp_path / "r.ts")
    assert (stream["width"], stream["height"]) == (240, 320)
    assert not stream.get("side_data_list")

    vfr = probe(media_samples["vfr"])  # no audio: silence keeps the chunk layout the same
    plan = pipeline.plan(vfr)
    pipeline.encode_chunk(media_samples["vfr"], tmp_path / "v.ts", vfr, plan, 0.0, 2.002)
    streams = ffprobe(tmp_path / "v.ts", "-show_streams")["streams"]
    assert sorted(s["codec_type"] for s in streams) == ["audio", "video"]
    assert int(video_stream(tmp_path / "v.ts")["nb_read_frames"]) == 60

    hdr = probe(media_samples["hdr"])
    plan = pipeline.plan(hdr)
    pipeline.encode_chunk(media_samples["hdr"], tmp_path / "h.ts", hdr, plan, 0.0, 2.0)
    stream = video_stream(tmp_path / "h.ts")
    assert stream["pix_fmt"] == "yuv420p"
    assert stream.get("color_transfer") == "bt709"


def test_hls_playlist() -> None:
    text = pipeline.hls_playlist([("seg_00000.ts", 10.01), ("seg_00001.ts", 4.2)], ended=False)
    assert text.splitlines()[:5] == [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        "#EXT-X-PLAYLIST-TYPE:EVENT",
        "#EXT-X-TARGETDURATION:11",
        "#EXT-X-MEDIA-SEQUENCE:0",
    ]
    assert "#EXTINF:10.010000,\nseg_00000.ts" in text
    assert "#EXT-X-ENDLIST" not in text
    assert pipeline.hls_playlist([("a.ts", 10.0)], ended=True).endswith("#EXT-X-ENDLIST\n")
    assert "#EXT-X-TARGETDURATION:10" in pipeline.hls_playlist([("a.ts", 10.0)], ended=True)


# --- pictures -----------------------------------------------------------------------------


@pytest.mark.parametrize("frame", [0, 37, 151])
def test_still_is_frame_exact(media_samples: Samples, tmp_path: Path, frame: int) -> None:
    src = media_samples["h264"]
    pr = probe(src)
    dst = tmp_path / "still.jpg"
    pipeline.still(src, dst, pr, frame)
    got = gray(dst)
    same = gray(src, f"select=eq(n\\,{frame})")
    other = gray(src, f"select=eq(n\\,{frame + 1})")
    assert mean_abs_diff(got, same) < 2.0
    # The neighbouring frame differs (the burned-in counter and the moving pattern).
    assert mean_abs_diff(got, other) > 2 * mean_abs_diff(got, same) + 0.5
    # By fps alone, as for a rendition whose probe is not at hand.
    pipeline.still(src, tmp_path / "by_fps.jpg", Fraction(30), frame)
    assert mean_abs_diff(gray(tmp_path / "by_fps.jpg"), same) < 2.0


def test_poster(media_samples: Samples, tmp_path: Path) -> None:
    pr = probe(media_samples["rotated"])
    pipeline.poster(media_samples["rotated"], tmp_path / "poster.jpg", pr)
    stream = video_stream(tmp_path / "poster.jpg")
    assert (stream["width"], stream["height"]) == (240, 320)  # upright


def test_thumbnails(media_samples: Samples, tmp_path: Path) -> None:
    pr = probe(media_samples["h264"])
    result = pipeline.thumbnails(media_samples["h264"], tmp_path, pr)
    assert result.interval_s == 1.0 and result.count == 6
    assert result.files == ["sheet_000.jpg", "thumbs.vtt"]
    assert (tmp_path / "thumbs.vtt").read_text() == result.vtt
    sheet = video_stream(tmp_path / "sheet_000.jpg")
    assert (sheet["width"], sheet["height"]) == (1600, 1200)
    lines = result.vtt.splitlines()
    assert lines[0] == "WEBVTT"
    cues = re.findall(
        r"^(\d\d:\d\d:\d\d\.\d\d\d) --> (\d\d:\d\d:\d\d\.\d\d\d)\n(\S+)#xywh=(\d+),(\d+),160,120$",
        result.vtt,
        re.M,
    )
    assert len(cues) == 6
    assert cues[0][:2] == ("00:00:00.000", "00:00:01.000")
    assert cues[-1][1] == "00:00:06.000"
    assert all(a[1] == b[0] for a, b in zip(cues, cues[1:], strict=False))  # contiguous
    assert cues[5][3:] == ("800", "0")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_thumbnails_keyframes_only(media_samples: Samples, tmp_path: Path) -> None:
    pr = probe(media_samples["h264"])  # a keyframe every second
    result = pipeline.thumbnails(media_samples["h264"], tmp_path, pr, interval_s=2.0)
    assert result.count == 3 and result.sheets == ["sheet_000.jpg"]


# --- montage ------------------------------------------------------------------------------


def test_render_montage(media_samples: Samples, tmp_path: Path) -> None:
    clips = [
        MontageClip(media_samples["h264"], 1.0, 2.5),
        MontageClip(media_samples["noaudio"], 0.5, 1.7),  # silent: gets silence
        MontageClip(media_samples["rotated"], 2.0, 3.0),  # portrait: letterboxed
        MontageClip(media_samples["hevc"], 0.25, 1.25),  # 59.94 fps source
    ]
    dst = tmp_path / "montage.mp4"
    pipeline.render_montage(clips, dst, fade_s=0.2, fps=Fraction(30), size=(320, 240))
    stream = video_stream(dst)
    assert (stream["width"], stream["height"]) == (320, 240)
    total = sum(c.out_s - c.in_s for c in clips)
    assert int(stream["nb_read_frames"]) == round(total * 30)
    assert float(stream["duration"]) == pytest.approx(total, abs=len(clips) / 30)
    streams = ffprobe(dst, "-show_streams")["streams"]
    assert sorted(s["codec_type"] for s in streams) == ["audio", "video"]
    assert top_level_boxes(dst).index("moov") < top_level_boxes(dst).index("mdat")
    # The first clip starts at source frame 30 (1.0 s at 30 fps), frame-exactly (no fade at 0.2 s
    # later: compare frame 6 of the montage with source frame 36).
    assert (
        mean_abs_diff(
            gray(dst, "select=eq(n\\,6)"), gray(media_samples["h264"], "select=eq(n\\,36)")
        )
        < 6.0
    )


# --- progress and failure -----------------------------------------------------------------


def test_progress_increases_to_one(
    media_samples: Samples, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ff, "PROGRESS_INTERVAL_S", 0.0)
    src = media_samples["h264"]
    pr = probe(src)
    plan = pipeline.Plan("reencode", ["test"], Fraction(30), 320, 240)
    seen: list[float] = []
    pipeline.encode_chunk(src, tmp_path / "c.ts", pr, plan, 2.0, 4.0, seen.append)
    assert len(seen) >= 3
    assert seen == sorted(seen)
    assert 0.0 <= seen[0] < 0.9 and seen[-1] == 1.0


def test_cancel_leaves_no_file(
    media_samples: Samples, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ff, "PROGRESS_INTERVAL_S", 0.0)
    src = media_samples["h264"]
    pr = probe(src)
    plan = pipeline.Plan("reencode", ["test"], Fraction(30), 320, 240)

    class Cancelled(Exception):
        pass

    def cancel(fraction: float) -> None:
        raise Cancelled

    dst = tmp_path / "c.ts"
    with pytest.raises(Cancelled):
        pipeline.encode_chunk(src, dst, pr, plan, 0.0, 6.0, cancel)
    assert list(tmp_path.iterdir()) == []


def test_failing_ffmpeg_leaves_no_file(media_samples: Samples, tmp_path: Path) -> None:
    pr = probe(media_samples["h264"])
    text = tmp_path / "in.mp4"
    text.write_bytes(media_samples["text"].read_bytes())
    dst = tmp_path / "web.mp4"
    with pytest.raises(MediaError) as caught:
        pipeline.remux(text, dst, pr)
    assert caught.value.code == "ffmpeg_failed"
    assert caught.value.detail  # ffmpeg's own words, for the log
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MediaError) as caught:
        probe(tmp_path / "gone.mp4")
    assert caught.value.code == "source_missing"
    # The pipeline functions say the same for a vanished source.
    with pytest.raises(MediaError) as failed:
        pipeline.poster(tmp_path / "gone.mp4", tmp_path / "p.jpg", _fake_probe())
    assert failed.value.code == "source_missing"
    assert list(tmp_path.iterdir()) == []


def _fake_probe() -> Probe:
    return Probe.from_json(
        {"path": "x", "format_name": "mov,mp4", "size": 1, "duration_s": 1.0, "video_index": 0,
         "avg_fps": "30", "r_fps": "30", "sar": "1", "width": 2, "height": 2,
         "display_width": 2, "display_height": 2, "rotation": 0, "bit_depth": 8}
    )  # fmt: skip
