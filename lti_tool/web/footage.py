"""A cycle's footage on the page and in the API: recordings with their progress, the player,
the coach's montage, stills, and the HLS playlist and thumbnail index behind signed URLs."""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    has_request_context,
    jsonify,
    render_template,
    request,
    url_for,
)
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response as WerkzeugResponse

from lti_tool.cycles import footage
from lti_tool.cycles.access import require
from lti_tool.cycles.models import Cycle, Traject
from lti_tool.cycles.services import StepRefused
from lti_tool.db import db
from lti_tool.launch.session import current_launch
from lti_tool.media import services as media
from lti_tool.media.models import (
    MONTAGE_READY,
    REC_FAILED,
    REC_PROCESSING,
    REC_READY,
    Montage,
    Recording,
    Segment,
)
from lti_tool.media.storage import get_storage
from lti_tool.media.streaming import media_url
from lti_tool.privacy import audit
from lti_tool.privacy.access import Forbidden
from lti_tool.privacy.retention import REASON_REMOVED, delete_footage
from lti_tool.web.auth import NotSignedIn, Viewer, require_viewer

bp = Blueprint("footage", __name__)


@bp.app_template_filter("clock")
def clock_filter(ms: int | None) -> str:
    from lti_tool.cycles.report import clock

    return clock(ms) if isinstance(ms, int) else ""


# Reasons a file was refused or processing failed, as the coach reads them.
MEDIA_ERRORS = {
    "empty": _l("The file is empty. Upload the recording again."),
    "not_video": _l("This file is not a video: it could not be read as one."),
    "truncated": _l(
        "The file is incomplete: the upload or the copy from the camera was cut short. "
        "Copy it from the camera again and upload it once more."
    ),
    "no_video_stream": _l("This file has sound but no picture."),
    "ffmpeg_failed": _l("Processing failed. Try again; if it fails again, contact support."),
    "ffmpeg_missing": _l("The video tools are missing on the server. Contact support."),
    "source_missing": _l("A clip's recording is no longer available."),
}
STATUS_LABELS = {
    "processing": _l("Processing"),
    "ready": _l("Ready"),
    "failed": _l("Processing failed"),
    "rejected": _l("Not usable"),
    "draft": _l("Not yet rendered"),
    "rendering": _l("Rendering"),
}
_PLAYLIST_SALT = "beeldcoach.media.playlist"


def precise_clock(ms: int) -> str:
    """0:14.480: a clip's in and out points keep their milliseconds."""
    from lti_tool.cycles.report import clock

    text = clock(ms)
    return f"{text}.{ms % 1000:03d}" if ms % 1000 else text


def error_text(code: str | None) -> str | None:
    if code is None:
        return None
    return str(MEDIA_ERRORS.get(code, MEDIA_ERRORS["ffmpeg_failed"]))


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_PLAYLIST_SALT)


def _ttl() -> int:
    return int(current_app.config["BEELDCOACH"].media_url_ttl)


def _signed(key: str | None, user_id: int, kind: str, item_id: int) -> str | None:
    if key is None:
        return None
    return media_url(key, user_id=user_id, subject=(kind, item_id))


def _indirect(endpoint: str, user_id: int, kind: str, item_id: int, name: str) -> str:
    token = _serializer().dumps({"u": user_id, "s": [kind, item_id]})
    return url_for(endpoint, token=token, name=name)


def _fps(item: Recording | Montage) -> str | None:
    return f"{item.fps_num}/{item.fps_den}" if item.fps_num and item.fps_den else None


def _job(item: Recording | Montage) -> dict[str, Any] | None:
    return media.job_json(item.job_id)


def recording_json(
    viewer_id: int, traject: Traject, cycle: Cycle, rec: Recording
) -> dict[str, Any]:
    job = _job(rec)
    playable_hls = rec.status == REC_PROCESSING and any(s.ready_at for s in rec.segments[:1])
    data: dict[str, Any] = {
        "kind": "recording",
        "id": rec.id,
        "name": rec.original_name,
        "status": rec.status,
        "status_label": str(STATUS_LABELS.get(rec.status, rec.status)),
        "error": rec.error_code,
        "message": error_text(rec.error_code),
        "percent": 100 if rec.status == REC_READY else (job or {}).get("percent", 0),
        "retryable": rec.status == REC_FAILED,
        "mode": rec.mode,
        "size": rec.size,
        "duration_ms": rec.duration_ms,
        "fps": _fps(rec),
        "frame_count": rec.frame_count,
        "width": rec.width,
        "height": rec.height,
        "has_audio": rec.has_audio,
        "mp4": None,
        "hls": None,
        "poster": None,
        "thumbnails": None,
        "player_url": None,
    }
    if rec.status == REC_READY or playable_hls:
        data["player_url"] = url_for(
            "footage.player", traject_id=traject.id, number=cycle.number, kind="recording",
            item_id=rec.id,
        )  # fmt: skip
        data.update(playback_urls(viewer_id, rec))
        audit_issue(viewer_id, traject, "recording", rec, "listing")
    return data


def audit_issue(
    viewer_id: int,
    traject: Traject,
    kind: str,
    item: Recording | Montage,
    via: str,
    event: str = audit.FOOTAGE_VIEW,
) -> None:
    """Signed URLs for an item were just issued to this person: a view in the audit log (one
    row per person, item and launch per window: privacy.audit)."""
    launch = current_launch() if has_request_context() else None
    audit.record_view(
        actor_id=viewer_id,
        launch_id=launch.id if launch is not None else None,
        platform_id=footage.platform_of(traject),
        traject_id=traject.id,
        item=(kind, item.id),
        owner_id=footage.owner_of(traject, kind, item),
        via=via,
        event=event,
    )


def playback_urls(viewer_id: int, item: Recording | Montage) -> dict[str, Any]:
    kind = "recording" if isinstance(item, Recording) else "montage"
    urls: dict[str, Any] = {
        "mp4": _signed(item.rendition_key, viewer_id, kind, item.id),
        "hls": None,
        "poster": _signed(item.poster_key, viewer_id, kind, item.id),
        "thumbnails": None,
    }
    if isinstance(item, Recording):
        if item.rendition_key is None and item.segment_count:
            urls["hls"] = _indirect("footage.playlist", viewer_id, kind, item.id, "index.m3u8")
        if item.thumbs_vtt_key:
            urls["thumbnails"] = _indirect(
                "footage.thumbnails", viewer_id, kind, item.id, "thumbs.vtt"
            )
    return urls


def montage_json(
    viewer_id: int, traject: Traject, cycle: Cycle, montage: Montage
) -> dict[str, Any]:
    job = _job(montage)
    data: dict[str, Any] = {
        "kind": "montage",
        "id": montage.id,
        "title": montage.title,
        "status": montage.status,
        "status_label": str(STATUS_LABELS.get(montage.status, montage.status)),
        "error": montage.error_code,
        "message": error_text(montage.error_code),
        "percent": 100 if montage.status == MONTAGE_READY else (job or {}).get("percent", 0),
        "clips": montage.clips,
        "fade": montage.fade,
        "changed_since_render": montage.rendered_clips is not None
        and montage.rendered_clips != montage.clips,
        "shared": montage.shared_at is not None,
        "duration_ms": montage.duration_ms,
        "fps": _fps(montage),
        "frame_count": montage.frame_count,
        "mp4": None,
        "poster": None,
        "player_url": None,
    }
    if montage.rendition_key is not None:
        data["player_url"] = url_for(
            "footage.player", traject_id=traject.id, number=cycle.number, kind="montage",
            item_id=montage.id,
        )  # fmt: skip
        data.update(playback_urls(viewer_id, montage))
        audit_issue(viewer_id, traject, "montage", montage, "listing")
    return data


def cycle_footage(viewer_id: int, traject: Traject, cycle: Cycle) -> dict[str, Any]:
    """What the viewer may see of a cycle's footage, and what they may do with it."""
    coach = footage.is_coach(viewer_id, traject)
    return {
        "recordings": [
            recording_json(viewer_id, traject, cycle, r)
            for r in footage.recordings_of(viewer_id, traject, cycle)
        ],
        "montages": [
            montage_json(viewer_id, traject, cycle, m)
            for m in footage.montages_of(viewer_id, traject, cycle)
        ],
        "may_upload": coach
        and traject.status == "cycles"
        and cycle.step in footage.UPLOAD_STEPS
        and not footage.consent_missing(traject),
        # Why a coach cannot add recordings yet, when the cycle would otherwise take them.
        "waiting_for_consent": coach
        and traject.status == "cycles"
        and cycle.step in footage.UPLOAD_STEPS
        and footage.consent_missing(traject),
        "is_coach": coach,
    }


# --- JSON API ---------------------------------------------------------------------------------


def _api_cycle(viewer: Viewer, traject_id: int, number: int) -> tuple[Traject, Cycle]:
    traject = require(viewer.user_id, traject_id, "view")
    cycle = next((c for c in traject.cycles if c.number == number), None)
    if cycle is None:
        raise Forbidden("view")
    return traject, cycle


@bp.get("/api/trajects/<int:traject_id>/cycles/<int:number>/footage")
def api_footage(traject_id: int, number: int) -> Response:
    """What the person may see of a cycle's footage (a parent or an external professional:
    only what was released to them)."""
    viewer = require_viewer()
    traject, cycle = footage.require_footage(viewer.user_id, traject_id, number)
    if not footage.may_see_cycle_footage(viewer.user_id, traject, cycle):
        raise Forbidden("view_footage")
    data = cycle_footage(viewer.user_id, traject, cycle)
    db.session.commit()
    return jsonify(data)


@bp.post("/api/trajects/<int:traject_id>/cycles/<int:number>/recordings/<int:recording_id>/retry")
def api_retry(traject_id: int, number: int, recording_id: int) -> tuple[Response, int]:
    viewer = require_viewer()
    recording = footage.coach_recording(viewer.user_id, traject_id, number, recording_id)
    if recording.status != REC_FAILED:
        raise StepRefused("order", _l("Only a recording whose processing failed can be retried."))
    media.retry_recording(recording)
    db.session.commit()
    traject, cycle = _api_cycle(viewer, traject_id, number)
    return jsonify(recording_json(viewer.user_id, traject, cycle, recording)), 202


@bp.delete("/api/trajects/<int:traject_id>/cycles/<int:number>/recordings/<int:recording_id>")
def api_remove_recording(traject_id: int, number: int, recording_id: int) -> tuple[str, int]:
    viewer = require_viewer()
    recording = footage.coach_recording(viewer.user_id, traject_id, number, recording_id)
    traject = db.session.get(Traject, traject_id)
    assert traject is not None
    delete_footage(
        traject, "recording", recording, REASON_REMOVED, actor_id=viewer.user_id,
        launch_id=viewer.launch.id,
    )  # fmt: skip
    db.session.commit()
    return "", 204


@bp.post("/api/trajects/<int:traject_id>/cycles/<int:number>/montages")
def api_create_montage(traject_id: int, number: int) -> tuple[Response, int]:
    viewer = require_viewer()
    montage = footage.save_montage(viewer.user_id, traject_id, number, _json_body(), None)
    db.session.commit()
    traject, cycle = _api_cycle(viewer, traject_id, number)
    return jsonify(montage_json(viewer.user_id, traject, cycle, montage)), 201


@bp.put("/api/trajects/<int:traject_id>/cycles/<int:number>/montages/<int:montage_id>")
def api_update_montage(traject_id: int, number: int, montage_id: int) -> tuple[Response, int]:
    viewer = require_viewer()
    montage = footage.save_montage(viewer.user_id, traject_id, number, _json_body(), montage_id)
    db.session.commit()
    traject, cycle = _api_cycle(viewer, traject_id, number)
    return jsonify(montage_json(viewer.user_id, traject, cycle, montage)), 200


@bp.post("/api/trajects/<int:traject_id>/cycles/<int:number>/montages/<int:montage_id>/render")
def api_render_montage(traject_id: int, number: int, montage_id: int) -> tuple[Response, int]:
    viewer = require_viewer()
    montage = footage.render_montage(viewer.user_id, traject_id, number, montage_id)
    db.session.commit()
    traject, cycle = _api_cycle(viewer, traject_id, number)
    return jsonify(montage_json(viewer.user_id, traject, cycle, montage)), 202


@bp.delete("/api/trajects/<int:traject_id>/cycles/<int:number>/montages/<int:montage_id>")
def api_remove_montage(traject_id: int, number: int, montage_id: int) -> tuple[str, int]:
    viewer = require_viewer()
    montage = footage.coach_montage(viewer.user_id, traject_id, number, montage_id)
    traject = db.session.get(Traject, traject_id)
    assert traject is not None
    delete_footage(
        traject, "montage", montage, REASON_REMOVED, actor_id=viewer.user_id,
        launch_id=viewer.launch.id,
    )  # fmt: skip
    db.session.commit()
    return "", 204


@bp.get(
    "/api/trajects/<int:traject_id>/cycles/<int:number>/<kind>/<int:item_id>/stills/<int:frame>"
)
def api_still(traject_id: int, number: int, kind: str, item_id: int, frame: int) -> Response:
    """A frame-exact still (made once, then cached), as a short-lived signed URL. Making one
    runs ffmpeg, so the page's launch token is required: the session cookie (SameSite=None)
    would let any site's <img> start that work."""
    if not request.headers.get("Authorization", "").startswith("Bearer "):
        raise NotSignedIn()
    viewer = require_viewer()
    if kind not in ("recordings", "montages"):
        raise Forbidden("view_footage")
    singular = kind[:-1]
    item = _visible_item(viewer, traject_id, number, singular, item_id)
    if item.rendition_key is None or item.frame_count is None:
        raise StepRefused("order", _l("This video is still being processed."))
    if frame >= item.frame_count:
        raise StepRefused("time", _l("Give a valid time code."), "frame")
    key = media.make_still(item, singular, frame)
    traject = db.session.get(Traject, traject_id)
    assert traject is not None
    audit_issue(viewer.user_id, traject, singular, item, "still")
    db.session.commit()
    return jsonify(frame=frame, url=_signed(key, viewer.user_id, singular, item.id))


@bp.get("/api/trajects/<int:traject_id>/cycles/<int:number>/<kind>/<int:item_id>/download")
def api_download(traject_id: int, number: int, kind: str, item_id: int) -> Response:
    """A download link: off unless the school allows downloads, and then for coaches only."""
    viewer = require_viewer()
    if kind not in ("recordings", "montages"):
        raise Forbidden("download")
    singular = kind[:-1]
    traject, cycle, item = footage.require_item(
        viewer.user_id, traject_id, number, singular, item_id
    )
    if not footage.may_download(viewer.user_id, traject, cycle, item):
        raise Forbidden("download")
    key = item.rendition_key or (item.original_key if isinstance(item, Recording) else None)
    if key is None:
        raise StepRefused("order", _l("This video is still being processed."))
    name = f"beeldcoach-{singular}-{item.id}{PurePosixPath(key).suffix}"
    url = media_url(key, user_id=viewer.user_id, subject=(singular, item.id), download_name=name)
    audit_issue(viewer.user_id, traject, singular, item, "download", audit.FOOTAGE_DOWNLOAD)
    db.session.commit()
    return jsonify(url=url, name=name)


def _visible_item(
    viewer: Viewer, traject_id: int, number: int, kind: str, item_id: int
) -> Recording | Montage:
    return footage.require_item(viewer.user_id, traject_id, number, kind, item_id)[2]


def _json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise StepRefused("body", _l("Send a JSON object."))
    return body


# --- pages ------------------------------------------------------------------------------------


@bp.get(
    "/trajects/<int:traject_id>/cycles/<int:number>/<any(recording,montage):kind>/<int:item_id>"
)
def player(traject_id: int, number: int, kind: str, item_id: int) -> str:
    viewer = require_viewer()
    item = _visible_item(viewer, traject_id, number, kind, item_id)
    traject = db.session.get(Traject, traject_id)
    cycle = db.session.get(Cycle, item.cycle_id)
    assert traject is not None and cycle is not None
    audit_issue(viewer.user_id, traject, kind, item, "player")
    data = (
        recording_json(viewer.user_id, traject, cycle, item)
        if isinstance(item, Recording)
        else montage_json(viewer.user_id, traject, cycle, item)
    )
    db.session.commit()
    return render_template(
        "footage/player.html",
        traject=traject,
        cycle=cycle,
        item=item,
        media=data,
        viewer=viewer,
        api_token=viewer.token,
    )


@bp.route("/trajects/<int:traject_id>/cycles/<int:number>/montage", methods=["GET", "POST"])
def montage_editor(
    traject_id: int, number: int
) -> str | Response | WerkzeugResponse | tuple[str, int]:
    """The coach's montage without any script: clips as rows (recording, in, out, caption)."""
    from lti_tool.web.trajects import _back, parse_timecode

    viewer = require_viewer()
    traject = require(viewer.user_id, traject_id, "coach_step")
    cycle = next((c for c in traject.cycles if c.number == number), None)
    if cycle is None:
        raise Forbidden("coach_step")
    montages = footage.montages_of(viewer.user_id, traject, cycle)
    montage = montages[-1] if montages else None
    recordings = [
        r for r in footage.recordings_of(viewer.user_id, traject, cycle) if r.status == REC_READY
    ]
    error: StepRefused | None = None
    form: MultiDict[str, str] = request.form if request.method == "POST" else MultiDict()
    if request.method == "POST":
        try:
            clips = []
            for row in range(_ROWS):
                source = form.get(f"recording_{row}", "")
                if not source:
                    continue
                clips.append(
                    {
                        "recording_id": int(source) if source.isdigit() else 0,
                        "in_ms": parse_timecode(form.get(f"in_{row}"), f"clips[{row}]") or 0,
                        "out_ms": parse_timecode(form.get(f"out_{row}"), f"clips[{row}]"),
                        "caption": form.get(f"caption_{row}", ""),
                    }
                )
            data = {"title": form.get("title", ""), "clips": clips, "fade": bool(form.get("fade"))}
            saved = footage.save_montage(
                viewer.user_id, traject_id, number, data, montage.id if montage else None
            )
            if form.get("render"):
                footage.render_montage(viewer.user_id, traject_id, number, saved.id)
            db.session.commit()
            return _back(traject_id, f"cycle-{number}")
        except StepRefused as exc:
            db.session.rollback()
            error = exc
    rows = []
    existing = list(montage.clips) if montage else []

    for row in range(_ROWS):
        clip = existing[row] if row < len(existing) else {}
        rows.append(
            {
                "recording": form.get(f"recording_{row}", str(clip.get("recording_id", ""))),
                "in": form.get(f"in_{row}", precise_clock(clip["in_ms"]) if clip else ""),
                "out": form.get(f"out_{row}", precise_clock(clip["out_ms"]) if clip else ""),
                "caption": form.get(f"caption_{row}", clip.get("caption", "")),
            }
        )
    return render_template(
        "footage/montage.html",
        traject=traject,
        cycle=cycle,
        montage=montage,
        recordings=recordings,
        rows=rows,
        error=error,
        title=form.get("title", montage.title if montage else ""),
        fade=bool(form.get("fade")) if request.method == "POST" else bool(montage and montage.fade),
        launch_token=viewer.token,
    ), (422 if error else 200)


_ROWS = 8


# --- what the player fetches behind signed URLs ----------------------------------------------


def _grant(token: str) -> tuple[int, str, int]:
    try:
        data = _serializer().loads(token, max_age=_ttl())
    except (BadSignature, SignatureExpired):
        raise Forbidden("view_footage") from None
    user_id, (kind, item_id) = int(data["u"]), data["s"]
    from lti_tool.web.auth import current_viewer

    viewer = current_viewer()
    if viewer is not None and viewer.user_id != user_id:
        raise Forbidden("view_footage")
    if not footage.may_view(user_id, kind, int(item_id)):
        raise Forbidden("view_footage")
    return user_id, kind, int(item_id)


@bp.get("/media/hls/<token>/<name>")
def playlist(token: str, name: str) -> Response:
    """An HLS event playlist of the segments ready so far, each behind its own signed URL;
    the player reloads it until it ends."""
    user_id, kind, item_id = _grant(token)
    recording = db.session.get(Recording, item_id) if kind == "recording" else None
    if recording is None:
        raise Forbidden("view_footage")
    from lti_tool.media import pipeline

    ready: list[tuple[str, float]] = []
    for segment in recording.segments:
        if segment.ready_at is None or segment.key is None:
            break  # a playlist lists segments in order, without gaps
        url = _signed(segment.key, user_id, kind, item_id)
        assert url is not None
        ready.append((url, segment.duration_ms / 1000))
    ended = len(ready) == recording.segment_count and recording.segment_count > 0
    body = pipeline.hls_playlist(ready, ended=ended)
    db.session.commit()
    response = Response(body, mimetype="application/vnd.apple.mpegurl")
    response.headers["Cache-Control"] = "no-store"
    return response


_SHEET = re.compile(r"^([A-Za-z0-9_.-]+\.jpg)(#xywh=\d+,\d+,\d+,\d+)$", re.MULTILINE)


@bp.get("/media/vtt/<token>/<name>")
def thumbnails(token: str, name: str) -> Response:
    """The thumbnail index (WebVTT) with each sprite sheet behind a signed URL."""
    user_id, kind, item_id = _grant(token)
    recording = db.session.get(Recording, item_id) if kind == "recording" else None
    if recording is None or recording.thumbs_vtt_key is None:
        raise Forbidden("view_footage")
    folder = recording.thumbs_vtt_key.rsplit("/", 1)[0] + "/"
    storage = get_storage()
    with storage.local_path(recording.thumbs_vtt_key) as path:
        text = path.read_text(encoding="utf-8")
    signed: dict[str, str] = {}

    def sign(match: re.Match[str]) -> str:
        sheet = match.group(1)
        if sheet not in signed:
            signed[sheet] = _signed(folder + sheet, user_id, kind, item_id) or ""
        return signed[sheet] + match.group(2)

    body = _SHEET.sub(sign, text)
    db.session.commit()
    response = Response(body, mimetype="text/vtt")
    response.headers["Cache-Control"] = "private, no-store"
    return response


__all__ = ["Segment", "bp", "cycle_footage", "error_text"]
