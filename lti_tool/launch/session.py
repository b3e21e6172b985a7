"""Who is asking: the launch behind a request, by API token (header) or by session cookie.

After a launch the page's own API calls carry a short-lived token bound to the launch in the
`Authorization: Bearer` header, so they work where the browser blocks third-party cookies.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import current_app, g, request, session, url_for
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
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


# --- cookies fit for an iframe, with a legacy twin ------------------------------------------
#
# Inside the platform's iframe our cookies are third-party: they need `SameSite=None; Secure`
# (and `Partitioned` for browsers that partition them). Clients that do not send `Secure`
# cookies over plain http (every non-browser HTTP client; browsers do on localhost) or that
# reject `SameSite=None` get a twin without a SameSite attribute, as Google advises for
# incompatible clients. Browsers treat that twin as `Lax`, so it never rides on a cross-site
# request; it only helps where the first cookie cannot work.

LEGACY_SUFFIX = "-legacy"


def set_iframe_cookie(response: Any, name: str, value: str, max_age: int | None) -> None:
    response.set_cookie(
        name, value, max_age=max_age, path="/", secure=True, httponly=True,
        samesite="None", partitioned=True,
    )  # fmt: skip
    response.set_cookie(
        name + LEGACY_SUFFIX, value, max_age=max_age, path="/", httponly=True,
        secure=request.is_secure,
    )  # fmt: skip


def delete_iframe_cookie(response: Any, name: str) -> None:
    response.delete_cookie(name, path="/", secure=True, samesite="None", partitioned=True)
    response.delete_cookie(name + LEGACY_SUFFIX, path="/", secure=request.is_secure)


class IframeSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, written as an iframe cookie plus its legacy twin."""

    def open_session(self, app: Any, request: Any) -> SecureCookieSession | None:
        name = self.get_cookie_name(app)
        if name not in request.cookies and name + LEGACY_SUFFIX in request.cookies:
            serializer = self.get_signing_serializer(app)
            if serializer is None:
                return None
            try:
                data = serializer.loads(
                    request.cookies[name + LEGACY_SUFFIX],
                    max_age=int(app.permanent_session_lifetime.total_seconds()),
                )
            except BadSignature:
                return self.session_class()
            return self.session_class(data)
        return super().open_session(app, request)

    def save_session(self, app: Any, session: Any, response: Any) -> None:
        super().save_session(app, session, response)
        name = self.get_cookie_name(app)
        if not session:
            if session.modified:
                response.delete_cookie(name + LEGACY_SUFFIX, path="/")
            return
        if not self.should_set_cookie(app, session):
            return
        serializer = self.get_signing_serializer(app)
        if serializer is None:
            return
        response.set_cookie(
            name + LEGACY_SUFFIX,
            serializer.dumps(dict(session)),
            expires=self.get_expiration_time(app, session),
            httponly=True,
            path="/",
            secure=request.is_secure,
        )
