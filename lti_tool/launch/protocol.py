"""pylti1p3, made safe: DB-backed tool configuration, OIDC login and message launch.

What pylti1p3 2.0.0 leaves open, closed here (see shared LTI.md and docs/lti.md):
- nonce and state live server-side in `oidc_states`, are bound to each other, and are single use;
- validation runs signature first, so a forged token cannot burn a valid state;
- iat/exp/nbf get `jwt_leeway` seconds of clock skew both ways and `aud`/`azp` are checked;
- the platform key set is cached in the database and refetched once on an unknown `kid`;
- launches are stored in the `launches` table, not in the cookie session.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import jwt
import requests
import sqlalchemy as sa
from jwcrypto.jwk import JWK
from pylti1p3.contrib.flask import FlaskCookieService, FlaskMessageLaunch, FlaskRequest
from pylti1p3.deployment import Deployment as LtiDeployment
from pylti1p3.exception import LtiException
from pylti1p3.registration import Registration
from pylti1p3.tool_config.abstract import ToolConfAbstract

from lti_tool.db import db, utcnow
from lti_tool.launch.errors import LaunchRefused
from lti_tool.launch.keys import current_key, private_pem
from lti_tool.launch.models import Deployment, OidcState, Platform

log = logging.getLogger(__name__)

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
#: The messages Beeldcoach handles; others (data privacy, submission review) are refused.
MESSAGE_TYPES = ("LtiResourceLinkRequest", "LtiDeepLinkingRequest")
STATE_COOKIE_PREFIX = "lti1p3-"  # pylti1p3's cookie name for the state, kept for compatibility
LEGACY_SUFFIX = "-legacy"  # the cookie's twin: lti_tool.launch.session.set_iframe_cookie
LOGIN_PARAMS = (
    "iss",
    "login_hint",
    "target_link_uri",
    "lti_message_hint",
    "client_id",
    "lti_deployment_id",
)


def find_platform(issuer: str, client_id: str | None) -> Platform | None:
    """The registration for (issuer, client_id); without a client id, the issuer's only one."""
    query = sa.select(Platform).where(Platform.issuer == issuer)
    if client_id:
        return db.session.scalar(query.where(Platform.client_id == client_id))
    candidates = db.session.scalars(query.limit(2)).all()
    return candidates[0] if len(candidates) == 1 else None


def find_deployment(platform: Platform, deployment_id: str) -> Deployment | None:
    return db.session.scalar(
        sa.select(Deployment).where(
            Deployment.platform_id == platform.id, Deployment.deployment_id == deployment_id
        )
    )


class ToolRegistration(Registration):
    """pylti1p3's Registration, carrying our platform row and the current tool key."""

    def __init__(self, platform: Platform) -> None:
        super().__init__()
        self.platform = platform
        self._kid: str | None = None
        self.set_issuer(platform.issuer)
        self.set_client_id(platform.client_id)
        self.set_auth_login_url(platform.auth_login_url)
        self.set_auth_token_url(platform.auth_token_url)
        self.set_key_set_url(platform.key_set_url)
        if platform.auth_audience:
            self.set_auth_audience(platform.auth_audience)

    # The tool's key is loaded only when something is signed (a launch never signs).
    def _load_key(self) -> None:
        if self._kid is None:
            key = current_key()
            self._kid = key.kid
            self.set_tool_private_key(private_pem(key))

    def get_tool_private_key(self) -> str | None:
        self._load_key()
        return super().get_tool_private_key()

    def get_kid(self) -> str:
        self._load_key()
        assert self._kid is not None
        return self._kid


class DbToolConf(ToolConfAbstract[FlaskRequest]):
    """Registrations from the database: many issuers, many client ids, many deployments."""

    def check_iss_has_one_client(self, iss: str) -> bool:
        return False

    def check_iss_has_many_clients(self, iss: str) -> bool:
        return True

    def find_registration_by_issuer(self, iss: str, *args: Any, **kwargs: Any) -> Registration:
        return self.find_registration_by_params(iss, None)  # type: ignore[arg-type]

    def find_registration_by_params(
        self, iss: str, client_id: str, *args: Any, **kwargs: Any
    ) -> Registration:
        platform = find_platform(iss, client_id)
        if platform is None:
            raise LaunchRefused("unknown_platform", f"iss={iss} client_id={client_id}")
        return ToolRegistration(platform)

    def find_deployment(self, iss: str, deployment_id: str) -> LtiDeployment | None:
        raise NotImplementedError("all issuers are many-client here")

    def find_deployment_by_params(
        self, iss: str, deployment_id: str, client_id: str, *args: Any, **kwargs: Any
    ) -> LtiDeployment | None:
        platform = find_platform(iss, client_id)
        if platform is None or find_deployment(platform, deployment_id) is None:
            return None
        return LtiDeployment().set_deployment_id(deployment_id)


# --- OIDC login ---------------------------------------------------------------------------


def start_login(params: dict[str, str], launch_url: str, state_ttl: int) -> tuple[OidcState, str]:
    """Validate a third-party login initiation; store state and nonce; return the auth URL.

    Flushes, does not commit: the view commits once.
    """
    issuer = params.get("iss")
    login_hint = params.get("login_hint")
    if not issuer or not login_hint:
        raise LaunchRefused("invalid_login", "iss and login_hint are required")
    if any("\x00" in value or len(value) > 4096 for value in params.values()):
        # PostgreSQL cannot store NUL characters; no platform sends them.
        raise LaunchRefused("invalid_login", "malformed parameter")
    platform = find_platform(issuer, params.get("client_id") or None)
    if platform is None:
        raise LaunchRefused("unknown_platform", f"iss={issuer} client_id={params.get('client_id')}")
    deployment_id = params.get("lti_deployment_id")
    if deployment_id and find_deployment(platform, deployment_id) is None:
        raise LaunchRefused("unknown_deployment", f"deployment_id={deployment_id}")

    now = utcnow()
    storage_target = params.get("lti_storage_target") or None
    state = OidcState(
        state="state-" + secrets.token_urlsafe(24),
        nonce=secrets.token_urlsafe(24),
        platform_id=platform.id,
        login_params={k: params[k] for k in LOGIN_PARAMS if params.get(k)},
        storage_target=storage_target[:64] if storage_target else None,
        storage_secret=secrets.token_urlsafe(24) if storage_target else None,
        created_at=now,
        expires_at=now + timedelta(seconds=state_ttl),
    )
    db.session.add(state)
    db.session.flush()

    auth_params = {
        "scope": "openid",
        "response_type": "id_token",
        "response_mode": "form_post",
        "prompt": "none",
        "client_id": platform.client_id,
        "redirect_uri": launch_url,
        "state": state.state,
        "nonce": state.nonce,
        "login_hint": login_hint,
    }
    if params.get("lti_message_hint"):
        auth_params["lti_message_hint"] = params["lti_message_hint"]
    separator = "&" if "?" in platform.auth_login_url else "?"
    return state, platform.auth_login_url + separator + urlencode(auth_params)


def purge_expired_states(older_than: timedelta = timedelta(hours=1)) -> int:
    """Delete login states (used or not) well past their expiry."""
    result = db.session.execute(
        sa.delete(OidcState).where(OidcState.expires_at < utcnow() - older_than)
    )
    return int(getattr(result, "rowcount", 0) or 0)


# --- Message launch -------------------------------------------------------------------------

# Per process: PEMs of platform keys by (platform id, kid), and when a key set fetch last
# failed (so that an unreachable platform does not cost every launch a network timeout).
_PEM_CACHE: dict[tuple[int, str], tuple[str, str]] = {}
_FETCH_FAILED_AT: dict[int, float] = {}
_CACHE_LOCK = threading.Lock()


class ToolMessageLaunch(FlaskMessageLaunch):
    """A launch validated in a safe order, with server-side single-use state and nonce."""

    def __init__(self, request: FlaskRequest, settings: Any) -> None:
        super().__init__(request, DbToolConf(), cookie_service=FlaskCookieService(request))
        self._settings = settings
        self.oidc_state: OidcState | None = None
        self.browser_bound = False

    # pylti1p3 checks state, format, nonce, registration, signature...: nonce before signature
    # means a forged token could consume a real nonce. Signature comes first here.
    def validate(self) -> ToolMessageLaunch:
        self._validated = True
        try:
            self.validate_jwt_format()
            self._load_state()
            self.validate_registration()
            self.validate_jwt_signature()
            self.validate_state()
            self.validate_nonce()
            self.validate_deployment()
            self.validate_message()
        except LaunchRefused:
            self._validated = False
            raise
        except LtiException as exc:
            self._validated = False
            raise _refusal_for(str(exc)) from exc
        return self

    def validate_jwt_format(self) -> ToolMessageLaunch:
        try:
            super().validate_jwt_format()
        except LtiException as exc:
            raise LaunchRefused("invalid_token", str(exc)) from exc
        header, body = self._jwt.get("header"), self._jwt.get("body")
        if not isinstance(header, dict) or not isinstance(body, dict):
            raise LaunchRefused("invalid_token", "header and body must be JSON objects")
        aud = body.get("aud")
        aud_ok = isinstance(aud, str) or (
            isinstance(aud, list) and aud and all(isinstance(a, str) for a in aud)
        )
        if not isinstance(body.get("iss"), str) or not aud_ok:
            raise LaunchRefused("invalid_token", "iss and aud must be strings")
        if "\\u0000" in json.dumps(body):  # a NUL anywhere in the claims
            raise LaunchRefused("invalid_token", "NUL character in the claims")
        return self

    def _load_state(self) -> None:
        state = self._get_request_param("state")
        if not state:
            raise LaunchRefused("missing_state", "no state parameter")
        row = db.session.get(OidcState, state)
        if row is None:
            raise LaunchRefused("missing_state", "unknown state")
        if row.used_at is not None:
            raise LaunchRefused("replayed", "state already used")
        if row.expires_at < utcnow():
            raise LaunchRefused("missing_state", "state expired")
        self.oidc_state = row

    def validate_registration(self) -> ToolMessageLaunch:
        assert self.oidc_state is not None
        expected = db.session.get(Platform, self.oidc_state.platform_id)
        if expected is not None and self.get_client_id() != expected.client_id:
            raise LaunchRefused("wrong_audience", "aud does not name the login's client id")
        super().validate_registration()
        registration = self._registration
        assert isinstance(registration, ToolRegistration)
        if registration.platform.id != self.oidc_state.platform_id:
            raise LaunchRefused("missing_state", "state was issued for another registration")
        return self

    def get_public_key(self) -> tuple[str, str]:
        registration = self._registration
        assert isinstance(registration, ToolRegistration)
        platform = registration.platform
        header = self._jwt.get("header", {})
        kid, alg = header.get("kid"), header.get("alg")
        if not kid or alg != "RS256":
            raise LaunchRefused("bad_signature", f"kid={kid!r} alg={alg!r}")
        with _CACHE_LOCK:
            cached = _PEM_CACHE.get((platform.id, kid))
        fresh = platform.jwks_fetched_at is not None and platform.jwks_fetched_at > utcnow() - (
            timedelta(seconds=self._settings.jwks_cache_ttl)
        )
        if cached and fresh and _find_key(platform.jwks, kid) is not None:
            return cached
        if not fresh or platform.jwks is None:
            # Stale: refetch, but an outage does not stop launches the cached set can verify.
            self._refetch_keys(platform, required=_find_key(platform.jwks, kid) is None)
        key = _find_key(platform.jwks, kid)
        if key is None:
            # An unknown kid: the platform may have rotated. Refetch once, rate limited.
            last = platform.jwks_fetched_at
            interval = timedelta(seconds=self._settings.jwks_refetch_interval)
            if last is None or last < utcnow() - interval:
                self._refetch_keys(platform, required=True)
                key = _find_key(platform.jwks, kid)
        if key is None:
            raise LaunchRefused("unknown_key", f"kid={kid!r}")
        try:
            pem = JWK.from_json(json.dumps(key)).export_to_pem().decode()
        except (ValueError, TypeError) as exc:
            raise LaunchRefused("unknown_key", "platform key cannot be read") from exc
        with _CACHE_LOCK:
            _PEM_CACHE[(platform.id, kid)] = (pem, "RS256")
        return pem, "RS256"

    def _refetch_keys(self, platform: Platform, required: bool) -> None:
        """Fetch the platform's key set; on failure refuse only when the cache cannot help."""
        failed_at = _FETCH_FAILED_AT.get(platform.id)
        if failed_at and time.monotonic() - failed_at < self._settings.jwks_refetch_interval:
            if required:
                raise LaunchRefused("keys_unavailable", "recent fetch failed; not retried yet")
            return
        try:
            resp = self._requests_session.get(platform.key_set_url, timeout=10)
            resp.raise_for_status()
            jwks = resp.json()
            if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
                raise ValueError("not a JWKS")
        except (requests.RequestException, ValueError) as exc:
            _FETCH_FAILED_AT[platform.id] = time.monotonic()
            log.warning("platform key set unavailable: %r", type(exc).__name__)
            if required:
                raise LaunchRefused("keys_unavailable", type(exc).__name__) from exc
            return
        _FETCH_FAILED_AT.pop(platform.id, None)
        platform.jwks = jwks
        platform.jwks_fetched_at = utcnow()
        # A cache write of its own: a refused launch rolls back, the rate limit must not.
        db.session.commit()
        with _CACHE_LOCK:
            for cache_key in [k for k in list(_PEM_CACHE) if k[0] == platform.id]:
                _PEM_CACHE.pop(cache_key, None)

    def validate_jwt_signature(self) -> ToolMessageLaunch:
        public_key, alg = self.get_public_key()
        client_id = self.get_client_id()
        try:
            jwt.decode(
                self._get_id_token(),
                public_key,
                algorithms=[alg],
                audience=client_id,
                issuer=self.get_iss(),
                leeway=self._settings.jwt_leeway,
                options={"require": ["exp", "iat", "iss", "aud", "sub", "nonce"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise LaunchRefused("expired", str(exc)) from exc
        except jwt.ImmatureSignatureError as exc:
            raise LaunchRefused("not_yet_valid", str(exc)) from exc
        except (jwt.InvalidAudienceError, jwt.InvalidIssuerError) as exc:
            raise LaunchRefused("wrong_audience", str(exc)) from exc
        except jwt.MissingRequiredClaimError as exc:
            raise LaunchRefused("invalid_message", str(exc)) from exc
        except jwt.InvalidTokenError as exc:
            raise LaunchRefused("bad_signature", str(exc)) from exc
        body = self._jwt["body"]
        iat = body.get("iat")
        if isinstance(iat, int | float) and iat > time.time() + self._settings.jwt_leeway:
            raise LaunchRefused("not_yet_valid", "iat in the future")
        aud = body.get("aud")
        azp = body.get("azp")
        if isinstance(aud, list) and len(aud) > 1 and azp != client_id:
            raise LaunchRefused("wrong_audience", "azp must name the client id")
        if azp is not None and azp != client_id:
            raise LaunchRefused("wrong_audience", "azp names another client")
        return self

    def validate_state(self) -> ToolMessageLaunch:
        """Bind the launch to this browser: the state cookie, or else platform storage."""
        row = self.oidc_state
        assert row is not None
        cookie = self._cookie_service.get_cookie(row.state)
        legacy = self._cookie_service.get_cookie(row.state + LEGACY_SUFFIX)
        if row.state in (cookie, legacy):
            self.browser_bound = True
        elif row.storage_target:
            # No cookie (blocked third-party cookies), but the platform offered storage: the
            # page rendered for this launch checks the state against the platform's storage
            # before it continues (see templates/lti/storage_check.html).
            self.browser_bound = False
        else:
            raise LaunchRefused(
                "cookies_blocked", "state cookie missing", retry_params=row.login_params
            )
        return self

    def validate_nonce(self) -> ToolMessageLaunch:
        """The nonce must be the one issued with this state; consume the state atomically."""
        row = self.oidc_state
        assert row is not None
        nonce = self._jwt["body"].get("nonce")
        if not nonce or not secrets.compare_digest(str(nonce), row.nonce):
            if nonce and db.session.scalar(
                sa.select(sa.func.count()).select_from(OidcState).where(OidcState.nonce == nonce)
            ):
                raise LaunchRefused("replayed", "nonce belongs to another login")
            raise LaunchRefused("replayed", "nonce does not match the login")
        # Conditional update: of two concurrent launches with this state, one wins.
        result = db.session.execute(
            sa.update(OidcState)
            .where(OidcState.state == row.state, OidcState.used_at.is_(None))
            .values(used_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0) != 1:
            raise LaunchRefused("replayed", "state consumed concurrently")
        return self

    def validate_deployment(self) -> ToolMessageLaunch:
        assert self.oidc_state is not None
        announced = self.oidc_state.login_params.get("lti_deployment_id")
        deployment_id = self._jwt["body"].get(CLAIM + "deployment_id")
        if announced and deployment_id != announced:
            raise LaunchRefused("unknown_deployment", "deployment differs from the login's")
        try:
            super().validate_deployment()
        except LtiException as exc:
            if "deployment" in str(exc).lower() and "not set" not in str(exc):
                raise LaunchRefused("unknown_deployment", str(exc)) from exc
            raise LaunchRefused("invalid_message", str(exc)) from exc
        return self

    def validate_message(self) -> ToolMessageLaunch:
        message_type = self._jwt["body"].get(CLAIM + "message_type")
        if message_type not in MESSAGE_TYPES:
            raise LaunchRefused("invalid_message", f"unsupported message type {message_type!r}")
        try:
            super().validate_message()
        except LtiException as exc:
            raise LaunchRefused("invalid_message", str(exc)) from exc
        return self

    @property
    def registration(self) -> ToolRegistration:
        assert isinstance(self._registration, ToolRegistration)
        return self._registration

    @property
    def body(self) -> dict[str, Any]:
        return dict(self._jwt["body"])


def _find_key(jwks: dict[str, Any] | None, kid: str) -> dict[str, Any] | None:
    for key in (jwks or {}).get("keys", []):
        if isinstance(key, dict) and key.get("kid") == kid and key.get("alg", "RS256") == "RS256":
            return key
    return None


def _refusal_for(message: str) -> LaunchRefused:
    text = message.lower()
    if "registration" in text or "client id" in text:
        return LaunchRefused("unknown_platform", message)
    if "deployment" in text:
        return LaunchRefused("unknown_deployment", message)
    if "id_token" in text or "jwt" in text:
        return LaunchRefused("invalid_token", message)
    return LaunchRefused("invalid_message", message)
