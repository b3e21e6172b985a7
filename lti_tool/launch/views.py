"""LTI endpoints: /lti/login, /lti/launch, /lti/jwks, /lti/config, /lti/deep-link, /lti/register."""

from __future__ import annotations

import logging
import random
import secrets
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import (
    Blueprint,
    current_app,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
)
from pylti1p3.contrib.flask import FlaskRequest
from pylti1p3.deep_link import DeepLink
from pylti1p3.deep_link_resource import DeepLinkResource
from werkzeug.wrappers import Response

from lti_tool.db import db, utcnow
from lti_tool.launch.claims import DL_CLAIM, LaunchClaims
from lti_tool.launch.errors import LaunchRefused
from lti_tool.launch.keys import public_jwks
from lti_tool.launch.models import Launch, OidcState, Platform
from lti_tool.launch.protocol import (
    STATE_COOKIE_PREFIX,
    ToolMessageLaunch,
    ToolRegistration,
    find_deployment,
    purge_expired_states,
    start_login,
)
from lti_tool.launch.session import (
    current_launch,
    delete_iframe_cookie,
    external_url,
    launch_from_start_token,
    set_iframe_cookie,
    start_token,
)
from lti_tool.launch.signin import sign_in
from lti_tool.people.models import ROLE_COACH

log = logging.getLogger(__name__)
bp = Blueprint("lti", __name__, url_prefix="/lti")


def _settings() -> Any:
    return current_app.config["BEELDCOACH"]


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response:
    """OIDC third-party initiated login: remember state and nonce, send the browser on."""
    params = {k: v for k, v in (request.values.items()) if isinstance(v, str)}
    settings = _settings()
    state, auth_url = start_login(params, external_url("lti.launch"), settings.oidc_state_ttl)
    if random.random() < 0.01:  # noqa: S311 - housekeeping, not security
        purge_expired_states()
    db.session.commit()
    response: Response
    if state.storage_target:
        # The platform offers storage (lti.put_data): keep the state there too, for browsers
        # that drop our cookie in the iframe. The page continues to the platform afterwards.
        platform = db.session.get(Platform, state.platform_id)
        assert platform is not None
        response = make_response(
            render_template(
                "lti/storage_put.html",
                auth_url=auth_url,
                state=state.state,
                secret=state.storage_secret,
                target=state.storage_target,
                platform_origin=storage_origin(platform),
            )
        )
    else:
        response = redirect(auth_url, code=302)
    set_iframe_cookie(
        response, STATE_COOKIE_PREFIX + state.state, state.state, settings.oidc_state_ttl
    )
    return response


@bp.post("/launch")
def launch() -> Response:
    """The redirect_uri: validate the id_token, sign the person in, hand over to the tool."""
    message = ToolMessageLaunch(FlaskRequest(), _settings())
    message.validate()
    registration = message.registration
    body = message.body
    claims = LaunchClaims.from_body(body, registration.platform.client_id)
    deployment = find_deployment(registration.platform, claims.deployment_id)
    assert deployment is not None  # validate_deployment checked it
    record = sign_in(registration.platform, deployment, claims, body, _settings().launch_ttl)
    assert message.oidc_state is not None
    storage_target = message.oidc_state.storage_target
    bound = message.browser_bound
    db.session.commit()
    log.info(
        "launch ok iss=%s deployment=%s user=%s roles=%s type=%s",
        claims.issuer,
        claims.deployment_id,
        record.user_id,
        ",".join(claims.roles),
        claims.message_type,
    )
    response: Response
    if bound:
        response = redirect(external_url("web.start", launch=start_token(record)), code=303)
    else:
        # No cookie: the launch is valid but not yet tied to this browser. The page asks the
        # platform's window for the secret stored at login and trades it for the start link
        # at /lti/storage-confirm; a forged cross-site POST cannot produce that secret.
        message.oidc_state.launch_id = record.id
        db.session.commit()
        response = make_response(
            render_template(
                "lti/storage_check.html",
                confirm_url=external_url("lti.storage_confirm"),
                state=message.oidc_state.state,
                target=storage_target,
                platform_origin=storage_origin(registration.platform),
            )
        )
    delete_iframe_cookie(response, STATE_COOKIE_PREFIX + message.oidc_state.state)
    return response


@bp.post("/storage-confirm")
def storage_confirm() -> tuple[Response, int]:
    """Trade the secret read back from the platform's storage for the launch's start link."""
    state_id = request.form.get("state", "")
    secret = request.form.get("secret", "")
    row = db.session.get(OidcState, state_id) if state_id else None
    if (
        row is None
        or row.launch_id is None
        or not row.storage_secret
        or not secrets.compare_digest(secret, row.storage_secret)
        or row.expires_at < utcnow()
    ):
        return jsonify(error="not_confirmed"), 403
    record = db.session.get(Launch, row.launch_id)
    # Single use: the secret cannot be traded twice.
    row.storage_secret = None
    db.session.commit()
    if record is None:
        return jsonify(error="not_confirmed"), 403
    return jsonify(start_url=external_url("web.start", launch=start_token(record))), 200


def storage_origin(platform: Platform) -> str:
    """The target origin for Platform Storage messages: the origin of the platform's OIDC
    authorization URL (not the issuer, which on Canvas is not where the frame lives)."""
    return _origin(platform.auth_login_url)


@bp.get("/jwks")
def jwks() -> Response:
    data = public_jwks(_settings().key_overlap_days)
    db.session.commit()  # the first call creates the keys
    response = jsonify(data)
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.get("/config")
def config_page() -> str:
    """Everything an administrator copies into a platform for a manual registration."""
    return render_template("lti/config.html", urls=tool_urls())


@bp.get("/config.json")
def config_json() -> Response:
    return jsonify(tool_urls())


def tool_urls() -> dict[str, str]:
    return {
        "login_url": external_url("lti.login"),
        "launch_url": external_url("lti.launch"),
        "redirect_uris": external_url("lti.launch"),
        "jwks_url": external_url("lti.jwks"),
        "deep_linking_url": external_url("lti.launch"),
        "registration_url": external_url("lti.register"),
        "tool_url": external_url("web.index"),
    }


@bp.post("/deep-link")
def deep_link_response() -> Response:
    """Return the coach's choice to the platform as a signed LtiDeepLinkingResponse."""
    record = current_launch()
    if record is None:
        raise LaunchRefused("session_expired", "deep link without launch")
    if record.message_type != "LtiDeepLinkingRequest" or ROLE_COACH not in (record.roles or []):
        raise LaunchRefused("forbidden", "not a coach's deep-linking launch")
    settings_claim = record.claims.get(DL_CLAIM + "deep_linking_settings") or {}
    return_url = settings_claim.get("deep_link_return_url")
    if not isinstance(return_url, str) or not return_url.startswith(("https://", "http://")):
        raise LaunchRefused("invalid_message", "deep_link_return_url must be an http(s) URL")
    choices = request.form.getlist("item")
    available = placeable_items(record)
    resources = [_resource(available[choice]) for choice in choices if choice in available]
    if not resources:
        raise LaunchRefused("invalid_message", "nothing chosen")
    if not _truthy(settings_claim.get("accept_multiple", True)):
        resources = resources[:1]
    registration = ToolRegistration(record.platform)
    deep_link = DeepLink(
        registration,
        record.deployment.deployment_id,
        settings_claim,  # type: ignore[arg-type]
    )
    token = deep_link.get_response_jwt(resources)
    db.session.commit()
    return make_response(
        render_template("lti/deep_link_return.html", return_url=return_url, jwt=token)
    )


def placeable_items(launch: Launch | None = None) -> dict[str, dict[str, str]]:
    """What a coach can place in a course: the overview, teachers' "my trajects", and each
    traject the coach coaches in this course (a launch of it opens the traject)."""
    from flask_babel import gettext as _

    items = {
        "start": {
            "title": _("Beeldcoach"),
            "text": _("Video coaching: the overview of your trajects and next steps"),
            "custom": {"beeldcoach_page": "start"},
        },
        "my_trajects": {
            "title": _("My coaching trajects"),
            "text": _("For teachers: your own trajects and your next step"),
            "custom": {"beeldcoach_page": "my_trajects"},
        },
        # Outcomes issue: the teachers' POP page and the coach's dashboard.
        "my_pop": {
            "title": _("My POP: coaching trajects"),
            "text": _("For teachers: your POP contributions, to approve and export"),
            "custom": {"beeldcoach_page": "my_pop"},
        },
        "coach_dashboard": {
            "title": _("Beeldcoach: coach dashboard"),
            "text": _("For coaches: what the learning platform received, and the course roster"),
            "custom": {"beeldcoach_page": "coach_dashboard"},
        },
    }
    if launch is not None and launch.course_id is not None:
        from lti_tool.cycles.access import visible_trajects
        from lti_tool.cycles.models import KIND_CHILD, P_COACH, Participant, Traject

        coached = db.session.scalars(
            visible_trajects(launch.user_id).where(
                Traject.course_id == launch.course_id,
                Traject.id.in_(
                    sa.select(Participant.traject_id).where(
                        Participant.user_id == launch.user_id, Participant.role == P_COACH
                    )
                ),
            )
        ).all()
        for traject in coached:
            if traject.kind == KIND_CHILD:
                continue  # a child traject is never announced in a course
            # Everyone in the course sees the link's title: it must not tell who is coached.
            items[f"traject-{traject.id}"] = {
                "title": _("Beeldcoach: coaching traject"),
                "text": _(
                    "%(title)s (the course sees only “Beeldcoach: coaching traject”)",
                    title=traject.title,
                ),
                "custom": {"beeldcoach_traject": str(traject.id)},
                # Outcomes issue: the traject's gradebook column comes with the link; its
                # resource id lets the tool find it again (lti_tool.outcomes.services).
                "lineitem": {
                    "scoreMaximum": 1,
                    "label": _("Beeldcoach: coaching traject"),
                    "resourceId": f"beeldcoach-traject-{traject.id}",
                    "tag": "beeldcoach",
                },
            }
    return items


def _resource(item: dict[str, Any]) -> DeepLinkResource:
    resource = (
        DeepLinkResource()
        .set_url(external_url("lti.launch"))
        .set_title(item["title"][:255])
        .set_custom_params(item["custom"])
    )
    if item.get("lineitem"):
        from pylti1p3.lineitem import LineItem

        resource.set_lineitem(LineItem(item["lineitem"]))
    return resource


def _truthy(value: object) -> bool:
    return value is True or str(value).lower() == "true"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise LaunchRefused("invalid_message", "platform URL is not http(s)")
    return f"{parts.scheme}://{parts.netloc}"


@bp.app_errorhandler(LaunchRefused)
def refused(exc: LaunchRefused) -> tuple[str, int]:
    # The detail is ours (never the token); it helps an administrator read the log.
    log.warning("launch refused: %s (%r)", exc.code, exc.detail)
    db.session.rollback()
    retry_url = None
    if exc.code == "cookies_blocked" and exc.retry_params:
        retry_url = external_url("lti.login", **exc.retry_params)
    return (
        render_template("lti/refused.html", code=exc.code, reason=exc.reason, retry_url=retry_url),
        exc.reason.status,
    )


def resolve_start(token: str) -> Launch | None:
    return launch_from_start_token(token)


@bp.get("/register")
def register() -> tuple[str, int]:
    """LTI Dynamic Registration initiation (openid_configuration, registration_token)."""
    from lti_tool.launch.registration import RegistrationFailed, register_with_platform

    conf_url = request.args.get("openid_configuration", "")
    token = request.args.get("registration_token") or None
    if not conf_url:
        return render_template("lti/register.html", error="missing", urls=tool_urls()), 400
    try:
        result = register_with_platform(
            conf_url, token, tool_urls(), host_allowed=_settings().registration_allowed
        )
    except RegistrationFailed as exc:
        db.session.rollback()
        log.warning("dynamic registration failed: %s", exc.code)
        return render_template("lti/register.html", error=exc.code, urls=tool_urls()), 400
    db.session.commit()
    return (
        render_template(
            "lti/register.html",
            error=None,
            platform=result.platform,
            deployment_id=result.deployment_id,
            product=result.product,
            urls=tool_urls(),
        ),
        200,
    )
