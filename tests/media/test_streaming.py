"""Signed, viewer-bound media URLs over real HTTP: byte ranges, validators, refusals, access
checked again on every request, and the X-Accel-Redirect and object-storage modes."""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import itsdangerous
import pytest
import requests
from flask import Flask

from lti_tool.cli import main
from lti_tool.cycles.models import Cycle
from lti_tool.db import db, utcnow
from lti_tool.media.models import REC_READY, Recording
from lti_tool.media.storage import S3Storage, get_storage
from lti_tool.media.streaming import MediaLinkExpired, MediaLinkInvalid, media_url, read_grant
from tests.lti_platform import INSTRUCTOR, LEARNER, Person, TestPlatform, browser
from tests.media.test_storage import S3_KEYS, s3_url  # noqa: F401 - a fixture

SIZE = 3 * 1024 * 1024 + 123  # more than a few 256 KiB blocks, not a multiple of them


# --- people from real launches, a traject in its cycles -------------------------------------


@dataclass
class Signed:
    """One person after a real launch: their API token, user id and cookie session."""

    token: str
    user_id: int
    session: requests.Session

    @property
    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Cast:
    platform: TestPlatform
    coach: Signed
    teacher: Signed
    outsider: Signed
    traject_id: int
    cycle_id: int


def sign_in(platform: TestPlatform, sub: str, roles: list[str], name: str) -> Signed:
    person = Person(sub=f"{sub}-{uuid.uuid4().hex[:6]}", roles=roles, name=name)
    result = platform.launch(person, mutate=lambda body: body.update(locale="en"))
    assert result.status == 303, result.response.text[:400]
    session = browser()
    start = session.get(result.response.headers["Location"], timeout=10)
    match = re.search(r'data-api-token="([^"]+)"', start.text)
    assert start.status_code == 200 and match is not None
    token = match.group(1)
    me = requests.get(
        platform.tool_base + "/api/me", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    return Signed(token, int(me.json()["user"]["id"]), session)


def launch_cast(app: Flask, base: str) -> Cast:
    """A platform, a coach, their teacher and a colleague outside the traject, each launched
    for real; the coach's traject of the teacher through its intake (cycle 1 open)."""
    platform = TestPlatform(tool_base=base)
    result = app.test_cli_runner().invoke(main, platform.cli_args(name="Media school"))
    assert result.exit_code == 0, result.output
    coach = sign_in(platform, "coach", [INSTRUCTOR], "Sanne Coach")
    teacher = sign_in(platform, "teacher", [LEARNER], "Jeroen Leerkracht")
    outsider = sign_in(platform, "other", [LEARNER], "Ander Collega")

    def call(who: Signed, method: str, path: str, body: Any = None) -> Any:
        answer = requests.request(method, base + path, json=body, headers=who.bearer, timeout=10)
        assert answer.status_code in (200, 201), (path, answer.text[:400])
        return answer.json()

    traject = call(coach, "POST", "/api/trajects", {
        "kind": "teacher", "title": "Rust in groep 5", "teacher_id": teacher.user_id,
    })  # fmt: skip
    t = traject["id"]
    call(teacher, "PUT", f"/api/trajects/{t}/intake", {"help_question": "Meer rust"})
    call(teacher, "POST", f"/api/trajects/{t}/questions", {"text": "Hoe geef ik beurten?"})
    call(coach, "POST", f"/api/trajects/{t}/intake/complete")
    with app.app_context():
        cycle_id = db.session.query(Cycle.id).filter_by(traject_id=t, number=1).scalar()
    return Cast(platform, coach, teacher, outsider, t, int(cycle_id))


@pytest.fixture(scope="module")
def cast(app: Flask, live_server: str) -> Iterator[Cast]:
    made = launch_cast(app, live_server)
    yield made
    made.platform.close()


@dataclass
class Video:
    recording_id: int
    key: str
    data: bytes


@pytest.fixture(scope="module")
def video(app: Flask, cast: Cast, tmp_path_factory: pytest.TempPathFactory) -> Video:
    """A ready recording of cycle 1 with a web rendition of random bytes in local storage."""
    data = os.urandom(SIZE)
    src = tmp_path_factory.mktemp("video") / "web.mp4"
    src.write_bytes(data)
    with app.app_context():
        recording = Recording(
            cycle_id=cast.cycle_id,
            uploaded_by_id=cast.coach.user_id,
            original_name="les.mp4",
            original_key="pending",
            status=REC_READY,
            size=SIZE,
            ready_at=utcnow(),
        )
        db.session.add(recording)
        db.session.flush()
        key = f"recordings/{recording.id}/web.mp4"
        recording.original_key = key
        recording.rendition_key = key
        get_storage().put_file(key, src)
        db.session.commit()
        return Video(recording.id, key, data)


def url_for_media(app: Flask, video: Video, user_id: int, **kwargs: Any) -> str:
    with app.test_request_context():
        return media_url(video.key, user_id=user_id, subject=("recording", video.recording_id),
                         **kwargs)  # fmt: skip


@pytest.fixture
def coach_url(app: Flask, live_server: str, cast: Cast, video: Video) -> str:
    return live_server + url_for_media(app, video, cast.coach.user_id)


# --- byte ranges ------------------------------------------------------------------------------


def get(url: str, range_: str | None = None, **headers: str) -> requests.Response:
    if range_ is not None:
        headers["Range"] = range_
    return requests.get(url, headers=headers, timeout=10, allow_redirects=False)


def test_the_url_keeps_the_file_name(app: Flask, cast: Cast, video: Video) -> None:
    url = url_for_media(app, video, cast.coach.user_id)
    assert re.fullmatch(r"/media/s/[A-Za-z0-9_.\-]+/web\.mp4", url)
    with app.app_context():
        grant = read_grant(url.split("/")[3])
    assert (grant.user_id, grant.key) == (cast.coach.user_id, video.key)
    assert (grant.subject_kind, grant.subject_id) == ("recording", video.recording_id)
    assert 890 <= grant.remaining <= 900  # settings.media_url_ttl


def test_whole_file_and_head(coach_url: str, video: Video) -> None:
    whole = get(coach_url)
    assert whole.status_code == 200
    assert whole.content == video.data
    h = whole.headers
    assert h["Content-Length"] == str(SIZE) and h["Accept-Ranges"] == "bytes"
    assert h["Content-Type"] == "video/mp4" and h["X-Content-Type-Options"] == "nosniff"
    assert re.fullmatch(r"private, max-age=(\d+)", h["Cache-Control"])
    assert 880 <= int(h["Cache-Control"].rsplit("=", 1)[1]) <= 900
    assert h["ETag"].startswith('"') and h["Last-Modified"].endswith("GMT")

    head = requests.head(coach_url, timeout=10)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["Content-Length"] == str(SIZE)
    assert head.headers["ETag"] == h["ETag"]
    ranged_head = requests.head(coach_url, headers={"Range": "bytes=10-19"}, timeout=10)
    assert ranged_head.status_code == 206 and ranged_head.headers["Content-Length"] == "10"


@pytest.mark.parametrize(
    ("header", "start", "stop"),
    [
        ("bytes=0-0", 0, 1),  # what a player asks first
        ("bytes=1000-2999", 1000, 3000),
        ("bytes=2097152-2359295", 2097152, 2359296),  # deep in the file: a real seek
        ("bytes=-500", SIZE - 500, SIZE),  # the last 500 bytes (moov atom at the end)
        ("bytes=100-", 100, SIZE),
        (f"bytes={SIZE - 1}-{SIZE + 5000}", SIZE - 1, SIZE),  # the end is clipped to the size
        ("bytes=0-9, 20-29", 0, 10),  # several ranges: the first only
    ],
)
def test_ranges(coach_url: str, video: Video, header: str, start: int, stop: int) -> None:
    answer = get(coach_url, header)
    assert answer.status_code == 206, answer.text[:200]
    assert answer.headers["Content-Range"] == f"bytes {start}-{stop - 1}/{SIZE}"
    assert answer.headers["Content-Length"] == str(stop - start)
    assert answer.content == video.data[start:stop]


@pytest.mark.parametrize(
    "header", [f"bytes={SIZE}-", f"bytes={SIZE + 10}-{SIZE + 20}", "bytes=500-100", "bytes=abc",
               "bytes=-0"],
)  # fmt: skip
def test_unsatisfiable_or_malformed_ranges(coach_url: str, header: str) -> None:
    answer = get(coach_url, header)
    assert answer.status_code == 416
    assert answer.headers["Content-Range"] == f"bytes */{SIZE}"
    assert answer.content == b""


def test_other_units_are_ignored(coach_url: str) -> None:
    answer = get(coach_url, "items=0-5")
    assert answer.status_code == 200 and len(answer.content) == SIZE


def test_validators(coach_url: str, video: Video) -> None:
    first = get(coach_url, "bytes=0-0")
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    same = get(coach_url, "bytes=10-19", **{"If-Range": etag})
    assert same.status_code == 206 and same.content == video.data[10:20]
    by_date = get(coach_url, "bytes=10-19", **{"If-Range": modified})
    assert by_date.status_code == 206
    # The file changed since the client's copy: the whole new file, not a mixed range.
    stale = get(coach_url, "bytes=10-19", **{"If-Range": '"1-2"'})
    assert stale.status_code == 200 and stale.content == video.data
    weak = get(coach_url, "bytes=10-19", **{"If-Range": "W/" + etag})
    assert weak.status_code == 200  # If-Range needs a strong validator
    cached = get(coach_url, **{"If-None-Match": etag})
    assert cached.status_code == 304 and cached.content == b""


# --- refusals ---------------------------------------------------------------------------------


def test_expired_and_tampered_tokens(
    app: Flask, live_server: str, cast: Cast, video: Video, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A link made 11 seconds ago with a 10-second lifetime (minted in the past, not slept).
    with monkeypatch.context() as m:
        m.setattr(itsdangerous.TimestampSigner, "get_timestamp", lambda self: int(time.time()) - 11)
        old = url_for_media(app, video, cast.coach.user_id, ttl=10)
    with app.app_context():
        with pytest.raises(MediaLinkExpired):
            read_grant(old.split("/")[3])
        with pytest.raises(MediaLinkInvalid):
            read_grant("nonsense")
    expired = get(live_server + old)
    assert expired.status_code == 403 and "verlopen" in expired.text  # Dutch by default
    assert expired.headers["Cache-Control"] == "no-store"

    fresh = url_for_media(app, video, cast.coach.user_id, ttl=10)
    assert get(live_server + fresh).status_code == 200
    token = fresh.split("/")[3]
    flipped = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    assert get(live_server + fresh.replace(token, flipped)).status_code == 403
    assert get(live_server + "/media/s/garbage/web.mp4").status_code == 403
    # A token signed with the same key for another purpose opens nothing here.
    with app.app_context():
        other = itsdangerous.URLSafeTimedSerializer(
            app.config["SECRET_KEY"], salt="beeldcoach.launch.api"
        )
        foreign = other.dumps({"u": cast.coach.user_id, "k": video.key, "s": ["recording", 1]})
    assert get(f"{live_server}/media/s/{foreign}/web.mp4").status_code == 403


def test_a_link_is_bound_to_its_viewer(
    app: Flask, live_server: str, cast: Cast, coach_url: str
) -> None:
    assert get(coach_url, **cast.coach.bearer).status_code == 200  # the coach, signed in
    assert get(coach_url).status_code == 200  # a player without credentials
    assert cast.coach.session.get(coach_url, timeout=10).status_code == 200  # coach's cookie
    # The teacher was given the coach's link: refused, by token or by cookie.
    assert get(coach_url, **cast.teacher.bearer).status_code == 403
    passed_on = cast.teacher.session.get(coach_url, timeout=10)
    assert passed_on.status_code == 403 and "someone else" in passed_on.text


def test_access_is_checked_on_every_request(
    app: Flask, live_server: str, cast: Cast, video: Video
) -> None:
    teacher_url = live_server + url_for_media(app, video, cast.teacher.user_id)
    outsider_url = live_server + url_for_media(app, video, cast.outsider.user_id)
    assert get(outsider_url, "bytes=0-0").status_code == 403  # not in the traject
    with app.app_context():
        cycle = db.session.get(Cycle, cast.cycle_id)
        assert cycle is not None
        shared_before = cycle.shared_at
        cycle.shared_at = None
        db.session.commit()
    try:
        # The filmed teacher sees footage once the coach shared the cycle, not before.
        assert get(teacher_url, "bytes=0-0").status_code == 403
        with app.app_context():
            cycle = db.session.get(Cycle, cast.cycle_id)
            assert cycle is not None
            cycle.shared_at = utcnow()
            db.session.commit()
        assert get(teacher_url, "bytes=0-0").status_code == 206
        # Shared no longer (access withdrawn): the very next range is refused.
        with app.app_context():
            cycle = db.session.get(Cycle, cast.cycle_id)
            assert cycle is not None
            cycle.shared_at = None
            db.session.commit()
        refused = get(teacher_url, "bytes=1-1")
        assert refused.status_code == 403 and "niet bekijken" in refused.text
    finally:
        with app.app_context():
            cycle = db.session.get(Cycle, cast.cycle_id)
            assert cycle is not None
            cycle.shared_at = shared_before
            db.session.commit()
    unknown = live_server + url_for_media(app, Video(2**31 - 5, video.key, b""), cast.coach.user_id)
    assert get(unknown).status_code == 403  # a removed recording opens nothing


def test_missing_file_is_404(app: Flask, live_server: str, cast: Cast, video: Video) -> None:
    gone = Video(video.recording_id, f"recordings/{video.recording_id}/nothing.mp4", b"")
    assert get(live_server + url_for_media(app, gone, cast.coach.user_id)).status_code == 404


def test_download_name(app: Flask, live_server: str, cast: Cast, video: Video) -> None:
    # Downloads are off unless the school allows them (for coaches): this school does.
    from lti_tool.cycles.footage import platform_of
    from lti_tool.cycles.models import Traject
    from lti_tool.privacy.services import save_policy

    with app.app_context():
        traject = db.session.get(Traject, cast.traject_id)
        assert traject is not None
        platform_id = platform_of(traject)
        assert platform_id is not None
        save_policy(platform_id, cast.coach.user_id, {"coach_downloads": "1"})
        db.session.commit()
    url = url_for_media(app, video, cast.coach.user_id, download_name="Les groep 5 – fragment.mp4")
    assert url.endswith("/Les%20groep%205%20%E2%80%93%20fragment.mp4")
    answer = get(live_server + url, "bytes=0-99")
    assert answer.status_code == 206
    disposition = answer.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="Les groep 5  fragment.mp4"')
    assert "filename*=UTF-8''Les%20groep%205%20%E2%80%93%20fragment.mp4" in disposition


# --- nginx and object storage -----------------------------------------------------------------


def test_x_accel_redirect_mode(
    app: Flask, cast: Cast, video: Video, coach_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app.config["BEELDCOACH"], "media_accel_prefix", "/protected-media/")
    answer = get(coach_url, "bytes=0-99")
    assert answer.status_code == 200 and answer.content == b""
    assert answer.headers["X-Accel-Redirect"] == f"/protected-media/{video.key}"
    assert answer.headers["Content-Type"] == "video/mp4"
    assert answer.headers["Cache-Control"].startswith("private, max-age=")
    assert "Content-Range" not in answer.headers  # nginx answers the range
    # Refusals stay the app's.
    assert get(coach_url, **cast.teacher.bearer).status_code == 403


def test_object_storage_mode_redirects_to_a_presigned_url(
    app: Flask,
    cast: Cast,
    video: Video,
    coach_url: str,
    s3_url: str,  # noqa: F811 - the fixture
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    settings = app.config["BEELDCOACH"]
    bucket = "bc-stream-" + uuid.uuid4().hex[:8]
    monkeypatch.setattr(settings, "storage", "s3")
    monkeypatch.setattr(settings, "s3_bucket", bucket)
    monkeypatch.setattr(settings, "s3_endpoint_url", s3_url)
    if not os.environ.get("BEELDCOACH_TEST_S3_URL"):
        for name, value in S3_KEYS.items():
            monkeypatch.setitem(settings.extra, name, value)
    storage = get_storage(settings)
    assert isinstance(storage, S3Storage)
    storage.client.create_bucket(Bucket=bucket)
    src = tmp_path / "web.mp4"
    src.write_bytes(video.data)
    storage.put_file(video.key, src)

    answer = get(coach_url, "bytes=0-0")
    assert answer.status_code == 302
    location = answer.headers["Location"]
    assert location.startswith(s3_url + f"/{bucket}/{video.key}?")
    assert "X-Amz-Expires=300" in location  # never longer than five minutes
    assert answer.headers["Cache-Control"] == "private, max-age=270"
    ranged = requests.get(location, headers={"Range": "bytes=1000-1999"}, timeout=10)
    assert ranged.status_code == 206 and ranged.content == video.data[1000:2000]
    assert ranged.headers["Content-Type"] == "video/mp4"
    # Refusals happen before any redirect.
    assert get(coach_url, **cast.teacher.bearer).status_code == 403
