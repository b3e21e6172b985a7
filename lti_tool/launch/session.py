"""Who is asking: the launch behind a request, by API token (header) or by session cookie.

After a launch the page's own API calls carry a short-lived token bound to the launch in the
`Authorization: Bearer` header, so they work where the browser blocks third-party cookies.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import current_app, g, request, session, url_for
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from lti_tool.db import db, utcnow
from lti_tool.launch.models import Launch

_API_SALT = "beeldcoach.launch.api"
_START_SALT = "beeldcoach.launch.start"
START_TTL = 300


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)


def api_token(launch: Launch) -> str:
    return _serializer(_API_SALT).dumps(launch.id)


def start_token(launch: Launch) -> str:
    return _serializer(_START_SALT).dumps(launch.id)


def launch_from_start_token(token: str) -> Launch | None:
    """The launch of a one-time start link, consumed now (a second use finds nothing)."""
    launch = _load(token, _START_SALT, START_TTL)
    if launch is None:
        return None
    result = db.session.execute(
        sa.update(Launch)
        .where(Launch.id == launch.id, Launch.start_used_at.is_(None))
        .values(start_used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        return None
    return launch


def _load(token: str, salt: str, max_age: int) -> Launch | None:
    try:
        launch_id = _serializer(salt).loads(token, max_age=max_age)
    except (BadSignature, SignatureExpired):
        return None
    launch = db.session.get(Launch, launch_id)
    if launch is None or launch.expires_at < utcnow():
        return None
    return launch


def current_launch() -> Launch | None:
    """The launch of this request: bearer token first, then the session cookie."""
    if "launch" in g:
        return g.launch
    settings = current_app.config["BEELDCOACH"]
    launch: Launch | None = None
    header = request.headers.get("Authorization", "")
    safe = request.method in ("GET", "HEAD", "OPTIONS")
    form_token = None if safe else request.form.get("launch_token")
    if header.startswith("Bearer "):
        launch = _load(header[7:].strip(), _API_SALT, settings.launch_ttl)
    elif form_token:
        # Forms the tool renders carry the token too: they post without third-party cookies,
        # and the token doubles as the form's CSRF token.
        launch = _load(form_token, _API_SALT, settings.launch_ttl)
    elif safe and session.get("launch_id"):
        # The session cookie is SameSite=None (the tool lives in an iframe), so it would ride
        # along on a cross-site POST: it authenticates reads only, never a change.
        candidate = db.session.get(Launch, session["launch_id"])
        if candidate is not None and candidate.expires_at >= utcnow():
            launch = candidate
    g.launch = launch
    return launch


def remember_in_session(launch: Launch) -> None:
    session.clear()
    session["launch_id"] = launch.id
    session.permanent = True


def external_url(endpoint: str, **values: Any) -> str:
    """An absolute URL of the tool: the configured base URL, else the request's (ProxyFix)."""
    base = current_app.config["BEELDCOACH"].base_url
    if base:
        return base.rstrip("/") + url_for(endpoint, **values)
    return url_for(endpoint, _external=True, **values)
