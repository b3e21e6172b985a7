"""LTI Dynamic Registration 1.0: the platform hands us its configuration, we register ourselves.

Flow (https://www.imsglobal.org/spec/lti-dr/v1p0): the administrator pastes /lti/register into
the platform; the platform opens it with `openid_configuration` and `registration_token`; we fetch
the configuration (sending the token as bearer, as Moodle expects), POST our client registration to
its `registration_endpoint`, store the client id and deployment, and tell the platform's window
to close (postMessage `org.imsglobal.lti.close`). Moodle then lists the tool as *pending* until
the administrator activates it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
import sqlalchemy as sa

from lti_tool.db import db
from lti_tool.launch.models import Deployment, Platform

log = logging.getLogger(__name__)

TOOL_CONFIG = "https://purl.imsglobal.org/spec/lti-tool-configuration"
PLATFORM_CONFIG = "https://purl.imsglobal.org/spec/lti-platform-configuration"
SCOPES = (
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
    "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/score",
    "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly",
)


class RegistrationFailed(Exception):
    """Dynamic registration could not complete; the message is shown to the administrator."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class Registered:
    platform: Platform
    deployment_id: str | None
    product: str | None


def tool_registration_request(urls: dict[str, str], client_name: str) -> dict[str, Any]:
    """Our client registration (OpenID Connect Dynamic Client Registration + LTI claims)."""
    launch = urls["launch_url"]
    domain = urlsplit(launch).netloc
    return {
        "application_type": "web",
        "response_types": ["id_token"],
        "grant_types": ["implicit", "client_credentials"],
        "initiate_login_uri": urls["login_url"],
        "redirect_uris": [launch],
        "client_name": client_name,
        "jwks_uri": urls["jwks_url"],
        "token_endpoint_auth_method": "private_key_jwt",
        "scope": " ".join(SCOPES),
        TOOL_CONFIG: {
            "domain": domain,
            "target_link_uri": launch,
            "description": "Video coaching (beeldbegeleiding) for teachers, teams and pupils.",
            "claims": ["iss", "sub", "name", "given_name", "family_name", "email", "locale"],
            "messages": [
                {
                    "type": "LtiDeepLinkingRequest",
                    "target_link_uri": urls["deep_linking_url"],
                    "label": client_name,
                },
                {"type": "LtiResourceLinkRequest", "target_link_uri": launch},
            ],
        },
    }


def register_with_platform(
    openid_configuration: str,
    registration_token: str | None,
    urls: dict[str, str],
    client_name: str = "Beeldcoach",
    session: requests.Session | None = None,
    host_allowed: Callable[[str], bool] = lambda host: True,
) -> Registered:
    """Run the whole registration; flushes the new platform and deployment (no commit)."""
    http = session or requests.Session()
    host = (urlsplit(openid_configuration).hostname or "").lower()
    if not host_allowed(host):
        raise RegistrationFailed("host_not_allowed", host)
    headers = {"Accept": "application/json"}
    if registration_token:
        headers["Authorization"] = f"Bearer {registration_token}"
    if urlsplit(openid_configuration).scheme not in ("http", "https"):
        raise RegistrationFailed("bad_configuration_url", openid_configuration)
    try:
        resp = http.get(openid_configuration, headers=headers, timeout=15, allow_redirects=False)
        resp.raise_for_status()
        config = resp.json()
    except (requests.RequestException, ValueError) as exc:
        raise RegistrationFailed("configuration_unreachable", str(exc)) from exc

    if not isinstance(config, dict):
        raise RegistrationFailed("configuration_incomplete", "not a JSON object")
    issuer = config.get("issuer")
    required = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")
    missing = [k for k in required if not isinstance(config.get(k), str) or not config.get(k)]
    if missing or "registration_endpoint" not in config:
        raise RegistrationFailed("configuration_incomplete", ", ".join(missing) or "registration")
    # The spec: the configuration URL must live under the issuer (same scheme and host).
    issuer_parts, conf_parts = urlsplit(issuer), urlsplit(openid_configuration)
    if (issuer_parts.scheme, issuer_parts.netloc) != (conf_parts.scheme, conf_parts.netloc):
        raise RegistrationFailed("issuer_mismatch", f"{issuer} vs {openid_configuration}")

    # Every URL the platform names is one we will call or send browsers to: http(s) only, and
    # on a host the operator allows (in production BEELDCOACH_REGISTRATION_HOSTS).
    for name in ("registration_endpoint", "authorization_endpoint", "token_endpoint", "jwks_uri"):
        url = config.get(name)
        parts = urlsplit(url if isinstance(url, str) else "")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise RegistrationFailed("configuration_incomplete", f"{name} is not an http(s) URL")
        if not host_allowed(parts.hostname.lower()):
            raise RegistrationFailed("host_not_allowed", f"{name}: {parts.hostname}")

    body = tool_registration_request(urls, client_name)
    try:
        resp = http.post(
            config["registration_endpoint"],
            json=body,
            headers={**headers, "Content-Type": "application/json"},
            timeout=15,
            allow_redirects=False,
        )
        resp.raise_for_status()
        answer = resp.json()
    except requests.HTTPError as exc:
        text = exc.response.text[:300] if exc.response is not None else ""
        raise RegistrationFailed("registration_rejected", text) from exc
    except (requests.RequestException, ValueError) as exc:
        raise RegistrationFailed("registration_rejected", str(exc)) from exc

    client_id = answer.get("client_id") if isinstance(answer, dict) else None
    if not client_id:
        raise RegistrationFailed("registration_rejected", "no client_id in the answer")
    tool_conf = answer.get(TOOL_CONFIG) or {}
    deployment_id = tool_conf.get("deployment_id")
    platform_conf = config.get(PLATFORM_CONFIG) or {}

    platform = db.session.scalar(
        sa.select(Platform).where(Platform.issuer == issuer, Platform.client_id == client_id)
    )
    if platform is None:
        platform = Platform(issuer=issuer, client_id=str(client_id))
        db.session.add(platform)
    elif platform.source != "dynamic":
        # An operator registered this client by hand: a registration call must not replace
        # its key set URL.
        raise RegistrationFailed("already_registered", f"{issuer} {client_id}")
    platform.name = str(platform_conf.get("product_family_code") or urlsplit(issuer).netloc)
    platform.auth_login_url = config["authorization_endpoint"]
    platform.auth_token_url = config["token_endpoint"]
    platform.key_set_url = config["jwks_uri"]
    platform.auth_audience = config.get("authorization_server") or None
    platform.source = "dynamic"
    platform.jwks = None
    platform.jwks_fetched_at = None
    db.session.flush()
    if deployment_id:
        add_deployment(platform, str(deployment_id))
    log.info("dynamic registration: iss=%s client_id=%s", issuer, client_id)
    return Registered(platform, deployment_id, platform_conf.get("product_family_code"))


def add_deployment(platform: Platform, deployment_id: str) -> Deployment:
    existing = db.session.scalar(
        sa.select(Deployment).where(
            Deployment.platform_id == platform.id, Deployment.deployment_id == deployment_id
        )
    )
    if existing is not None:
        return existing
    deployment = Deployment(platform_id=platform.id, deployment_id=deployment_id)
    db.session.add(deployment)
    db.session.flush()
    return deployment
