"""Resumable uploads (tus 1.0): staging files whose size is the offset, appended in place."""

from __future__ import annotations

import base64
import binascii
import fcntl
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any, cast

import sqlalchemy as sa
from flask import current_app
from werkzeug.exceptions import ClientDisconnected

from lti_tool.db import db, utcnow
from lti_tool.media.models import Upload
from lti_tool.settings import Settings

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,termination,expiration"
OFFSET_TYPE = "application/offset+octet-stream"
BLOCK = 1024 * 1024


class UploadRefused(Exception):
    """A tus request the server will not carry out; `status` is its HTTP answer."""

    def __init__(self, status: int, code: str, message: str = "") -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Received:
    """The outcome of one PATCH: where the upload now stands and, once it is whole, the
    recording made of it."""

    offset: int
    length: int
    expires_at: datetime
    recording_id: int | None = None

    @property
    def complete(self) -> bool:
        return self.offset >= self.length


def _settings() -> Settings:
    return cast(Settings, current_app.config["BEELDCOACH"])


def staging_dir() -> Path:
    path = Path(_settings().upload_dir)
    path.mkdir(parents=True, exist_ok=True)
    return path


def staging_path(upload_id: str) -> Path:
    """Where an upload's bytes gather (media.services.staged_path says the same)."""
    if len(upload_id) != 32 or not all(c in "0123456789abcdef" for c in upload_id):
        raise ValueError("bad upload id")
    return staging_dir() / upload_id


def parse_metadata(header: str | None) -> dict[str, str]:
    """Upload-Metadata: comma-separated `key base64(value)` pairs (a value may be absent)."""
    result: dict[str, str] = {}
    for pair in (header or "").split(","):
        pair = pair.strip()
        if not pair:
            continue
        key, _, value = pair.partition(" ")
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise UploadRefused(400, "bad_metadata") from None
        result[key] = decoded
    return result


def create_upload(user_id: int, cycle_id: int, length: int, filename: str, filetype: str) -> Upload:
    """A new upload and its empty staging file (flushed; the request commits)."""
    settings = _settings()
    if length <= 0:
        # tus clients send nothing after creating an empty upload: refuse it now, clearly.
        raise UploadRefused(400, "empty" if length == 0 else "bad_length")
    if length > settings.upload_max_bytes:
        raise UploadRefused(413, "too_large")
    upload = Upload(
        id=uuid.uuid4().hex,
        cycle_id=cycle_id,
        user_id=user_id,
        length=length,
        filename=filename[:255],
        filetype=filetype[:100],
        expires_at=utcnow() + timedelta(hours=settings.upload_expiry_hours),
    )
    db.session.add(upload)
    db.session.flush()
    staging_path(upload.id).touch(mode=0o600)
    return upload


def find_upload(upload_id: str, user_id: int) -> Upload | None:
    """The person's own upload, unexpired; None for anyone else's (they learn nothing)."""
    if len(upload_id) != 32:
        return None
    upload = db.session.get(Upload, upload_id)
    if upload is None or upload.user_id != user_id:
        return None
    if upload.completed_at is None and upload.expires_at < utcnow():
        return None
    return upload


def current_offset(upload: Upload) -> int:
    """The staging file's size: what truly arrived, whatever happened to earlier requests.
    Once complete, the file has moved into storage and the offset is the length."""
    if upload.completed_at is not None:
        return upload.length
    try:
        return min(staging_path(upload.id).stat().st_size, upload.length)
    except FileNotFoundError:
        return 0


def settle(upload: Upload) -> int:
    """The offset for HEAD. A staging file already whole whose upload was never completed (the
    server stopped, or making the recording failed, after the last byte was safely written)
    is completed now: a client that finds the offset equal to the length sends nothing more,
    so this is the only moment left to make its recording. Flushes; the request commits."""
    offset = current_offset(upload)
    if upload.completed_at is None and offset == upload.length:
        with suppress(UploadRefused), _locked_for_append(staging_path(upload.id)):
            _complete(upload.id)
    return offset


@contextmanager
def _locked_for_append(path: Path) -> Iterator[IO[bytes]]:
    """The staging file opened for appending, locked against a second PATCH of the same upload
    (a client retrying while its first request still streams; other gunicorn processes too)."""
    try:
        fh = open(path, "ab")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        raise UploadRefused(404, "not_found") from None
    try:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            # 423: tus-js-client retries it, after asking for the offset again.
            raise UploadRefused(423, "busy") from None
        yield fh
    finally:
        fh.close()  # also releases the lock


def receive(
    upload_id: str,
    user_id: int,
    offset: int,
    stream: IO[bytes] | Any,
    content_length: int | None,
) -> Received:
    """Append a PATCH body at offset, in 1 MiB blocks (memory stays flat whatever the size),
    never past the upload's length; keep what arrived when the client goes away mid-body.
    When the last byte is in, the recording is made (media.services.complete_upload).

    No database transaction stays open while the bytes stream: a slow phone must not hold a
    connection of the pool (or SQLite's write lock) for minutes."""
    upload = find_upload(upload_id, user_id)
    if upload is None:
        raise UploadRefused(404, "not_found")
    length = upload.length
    if upload.completed_at is not None:
        if offset != length:
            raise UploadRefused(409, "offset_mismatch")
        return Received(length, length, upload.expires_at, upload.recording_id)
    expires_at = upload.expires_at
    db.session.rollback()

    path = staging_path(upload_id)
    disconnected = False
    with _locked_for_append(path) as fh:
        current = os.fstat(fh.fileno()).st_size
        if offset != current:
            raise UploadRefused(409, "offset_mismatch")
        room = length - current
        if content_length is not None and content_length > room:
            raise UploadRefused(413, "past_length")
        try:
            while room > 0:
                block = stream.read(min(BLOCK, room))
                if not block:
                    break
                fh.write(block)
                room -= len(block)
        except (ClientDisconnected, OSError):
            # tus allows partial PATCHes: what arrived stays, HEAD reports it.
            disconnected = True
        finally:
            fh.flush()
            os.fsync(fh.fileno())
        new_offset = length - room
        if disconnected:
            raise UploadRefused(400, "disconnected")
        recording_id = None
        if new_offset >= length:
            # Still under the lock: exactly one request completes the upload.
            recording_id = _complete(upload_id)
    return Received(new_offset, length, expires_at, recording_id)


def _complete(upload_id: str) -> int | None:
    upload = db.session.get(Upload, upload_id)
    if upload is None:
        raise UploadRefused(404, "not_found")
    if upload.completed_at is not None:
        return upload.recording_id
    upload.completed_at = utcnow()
    db.session.flush()
    from lti_tool.media import services

    try:
        recording = services.complete_upload(upload_id)
    except Exception as exc:
        # A file ffmpeg refuses is still received: the recording shows why ("rejected").
        from lti_tool.media.ffmpeg import MediaError

        if not isinstance(exc, MediaError):
            raise
        current_app.logger.info("upload %s: %s", upload_id, exc)
        return upload.recording_id
    return recording.id


def terminate(upload: Upload) -> None:
    """The client gives up (tus termination): staging file and row go."""
    with suppress(ValueError):  # an id that names no staging file
        staging_path(upload.id).unlink(missing_ok=True)
    db.session.delete(upload)
    db.session.flush()


def purge_expired_uploads(now: datetime | None = None) -> int:
    """Remove uploads never completed before they expired, and staging files that no upload
    names any more (left by a crash between a file's creation and the commit); flushes, the
    caller commits. The number of unfinished uploads and stray files removed. Rows of
    completed uploads past their expiry go too, uncounted: the recording holds all they knew."""
    now = now or utcnow()
    removed = 0
    expired = db.session.scalars(sa.select(Upload).where(Upload.expires_at < now)).all()
    for upload in expired:
        removed += upload.completed_at is None
        terminate(upload)
    folder = Path(_settings().upload_dir)
    if folder.is_dir():
        known = set(db.session.scalars(sa.select(Upload.id)))
        grace = _settings().upload_expiry_hours * 3600
        for path in folder.iterdir():
            if path.name in known or not path.is_file():
                continue
            if time.time() - path.stat().st_mtime > grace:
                path.unlink(missing_ok=True)
                removed += 1
    return removed
