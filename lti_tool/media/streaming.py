"""Signed, viewer-bound media URLs and the byte-range answers behind them."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

from flask import current_app, has_request_context, url_for
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.datastructures import Range
from werkzeug.http import http_date, parse_date
from werkzeug.wrappers import Request, Response

from lti_tool.media.storage import check_key, content_type_for

SALT = "beeldcoach.media"
BLOCK = 256 * 1024


class MediaLinkInvalid(Exception):
    """A media token that was not made by us, was changed, or says nothing we understand."""


class MediaLinkExpired(MediaLinkInvalid):
    """A genuine media token past its lifetime."""


@dataclass(frozen=True)
class MediaGrant:
    """What a media token allows: this user may fetch this key, as part of this subject
    (("recording", 12) or ("montage", 3)), until expires_at (epoch seconds)."""

    user_id: int
    key: str
    subject_kind: str
    subject_id: int
    expires_at: float = 0.0
    download_name: str | None = None

    @property
    def remaining(self) -> int:
        """Whole seconds of validity left (0 when it ends within the second)."""
        return max(0, int(self.expires_at - time.time()))


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def media_url(
    key: str,
    *,
    user_id: int,
    subject: tuple[str, int],
    ttl: int | None = None,
    download_name: str | None = None,
) -> str:
    """A URL serving key to user_id only, for ttl seconds (settings.media_url_ttl by default).
    It ends with the file's name: hls.js and some players decide by the extension."""
    check_key(key)
    if ttl is None:
        ttl = int(current_app.config["BEELDCOACH"].media_url_ttl)
    kind, subject_id = subject
    payload: dict[str, Any] = {"u": int(user_id), "k": key, "s": [kind, int(subject_id)]}
    payload["t"] = int(ttl)
    if download_name:
        payload["n"] = download_name
    token = _serializer().dumps(payload)
    name = download_name or PurePosixPath(key).name
    if has_request_context():  # honours the script root (a prefix set by the proxy)
        return url_for("media.stream", token=token, name=name)
    return f"/media/s/{token}/{quote(name)}"


def read_grant(token: str) -> MediaGrant:
    """The grant in a token; MediaLinkExpired past its lifetime, MediaLinkInvalid otherwise."""
    try:
        data, signed_at = _serializer().loads(token, return_timestamp=True)
    except BadSignature:
        raise MediaLinkInvalid() from None
    try:
        user_id = int(data["u"])
        key = check_key(str(data["k"]))
        kind, subject_id = str(data["s"][0]), int(data["s"][1])
        ttl = int(data["t"])
        name = data.get("n")
    except (KeyError, IndexError, TypeError, ValueError):
        raise MediaLinkInvalid() from None
    # itsdangerous' max_age rule (whole seconds): valid up to and including ttl seconds of age.
    signed = int(signed_at.timestamp())
    if int(time.time()) - signed > ttl:
        raise MediaLinkExpired()
    return MediaGrant(
        user_id=user_id,
        key=key,
        subject_kind=kind,
        subject_id=subject_id,
        expires_at=float(signed + ttl),
        download_name=str(name) if name else None,
    )


# --- answers ----------------------------------------------------------------------------------


def _common_headers(response: Response, key: str, grant: MediaGrant) -> None:
    response.headers["Content-Type"] = content_type_for(key)
    response.headers["Cache-Control"] = f"private, max-age={grant.remaining}"
    response.headers["X-Content-Type-Options"] = "nosniff"
    if grant.download_name:
        response.headers["Content-Disposition"] = _attachment(grant.download_name)


def _attachment(name: str) -> str:
    ascii_name = name.encode("ascii", "ignore").decode().replace('"', "").replace("\\", "")
    return f"attachment; filename=\"{ascii_name or 'download'}\"; filename*=UTF-8''{quote(name)}"


def accel_response(prefix: str, grant: MediaGrant) -> Response:
    """An empty answer that tells nginx to send the file itself (it does the ranges)."""
    response = Response(status=200)
    response.headers["X-Accel-Redirect"] = prefix.rstrip("/") + "/" + quote(grant.key)
    _common_headers(response, grant.key, grant)
    # nginx decides the length; Werkzeug must not announce the empty body's.
    response.headers.remove("Content-Length")
    return response


def redirect_response(url: str, grant: MediaGrant, expires_s: int) -> Response:
    """A redirect to object storage. The player may reuse it a little less long than the
    signed URL lives, instead of asking again before every range it fetches."""
    response = Response(status=302)
    response.headers["Location"] = url
    response.headers["Cache-Control"] = f"private, max-age={max(0, expires_s - 30)}"
    return response


def _etag(size: int, mtime_ns: int) -> str:
    return f"{size:x}-{mtime_ns:x}"


def _if_range_holds(request: Request, etag: str, modified: int) -> bool:
    """If-Range: the range applies only to the representation the client already has."""
    header = request.headers.get("If-Range")
    if not header:
        return True
    header = header.strip()
    if header.startswith(('"', "W/")):
        # A strong comparison: a weak validator never matches (RFC 9110 13.1.5).
        return header == f'"{etag}"'
    date = parse_date(header)
    return date is not None and int(date.timestamp()) == modified


def _not_modified(request: Request, etag: str) -> bool:
    header = request.headers.get("If-None-Match")
    if not header:
        return False
    tags = {t.strip().removeprefix("W/") for t in header.split(",")}
    return "*" in tags or f'"{etag}"' in tags


def _wanted_range(request: Request, size: int) -> tuple[int, int] | None | bool:
    """(start, stop) for a satisfiable single range, None for the whole file, False for an
    unsatisfiable or malformed byte range (416, as nginx answers). A multi-range request gets
    its first range only (Content-Range says which): players never ask for more at once, and
    it bounds the work a request can cause."""
    header = request.headers.get("Range")
    if not header:
        return None
    if not header.strip().lower().startswith("bytes="):
        return None  # another unit: ignored, the whole file (RFC 9110 14.2)
    parsed = request.range
    if parsed is None or not parsed.ranges:
        return False
    first = Range(parsed.units, [parsed.ranges[0]])
    span = first.range_for_length(size)
    if span is None:
        return False
    return span


def file_response(request: Request, path: Path, grant: MediaGrant) -> Response:
    """The file's bytes for GET or HEAD, with single byte ranges, validators and caching.

    The bytes come from a generator that seeks to the range's start and reads 256 KiB at a
    time. Not werkzeug's send_file: under gunicorn its file wrapper cannot seek and reads
    every byte before the range (25x slower, shared/BASELINES.md)."""
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return Response("not found\n", status=404, mimetype="text/plain")
    size = stat.st_size
    modified = int(stat.st_mtime)
    etag = _etag(size, stat.st_mtime_ns)

    response = Response(status=200)
    response.direct_passthrough = True
    _common_headers(response, grant.key, grant)
    response.headers["Accept-Ranges"] = "bytes"
    response.headers["ETag"] = f'"{etag}"'
    response.headers["Last-Modified"] = http_date(datetime.fromtimestamp(modified, UTC))

    if _not_modified(request, etag):
        response.status_code = 304
        response.headers.remove("Content-Type")
        return response

    wanted = _wanted_range(request, size) if _if_range_holds(request, etag, modified) else None
    if wanted is False:
        response.status_code = 416
        response.headers["Content-Range"] = f"bytes */{size}"
        response.headers["Content-Length"] = "0"
        return response
    if isinstance(wanted, tuple):
        start, stop = wanted
        response.status_code = 206
        response.headers["Content-Range"] = f"bytes {start}-{stop - 1}/{size}"
    else:
        start, stop = 0, size
    response.headers["Content-Length"] = str(stop - start)
    if request.method != "HEAD" and stop > start:
        response.response = _read(path, start, stop - start)
    return response


def _read(path: Path, start: int, length: int) -> Iterator[bytes]:
    with open(path, "rb") as fh:
        fh.seek(start)
        left = length
        while left > 0:
            block = fh.read(min(BLOCK, left))
            if not block:
                return  # the file shrank under us: the client sees a short body
            left -= len(block)
            yield block
