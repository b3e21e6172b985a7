"""`python -m lti_tool.media.transcode` as a user runs it: JSON on success, exit 2 on bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def _transcode(src: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lti_tool.media.transcode", str(src), str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_transcode_good_file(media_samples: dict[str, Path], tmp_path: Path) -> None:
    proc = _transcode(media_samples["hevc"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["mode"] == "reencode"
    assert summary["reasons"] == ["hevc"]
    assert summary["fps"] == "30000/1001"
    assert summary["frame_count"] == 120
    assert summary["probe"]["video_codec"] == "hevc"
    assert summary["realtime_factor"] > 0
    for name in (
        "web.mp4",
        "poster.jpg",
        "hls/index.m3u8",
        "hls/seg_00000.ts",
        "thumbs/thumbs.vtt",
    ):
        assert name in summary["files"]
        assert (tmp_path / name).stat().st_size > 0
    playlist = (tmp_path / "hls" / "index.m3u8").read_text()
    assert playlist.rstrip().endswith("#EXT-X-ENDLIST")
    # No temporary files are left behind.
    assert not [p for p in tmp_path.rglob("*") if p.name.startswith(".")]


def test_transcode_remux(media_samples: dict[str, Path], tmp_path: Path) -> None:
    proc = _transcode(media_samples["noaudio"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["mode"] == "remux"
    assert summary["reasons"] == []
    assert not (tmp_path / "hls").exists()


def test_transcode_text_file(media_samples: dict[str, Path], tmp_path: Path) -> None:
    proc = _transcode(media_samples["text"], tmp_path)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.strip() == (
        "error: text.mp4 is not a video file (ffprobe could not read it)"
    )
    assert not (tmp_path / "web.mp4").exists()


def test_transcode_missing_and_truncated(media_samples: dict[str, Path], tmp_path: Path) -> None:
    proc = _transcode(tmp_path / "nope.mp4", tmp_path / "out")
    assert proc.returncode == 2
    assert "does not exist" in proc.stderr
    proc = _transcode(media_samples["truncated_faststart"], tmp_path / "out")
    assert proc.returncode == 2
    assert "is incomplete" in proc.stderr
