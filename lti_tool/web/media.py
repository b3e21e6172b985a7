"""Media over HTTP: signed, viewer-bound streaming URLs and the resumable upload API (tus)."""

from __future__ import annotations

from typing import Any, cast

from flask import Blueprint, Response, jsonify, request, url_for
from flask_babel import gettext as _
from werkzeug.http import http_date
from werkzeug.wrappers import Response as BaseResponse

from lti_tool.db import MAX_ID, db
from lti_tool.media import uploads
from lti_tool.media.storage import content_type_for, get_storage
from lti_tool.media.streaming import (
    MediaLinkExpired,
    MediaLinkInvalid,
    accel_response,
    file_response,
    read_grant,
    redirect_response,
)
from lti_tool.media.uploads import (
    OFFSET_TYPE,
    TUS_EXTENSIONS,
    TUS_VERSION,
    UploadRefused,
)
from lti_tool.privacy.access import Forbidden
from lti_tool.settings import Settings
from lti_tool.web.auth import current_viewer, require_viewer

bp = Blueprint("media", __name__)

# A presigned object-storage URL lives at most this long, however long the app's link lives:
# it cannot be withdrawn, so access withdrawn in the app ends for it within five minutes.
PRESIGNED_MAX_S = 300


def _settings() -> Settings:
    from flask import current_app

    return cast(Settings, current_app.config["BEELDCOACH"])


# --- streaming --------------------------------------------------------------------------------


def _refuse(text: str) -> Response:
    response = Response(text + "\n", status=403, mimetype="text/plain")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/media/s/<token>/<name>", methods=["GET", "HEAD"])
def stream(token: str, name: str) -> BaseResponse:
    """A media file behind a signed URL: checked on every request (range), since a player
    fetches a video in many ranges and access may be withdrawn between two of them."""
    try:
        grant = read_grant(token)
    except MediaLinkExpired:
        return _refuse(_("This link has expired. Reload the page."))
    except MediaLinkInvalid:
        return _refuse(_("This link is not valid."))
    # The link is bound to the person it was made for: someone else signed in who was given
    # it is refused. (No one signed in: a player or download manager without cookies.)
    viewer = current_viewer()
    if viewer is not None and viewer.user_id != grant.user_id:
        return _refuse(_("This link was made for someone else."))
    from lti_tool.cycles.footage import may_view

    allowed = may_view(grant.user_id, grant.subject_kind, grant.subject_id)
    if allowed and grant.download_name and grant.subject_kind in ("recording", "montage"):
        # A download link: downloads may have been switched off since it was made.
        from lti_tool.cycles.footage import may_download_item

        allowed = may_download_item(grant.user_id, grant.subject_kind, grant.subject_id)
    # Release the database connection before the bytes flow (possibly for minutes).
    db.session.rollback()
    if not allowed:
        return _refuse(_("You may not view this video."))

    settings = _settings()
    storage = get_storage(settings)
    local = storage.local_file(grant.key)
    if local is None:
        expires = max(1, min(grant.remaining, PRESIGNED_MAX_S))
        url = storage.presigned_url(grant.key, expires, content_type=content_type_for(grant.key))
        if url is None:
            return Response("not found\n", status=404, mimetype="text/plain")
        return redirect_response(url, grant, expires)
    if settings.media_accel_prefix:
        return accel_response(settings.media_accel_prefix, grant)
    return file_response(request, local, grant)


# --- resumable uploads (tus 1.0) --------------------------------------------------------------


def _messages() -> dict[str, str]:
    max_gb = _settings().upload_max_bytes / 1024**3
    return {
        "tus_version": _("This upload client speaks a tus version the server does not know."),
        "content_type": _("Upload data must be sent as application/offset+octet-stream."),
        "bad_offset": _("The upload did not say where its data belongs (Upload-Offset)."),
        "bad_length": _("The upload did not say how large the file is (Upload-Length)."),
        "empty": _("The file is empty. Choose the recording again."),
        "bad_metadata": _("The upload lacks its traject, cycle or file name."),
        "too_large": _(
            "This file is too large: at most %(size)s GB can be uploaded.", size=f"{max_gb:g}"
        ),
        "past_length": _("More data arrived than the file's announced size."),
        "offset_mismatch": _("The upload got out of step; it resumes from the server's position."),
        "busy": _("This upload is already receiving data. Trying again in a moment."),
        "not_found": _("This upload does not exist or has expired. Start it again."),
        "disconnected": _("The connection dropped; the upload resumes from what arrived."),
        "consent": _("Record the parents' consent for filming before adding recordings."),
    }


def _error(exc: UploadRefused) -> Response:
    message = exc.message or _messages().get(exc.code, exc.code)
    response = jsonify(error=exc.code, message=message)
    response.status_code = exc.status
    if exc.status == 412:
        response.headers["Tus-Version"] = TUS_VERSION
    if exc.status == 413:
        response.headers["Tus-Max-Size"] = str(_settings().upload_max_bytes)
    return response


@bp.errorhandler(UploadRefused)
def upload_refused(exc: UploadRefused) -> Response:
    db.session.rollback()
    return _error(exc)


@bp.after_request
def tus_resumable(response: Response) -> Response:
    """tus: every answer about uploads names the protocol version (errors included)."""
    if request.path.startswith("/api/uploads"):
        response.headers["Tus-Resumable"] = TUS_VERSION
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def _check_tus() -> None:
    if request.headers.get("Tus-Resumable") != TUS_VERSION:
        raise UploadRefused(412, "tus_version")


def _int_header(name: str, code: str) -> int:
    raw = request.headers.get(name, "")
    if not raw.isdigit():
        raise UploadRefused(400, code)
    return int(raw)


def _int_meta(meta: dict[str, str], name: str) -> int:
    raw = meta.get(name, "")
    if not raw.isdigit():
        raise UploadRefused(400, "bad_metadata")
    value = int(raw)
    if not 0 < value <= MAX_ID:
        raise Forbidden("coach_step")  # names no traject: refused like any unknown id
    return value


def _upload_headers(upload: Any, offset: int | None = None) -> dict[str, str]:
    headers = {"Upload-Expires": http_date(upload.expires_at)}
    if offset is not None:
        headers["Upload-Offset"] = str(offset)
    return headers


@bp.route("/api/uploads", methods=["OPTIONS"])
def tus_options() -> Response:
    response = Response(status=204)
    response.headers["Tus-Version"] = TUS_VERSION
    response.headers["Tus-Extension"] = TUS_EXTENSIONS
    response.headers["Tus-Max-Size"] = str(_settings().upload_max_bytes)
    return response


@bp.route("/api/uploads", methods=["POST"])
def tus_create() -> Response:
    """tus creation: an empty upload for a cycle of a traject the person coaches."""
    _check_tus()
    viewer = require_viewer()
    length = _int_header("Upload-Length", "bad_length")
    if length > _settings().upload_max_bytes:
        raise UploadRefused(413, "too_large")
    meta = uploads.parse_metadata(request.headers.get("Upload-Metadata"))
    traject_id, number = _int_meta(meta, "traject"), _int_meta(meta, "cycle")
    filename = meta.get("filename", "").strip()
    if not filename:
        raise UploadRefused(400, "bad_metadata")
    from lti_tool.cycles.footage import upload_target

    cycle = upload_target(viewer.user_id, traject_id, number)
    upload = uploads.create_upload(
        viewer.user_id, cycle.id, length, filename, meta.get("filetype", "")
    )
    db.session.commit()
    response = Response(status=201)
    response.headers["Location"] = url_for("media.tus_upload", upload_id=upload.id)
    response.headers.update(_upload_headers(upload, 0))
    return response


def _own_upload(upload_id: str, user_id: int) -> Any:
    upload = uploads.find_upload(upload_id, user_id)
    if upload is None:
        raise UploadRefused(404, "not_found")
    return upload


@bp.route("/api/uploads/<upload_id>", methods=["HEAD", "PATCH", "DELETE"])
def tus_upload(upload_id: str) -> Response:
    if request.method == "PATCH":
        return _patch(upload_id)
    _check_tus()
    viewer = require_viewer()
    upload = _own_upload(upload_id, viewer.user_id)
    if request.method == "DELETE":
        uploads.terminate(upload)
        db.session.commit()
        return Response(status=204)
    offset = uploads.settle(upload)
    db.session.commit()
    response = Response(status=200)
    response.headers.update(_upload_headers(upload, offset))
    response.headers["Upload-Length"] = str(upload.length)
    response.headers["Cache-Control"] = "no-store"
    return response


def _check_consent(upload_id: str, user_id: int) -> None:
    """A child traject takes no recording without filming consent: also not the rest of an
    upload begun before the consent was withdrawn."""
    upload = uploads.find_upload(upload_id, user_id)
    if upload is None:
        return  # receive() answers 404
    from lti_tool.cycles.footage import consent_missing
    from lti_tool.cycles.models import Cycle, Traject

    cycle = db.session.get(Cycle, upload.cycle_id)
    traject = db.session.get(Traject, cycle.traject_id) if cycle else None
    if traject is not None and consent_missing(traject):
        raise UploadRefused(403, "consent")


def _patch(upload_id: str) -> Response:
    """tus: append the body at Upload-Offset. The content type is checked before anything
    reads the body, and the body limit lifted for this request only (all others keep the
    app's 16 MiB)."""
    if request.mimetype != OFFSET_TYPE:
        raise UploadRefused(415, "content_type")
    limit = _settings().upload_max_bytes
    if (request.content_length or 0) > limit:
        raise UploadRefused(413, "too_large")
    request.max_content_length = limit
    _check_tus()
    viewer = require_viewer()
    offset = _int_header("Upload-Offset", "bad_offset")
    _check_consent(upload_id, viewer.user_id)
    received = uploads.receive(
        upload_id, viewer.user_id, offset, request.stream, request.content_length
    )
    db.session.commit()
    response = Response(status=204)
    response.headers["Upload-Offset"] = str(received.offset)
    response.headers["Upload-Expires"] = http_date(received.expires_at)
    if received.recording_id is not None:
        response.headers["Beeldcoach-Recording"] = str(received.recording_id)
    return response
