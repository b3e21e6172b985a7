"""The resumable upload API (tus 1.0) over real HTTP with real clients: tuspy for whole
uploads, raw http.client for dropped connections; resumes across a server restart."""

from __future__ import annotations

import base64
import fcntl
import http.client
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from flask import Flask
from tusclient.client import TusClient
from werkzeug.serving import make_server

from lti_tool import create_app
from lti_tool.db import db, utcnow
from lti_tool.media.models import Recording, Upload
from lti_tool.media.storage import get_storage
from lti_tool.media.uploads import purge_expired_uploads, staging_path
from tests.media.test_streaming import Cast, Signed, launch_cast

TUS = {"Tus-Resumable": "1.0.0"}


@pytest.fixture(scope="module")
def cast(app: Flask, live_server: str) -> Iterator[Cast]:
    made = launch_cast(app, live_server)
    yield made
    made.platform.close()


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real small video (H.264 in MP4, 2 s)."""
    path = tmp_path_factory.mktemp("tus") / "les.mp4"
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-t", "2",
         "-pix_fmt", "yuv420p", str(path)],
        check=True, timeout=60,
    )  # fmt: skip
    return path


def metadata(cast: Cast, filename: str = "les.mp4", **extra: str) -> str:
    values = {"traject": str(cast.traject_id), "cycle": "1", "filename": filename,
              "filetype": "video/mp4", **extra}  # fmt: skip
    return ",".join(
        f"{k} {base64.b64encode(v.encode()).decode()}" if v else k for k, v in values.items()
    )


def create(base: str, who: Signed, length: int, meta: str, **headers: str) -> requests.Response:
    return requests.post(
        base + "/api/uploads",
        headers={**TUS, **who.bearer, "Upload-Length": str(length), "Upload-Metadata": meta,
                 **headers},
        timeout=10,
    )  # fmt: skip


def new_upload(base: str, cast: Cast, length: int, **kwargs: str) -> str:
    answer = create(base, cast.coach, length, metadata(cast, **kwargs))
    assert answer.status_code == 201, answer.text
    return base + answer.headers["Location"]


def patch(
    url: str,
    who: Signed,
    offset: int,
    body: bytes,
    wait: bool = True,
    headers: dict[str, str] | None = None,
) -> requests.Response:
    """A PATCH; retried while the server still finishes an earlier, dropped one (423), as
    tus-js-client does, unless wait is False."""
    for _ in range(100):
        answer = requests.patch(
            url,
            data=body,
            headers={**TUS, **who.bearer, "Upload-Offset": str(offset),
                     "Content-Type": "application/offset+octet-stream", **(headers or {})},
            timeout=30,
        )  # fmt: skip
        if answer.status_code != 423 or not wait:
            break
        time.sleep(0.05)
    return answer


def head(url: str, who: Signed) -> requests.Response:
    return requests.head(url, headers={**TUS, **who.bearer}, timeout=10)


def staged(app: Flask, upload_id: str) -> Path:
    with app.app_context():
        return staging_path(upload_id)


def stored_original(app: Flask, recording_id: int) -> bytes:
    with app.app_context():
        recording = db.session.get(Recording, recording_id)
        assert recording is not None
        with get_storage().open(recording.original_key) as fh:
            return fh.read()


# --- whole uploads ----------------------------------------------------------------------------


def test_options_tells_the_capabilities(live_server: str) -> None:
    answer = requests.options(live_server + "/api/uploads", timeout=10)
    assert answer.status_code == 204
    assert answer.headers["Tus-Resumable"] == "1.0.0"
    assert answer.headers["Tus-Version"] == "1.0.0"
    assert answer.headers["Tus-Extension"] == "creation,termination,expiration"
    assert answer.headers["Tus-Max-Size"] == str(8 * 1024**3)


def test_a_whole_upload_with_tuspy(app: Flask, live_server: str, cast: Cast, video: Path) -> None:
    data = video.read_bytes()
    client = TusClient(live_server + "/api/uploads", headers=cast.coach.bearer)
    with open(video, "rb") as fh:
        uploader = client.uploader(
            file_stream=fh,
            chunk_size=16 * 1024,  # several PATCHes even for this small file
            metadata={
                "traject": str(cast.traject_id),
                "cycle": "1",
                "filename": "Les 1.MP4",
                "filetype": "video/mp4",
            },  # fmt: skip
        )
        uploader.upload()
    assert uploader.offset == len(data) > 3 * 16 * 1024
    assert uploader.request is not None and uploader.url is not None
    last = uploader.request.response_headers
    recording_id = int(last["beeldcoach-recording"])
    assert "upload-expires" in last

    upload_id = uploader.url.rsplit("/", 1)[1]
    with app.app_context():
        upload = db.session.get(Upload, upload_id)
        assert upload is not None and upload.completed_at is not None
        assert upload.recording_id == recording_id and upload.user_id == cast.coach.user_id
        recording = db.session.get(Recording, recording_id)
        assert recording is not None and recording.cycle_id == cast.cycle_id
        assert recording.original_name == "Les 1.MP4"
        assert recording.original_key == f"recordings/{recording_id}/original.mp4"
    assert stored_original(app, recording_id) == data  # byte for byte
    assert not staged(app, upload_id).exists()  # moved into storage

    # Asking again after completion: whole, and a repeated last PATCH changes nothing.
    done = head(uploader.url, cast.coach)
    assert done.headers["Upload-Offset"] == done.headers["Upload-Length"] == str(len(data))
    again = patch(uploader.url, cast.coach, len(data), b"")
    assert again.status_code == 204 and again.headers["Beeldcoach-Recording"] == str(recording_id)


def test_a_chunk_above_the_apps_16_mib_limit(app: Flask, live_server: str, cast: Cast) -> None:
    """One PATCH of 20 MiB: the limit is lifted for PATCHes only. Not video: the recording is
    made all the same and shows why it is unusable."""
    body = os.urandom(20 * 1024 * 1024)
    url = new_upload(live_server, cast, len(body), filename="notes.mov")
    answer = patch(url, cast.coach, 0, body)
    assert answer.status_code == 204, answer.text
    assert answer.headers["Upload-Offset"] == str(len(body))
    recording_id = int(answer.headers["Beeldcoach-Recording"])
    with app.app_context():
        recording = db.session.get(Recording, recording_id)
        assert recording is not None and recording.status == "rejected"
    assert stored_original(app, recording_id) == body
    # Elsewhere the app's limit holds.
    too_big = requests.post(
        live_server + "/api/trajects", data=b"x" * (17 * 1024 * 1024),
        headers={**cast.coach.bearer, "Content-Type": "application/json"}, timeout=30,
    )  # fmt: skip
    assert too_big.status_code == 413


# --- interrupted, resumed ---------------------------------------------------------------------


def drop_mid_body(url: str, who: Signed, offset: int, announced: int, sent: bytes) -> None:
    """A PATCH announcing `announced` bytes whose connection dies after `sent`."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(str(parts.hostname), parts.port, timeout=10)
    conn.putrequest("PATCH", parts.path)
    for name, value in {**TUS, **who.bearer, "Upload-Offset": str(offset),
                        "Content-Type": "application/offset+octet-stream",
                        "Content-Length": str(announced)}.items():  # fmt: skip
        conn.putheader(name, value)
    conn.endheaders()
    assert conn.sock is not None
    conn.sock.sendall(sent)
    conn.sock.shutdown(socket.SHUT_RDWR)
    conn.close()


def wait_for_offset(url: str, who: Signed, expected: int) -> int:
    deadline = time.monotonic() + 10
    offset = -1
    while time.monotonic() < deadline:
        offset = int(head(url, who).headers["Upload-Offset"])
        if offset == expected:
            break
        time.sleep(0.05)
    return offset


def test_a_dropped_connection_keeps_what_arrived(
    app: Flask, live_server: str, cast: Cast, video: Path
) -> None:
    data = video.read_bytes()
    url = new_upload(live_server, cast, len(data))
    cut = len(data) // 3 + 17
    drop_mid_body(url, cast.coach, 0, len(data), data[:cut])
    assert wait_for_offset(url, cast.coach, cut) == cut
    status = head(url, cast.coach)
    assert status.headers["Upload-Length"] == str(len(data))
    assert status.headers["Cache-Control"] == "no-store" and "Upload-Expires" in status.headers

    # tuspy resumes from the server's offset.
    client = TusClient(live_server + "/api/uploads", headers=cast.coach.bearer)
    with open(video, "rb") as fh:
        # Retries: the dropped PATCH may still hold the upload for a moment (423).
        uploader = client.uploader(
            file_stream=fh, url=url, chunk_size=16 * 1024, retries=20, retry_delay=0.05
        )
        assert uploader.offset == cut
        uploader.upload()
    assert uploader.request is not None
    recording_id = int(uploader.request.response_headers["beeldcoach-recording"])
    assert stored_original(app, recording_id) == data


def test_resume_after_a_server_restart(app: Flask, live_server: str, cast: Cast) -> None:
    """Half the bytes reach one server, which goes away; a new app instance (same settings,
    database and staging folder) takes the rest."""
    data = os.urandom(700_000)
    url = new_upload(live_server, cast, len(data), filename="clip.mp4")
    path = urlsplit(url).path
    assert patch(url, cast.coach, 0, data[:300_000]).status_code == 204

    second = create_app(settings=app.config["BEELDCOACH"])
    server = make_server("127.0.0.1", 0, second, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        other = f"http://localhost:{server.server_port}{path}"
        drop_mid_body(other, cast.coach, 300_000, 400_000, data[300_000:450_000])
        assert wait_for_offset(other, cast.coach, 450_000) == 450_000
        done = patch(other, cast.coach, 450_000, data[450_000:])
        assert done.status_code == 204 and done.headers["Upload-Offset"] == str(len(data))
        recording_id = int(done.headers["Beeldcoach-Recording"])
    finally:
        server.shutdown()
        with second.app_context():
            db.engine.dispose()
    assert stored_original(app, recording_id) == data


# --- refusals ---------------------------------------------------------------------------------


def test_protocol_refusals(live_server: str, cast: Cast) -> None:
    url = new_upload(live_server, cast, 1000)
    wrong_offset = patch(url, cast.coach, 10, b"x" * 10)
    assert wrong_offset.status_code == 409
    assert wrong_offset.json()["message"] == (
        "The upload got out of step; it resumes from the server's position."
    )
    assert wrong_offset.headers["Tus-Resumable"] == "1.0.0"

    wrong_type = patch(
        url, cast.coach, 0, b"x", headers={"Content-Type": "application/octet-stream"}
    )
    assert wrong_type.status_code == 415 and wrong_type.json()["error"] == "content_type"

    no_version = requests.patch(
        url, data=b"x", timeout=10,
        headers={**cast.coach.bearer, "Upload-Offset": "0",
                 "Content-Type": "application/offset+octet-stream"},
    )  # fmt: skip
    assert no_version.status_code == 412 and no_version.headers["Tus-Version"] == "1.0.0"
    assert requests.head(url, headers=cast.coach.bearer, timeout=10).status_code == 412
    no_offset = patch(url, cast.coach, 0, b"x", headers={"Upload-Offset": "soon"})
    assert no_offset.status_code == 400

    past_the_end = patch(url, cast.coach, 0, b"x" * 1001)
    assert past_the_end.status_code == 413
    assert head(url, cast.coach).headers["Upload-Offset"] == "0"  # nothing written

    assert patch(url, cast.coach, 0, b"a" * 600).headers["Upload-Offset"] == "600"
    assert head(url, cast.coach).headers["Upload-Offset"] == "600"


def test_too_large_and_bad_creation(live_server: str, cast: Cast) -> None:
    huge = create(live_server, cast.coach, 8 * 1024**3 + 1, metadata(cast))
    assert huge.status_code == 413
    assert huge.json()["message"] == "This file is too large: at most 8 GB can be uploaded."
    empty = create(live_server, cast.coach, 0, metadata(cast))
    assert empty.status_code == 400 and empty.json()["error"] == "empty"
    assert create(live_server, cast.coach, 100, "traject MQ==").status_code == 400  # no cycle
    assert create(live_server, cast.coach, 100, "filename !!!").status_code == 400
    no_length = requests.post(
        live_server + "/api/uploads", timeout=10,
        headers={**TUS, **cast.coach.bearer, "Upload-Metadata": metadata(cast)},
    )  # fmt: skip
    assert no_length.status_code == 400
    # Only the traject's coach adds recordings, to a cycle that exists.
    assert create(live_server, cast.teacher, 100, metadata(cast)).status_code == 403
    assert create(live_server, cast.outsider, 100, metadata(cast)).status_code == 403
    assert create(live_server, cast.coach, 100, metadata(cast, cycle="99")).status_code in (
        409, 422,
    )  # fmt: skip
    unknown = metadata(cast, traject=str(2**40))
    assert create(live_server, cast.coach, 100, unknown).status_code == 403


def test_a_failed_completion_is_finished_when_the_client_asks_again(
    app: Flask, live_server: str, cast: Cast, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The last byte is safely stored but making the recording fails (storage down, a crash):
    the client's next HEAD finds the upload whole, and completes it."""
    from lti_tool.media import services

    real = services.complete_upload
    calls: list[str] = []

    def flaky(upload_id: str) -> Recording:
        calls.append(upload_id)
        if len(calls) == 1:
            raise RuntimeError("object storage unreachable")
        return real(upload_id)

    monkeypatch.setattr(services, "complete_upload", flaky)
    data = os.urandom(1000)
    url = new_upload(live_server, cast, len(data))
    assert patch(url, cast.coach, 0, data).status_code == 500
    status = head(url, cast.coach)
    assert status.status_code == 200 and status.headers["Upload-Offset"] == "1000"
    assert len(calls) == 2
    again = patch(url, cast.coach, 1000, b"")
    assert again.status_code == 204
    assert stored_original(app, int(again.headers["Beeldcoach-Recording"])) == data


def test_authentication_and_ownership(live_server: str, cast: Cast) -> None:
    url = new_upload(live_server, cast, 1000)
    anonymous = requests.post(
        live_server + "/api/uploads", timeout=10,
        headers={**TUS, "Upload-Length": "10", "Upload-Metadata": metadata(cast)},
    )  # fmt: skip
    assert anonymous.status_code == 401 and anonymous.json()["error"] == "not_authenticated"
    assert requests.head(url, headers=TUS, timeout=10).status_code == 401
    nobody = requests.patch(
        url, data=b"x", timeout=10,
        headers={**TUS, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"},
    )  # fmt: skip
    assert nobody.status_code == 401
    # Another person's upload does not exist for them.
    assert head(url, cast.teacher).status_code == 404
    assert patch(url, cast.teacher, 0, b"x").status_code == 404
    assert (
        requests.delete(url, headers={**TUS, **cast.teacher.bearer}, timeout=10).status_code == 404
    )
    assert head(live_server + "/api/uploads/" + "0" * 32, cast.coach).status_code == 404
    assert head(live_server + "/api/uploads/nonsense", cast.coach).status_code == 404
    assert head(url, cast.coach).status_code == 200


def test_termination(app: Flask, live_server: str, cast: Cast) -> None:
    url = new_upload(live_server, cast, 1000)
    upload_id = url.rsplit("/", 1)[1]
    assert patch(url, cast.coach, 0, b"z" * 100).status_code == 204
    assert staged(app, upload_id).exists()
    gone = requests.delete(url, headers={**TUS, **cast.coach.bearer}, timeout=10)
    assert gone.status_code == 204
    assert not staged(app, upload_id).exists()
    assert head(url, cast.coach).status_code == 404


def test_a_second_patch_while_one_streams_is_told_to_wait(
    app: Flask, live_server: str, cast: Cast
) -> None:
    url = new_upload(live_server, cast, 1000)
    with open(staged(app, url.rsplit("/", 1)[1]), "ab") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)  # as a PATCH in progress holds it
        busy = patch(url, cast.coach, 0, b"x" * 10, wait=False)
    assert busy.status_code == 423  # tus-js-client retries this one
    assert patch(url, cast.coach, 0, b"x" * 10).status_code == 204


def test_expired_uploads_are_purged(app: Flask, live_server: str, cast: Cast) -> None:
    url = new_upload(live_server, cast, 1000)
    upload_id = url.rsplit("/", 1)[1]
    assert patch(url, cast.coach, 0, b"q" * 10).status_code == 204
    keep = new_upload(live_server, cast, 1000).rsplit("/", 1)[1]
    stray = staged(app, "f" * 32)
    stray.write_bytes(b"left by a crash")
    long_ago = time.time() - 80 * 3600
    os.utime(stray, (long_ago, long_ago))
    with app.app_context():
        upload = db.session.get(Upload, upload_id)
        assert upload is not None
        upload.expires_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
    assert head(url, cast.coach).status_code == 404  # expired: gone for the client at once
    with app.app_context():
        assert purge_expired_uploads() == 2
        db.session.commit()
        assert db.session.get(Upload, upload_id) is None
        assert db.session.get(Upload, keep) is not None
    assert not staged(app, upload_id).exists() and not stray.exists()
    assert staged(app, keep).exists()
