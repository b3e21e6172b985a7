"""The built-in demo platform at /demo/: pick a person, launch Beeldcoach for real, in an iframe.

The demo is served on one origin and embeds the tool from another (localhost <-> 127.0.0.1 on
the same port), so the iframe is cross-site exactly as inside Moodle.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import jwt
from flask import (
    Blueprint,
    abort,
    current_app,
    jsonify,
    render_template,
    request,
    url_for,
)
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.wrappers import Response

from lti_tool.db import db
from lti_tool.demo.platform import (
    CLIENT_ID,
    COURSE,
    DEMO_ISSUER,
    DEPLOYMENT_ID,
    PEOPLE,
    PEOPLE_BY_KEY,
    DemoPlatform,
)
from lti_tool.demo.seed import register_demo_platform
from lti_tool.launch.keys import public_jwks
from lti_tool.launch.models import Platform
from lti_tool.launch.registration import add_deployment

bp = Blueprint("demo", __name__, url_prefix="/demo")
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


@bp.before_request
def loopback_only() -> None:
    """The demo registers a platform from the request's host and launches anyone as anyone:
    it answers only to a browser on this machine, addressed by a loopback name."""
    host = urlsplit(request.host_url).hostname
    remote = request.remote_addr or ""
    if host not in LOOPBACK_HOSTS or not (remote.startswith("127.") or remote == "::1"):
        abort(404)


_HINT_SALT = "beeldcoach.demo.message-hint"
DL_RESPONSE_TYPE = "LtiDeepLinkingResponse"


def platform_base() -> str:
    return request.host_url.rstrip("/")


def tool_base() -> str:
    """The tool's origin as the demo embeds it: the other loopback name, so it is cross-site."""
    parts = urlsplit(request.host_url)
    host = parts.hostname or "localhost"
    swapped = {"localhost": "127.0.0.1", "127.0.0.1": "localhost"}.get(host, host)
    netloc = swapped + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, "", "", "")).rstrip("/")


def demo_platform() -> DemoPlatform:
    return DemoPlatform(current_app.instance_path, DEMO_ISSUER)


def ensure_registration() -> Platform:
    """Register the demo platform with the tool (idempotent); its URLs follow the host the
    demo is served on, its issuer stays the same (so seeded people are the launching ones)."""
    record = register_demo_platform(platform_base() + "/demo")
    db.session.flush()
    add_deployment(record, DEPLOYMENT_ID)
    db.session.commit()
    return record


def _hints() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_HINT_SALT)


def _activities_file() -> Path:
    return Path(current_app.instance_path) / "demo_activities.json"


def placed_activities() -> list[dict[str, Any]]:
    path = _activities_file()
    if not path.exists():
        return []
    data = json.loads(path.read_text())
    return data if isinstance(data, list) else []


@bp.get("/")
def home() -> str:
    ensure_registration()
    return render_template(
        "demo/home.html",
        people=PEOPLE,
        course=COURSE,
        activities=placed_activities(),
        tool_origin=tool_base(),
    )


@bp.get("/open/<person_key>")
def open_tool(person_key: str) -> str:
    """The course page with the tool in an iframe, started by a real login initiation."""
    person = PEOPLE_BY_KEY.get(person_key) or abort(404)
    ensure_registration()
    message = request.args.get("message", "launch")
    if message not in ("launch", "deep"):
        abort(400)
    activity = request.args.get("activity")
    hint = _hints().dumps({"person": person.key, "message": message, "activity": activity})
    tool = tool_base()
    params = {
        "iss": DEMO_ISSUER,
        "login_hint": person.key,
        "target_link_uri": tool + "/lti/launch",
        "lti_message_hint": hint,
        "client_id": CLIENT_ID,
        "lti_deployment_id": DEPLOYMENT_ID,
    }
    if request.args.get("storage", "1") == "1":
        params["lti_storage_target"] = "_parent"
    login_url = tool + "/lti/login?" + urlencode(params)
    return render_template(
        "demo/open.html",
        person=person,
        course=COURSE,
        login_url=login_url,
        tool_origin=tool,
        message=message,
    )


@bp.get("/auth")
def auth() -> Response:
    """The platform's OIDC authorization endpoint: answer with a signed id_token (form_post)."""
    args = request.args
    tool = tool_base()
    problems = []
    if args.get("client_id") != CLIENT_ID:
        problems.append("client_id")
    if args.get("redirect_uri") != tool + "/lti/launch":
        problems.append("redirect_uri")
    for name, value in (
        ("response_type", "id_token"),
        ("scope", "openid"),
        ("response_mode", "form_post"),
        ("prompt", "none"),
    ):
        if args.get(name) != value:
            problems.append(name)
    if not args.get("nonce") or not args.get("state"):
        problems.append("nonce/state")
    try:
        hint = _hints().loads(args.get("lti_message_hint", ""), max_age=600)
    except BadSignature:
        hint = None
        problems.append("lti_message_hint")
    if hint and hint.get("person") != args.get("login_hint"):
        problems.append("login_hint")
    if problems:
        return Response(
            "demo platform refused the authentication request: " + ", ".join(problems),
            status=400,
            mimetype="text/plain",
        )
    assert hint is not None
    person = PEOPLE_BY_KEY[hint["person"]]
    platform = demo_platform()
    if hint["message"] == "deep":
        token = platform.id_token(
            person,
            args["nonce"],
            "LtiDeepLinkingRequest",
            tool + "/lti/launch",
            deep_link_return_url=platform_base() + url_for("demo.deep_link_return"),
        )
    else:
        activity = next(
            (a for a in placed_activities() if a.get("id") == hint.get("activity")), None
        )
        token = platform.id_token(
            person,
            args["nonce"],
            "LtiResourceLinkRequest",
            (activity or {}).get("url") or tool + "/lti/launch",
            custom=(activity or {}).get("custom"),
            resource_link=(
                {"id": activity["id"], "title": activity["title"]} if activity else None
            ),
        )
    return Response(
        render_template(
            "demo/form_post.html", action=args["redirect_uri"], id_token=token, state=args["state"]
        ),
        mimetype="text/html",
    )


@bp.get("/jwks")
def jwks() -> Response:
    return jsonify(demo_platform().jwks())


@bp.post("/deep-link-return")
def deep_link_return() -> Response:
    """Receive the tool's LtiDeepLinkingResponse, verify it against the tool's JWKS, place it."""
    token = request.form.get("JWT", "")
    try:
        header = jwt.get_unverified_header(token)
        keys = {
            k["kid"]: k
            for k in public_jwks(current_app.config["BEELDCOACH"].key_overlap_days)["keys"]
        }
        key = jwt.PyJWK(keys[header["kid"]])
        body = jwt.decode(
            token,
            key.key,
            algorithms=["RS256"],
            audience=DEMO_ISSUER,
            issuer=CLIENT_ID,
        )
    except (jwt.InvalidTokenError, KeyError) as exc:
        return Response(
            f"demo platform: invalid deep linking response ({exc})", 400, mimetype="text/plain"
        )
    claim = "https://purl.imsglobal.org/spec/lti/claim/"
    if body.get(claim + "message_type") != DL_RESPONSE_TYPE:
        return Response("demo platform: not a deep linking response", 400, mimetype="text/plain")
    items = body.get("https://purl.imsglobal.org/spec/lti-dl/claim/content_items") or []
    activities = placed_activities()
    for item in items:
        if item.get("type") != "ltiResourceLink":
            continue
        activities.append(
            {
                "id": f"demo-link-{len(activities) + 1}",
                "title": item.get("title") or "Beeldcoach",
                "url": item.get("url"),
                "custom": item.get("custom") or {},
            }
        )
    _activities_file().write_text(json.dumps(activities, indent=2))
    # The answer arrives inside the tool's frame; like Moodle, close it and show the course.
    return Response(
        render_template("demo/placed.html", home=url_for("demo.home", placed=len(items))),
        mimetype="text/html",
    )
