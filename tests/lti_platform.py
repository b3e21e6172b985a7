"""A test LTI 1.3 platform: real RSA keys, real signed JWTs, real HTTP to the tool.

Written independently of the tool's code (it imports nothing from lti_tool) so that a bug in the
tool's protocol handling cannot hide behind shared code. It serves its JWKS, an OAuth2 token
endpoint, an OpenID configuration and a dynamic-registration endpoint from its own HTTP server,
and drives the browser side of a launch with `requests`.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
DL = "https://purl.imsglobal.org/spec/lti-dl/claim/"
MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership#"
INSTRUCTOR = MEMBERSHIP + "Instructor"
TEACHING_ASSISTANT = MEMBERSHIP + "TeachingAssistant"
LEARNER = MEMBERSHIP + "Learner"
INSTITUTION_ADMIN = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator"
SYSTEM_ADMIN = "http://purl.imsglobal.org/vocab/lis/v2/system/person#Administrator"


class LoopbackBrowser(requests.Session):
    """Browsers treat http://localhost as a secure context and send `Secure` cookies there;
    http.cookiejar does not, so loopback cookies are sent as a browser would."""

    def prepare_request(self, request: requests.Request) -> requests.PreparedRequest:
        for cookie in self.cookies:
            if cookie.domain in ("localhost.local", "localhost", "127.0.0.1"):
                cookie.secure = False
        return super().prepare_request(request)


def browser() -> requests.Session:
    return LoopbackBrowser()


class Key:
    def __init__(self) -> None:
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = uuid.uuid4().hex
        self.pem = self.private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def jwk(self) -> dict[str, Any]:
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private.public_key()))
        public.update({"kid": self.kid, "alg": "RS256", "use": "sig"})
        return public


@dataclass
class Person:
    sub: str
    roles: list[str]
    name: str | None = None
    email: str | None = None


@dataclass
class LaunchResult:
    """What the tool answered to the launch POST, plus the state and token used."""

    response: requests.Response
    id_token: str
    state: str
    cookies: dict[str, str]
    login_response: requests.Response

    @property
    def status(self) -> int:
        return self.response.status_code


@dataclass
class TestPlatform:
    """One platform registration: an issuer, a client id, deployments, and a key set."""

    __test__ = False  # not a pytest test class

    tool_base: str
    client_id: str = field(default_factory=lambda: "client-" + uuid.uuid4().hex[:8])
    deployment_ids: list[str] = field(default_factory=lambda: ["deployment-1"])
    issuer: str = ""
    keys: list[Key] = field(default_factory=lambda: [Key()])
    jwks_requests: int = 0
    registrations: list[dict[str, Any]] = field(default_factory=list)
    deep_link_returns: list[str] = field(default_factory=list)
    registration_answer: dict[str, Any] | None = None
    registration_status: int = 200
    config_override: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self.base = f"http://127.0.0.1:{self._server.server_port}"
        if not self.issuer:
            self.issuer = self.base + "/" + uuid.uuid4().hex[:6]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()

    # --- the platform's own endpoints -------------------------------------------------------

    @property
    def signing_key(self) -> Key:
        return self.keys[-1]

    @property
    def jwks_url(self) -> str:
        return self.base + "/jwks"

    @property
    def auth_login_url(self) -> str:
        return self.base + "/auth"

    @property
    def token_url(self) -> str:
        return self.base + "/token"

    @property
    def openid_configuration_url(self) -> str:
        return self.base + "/.well-known/openid-configuration"

    def rotate_key(self, keep_old: bool = True) -> Key:
        key = Key()
        self.keys = [*self.keys, key] if keep_old else [key]
        return key

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        response = self._route(request)
        return response(environ, start_response)

    def _route(self, request: Request) -> Response:
        if request.path == "/jwks":
            self.jwks_requests += 1
            return _json({"keys": [k.jwk() for k in self.keys]})
        if request.path == "/.well-known/openid-configuration":
            if request.headers.get("Authorization") != "Bearer reg-token":
                return _json({"error": "unauthorized"}, 401)
            return _json(
                {
                    "issuer": self.base,
                    "authorization_endpoint": self.auth_login_url,
                    "token_endpoint": self.token_url,
                    "jwks_uri": self.jwks_url,
                    "registration_endpoint": self.base + "/register",
                    "scopes_supported": ["openid"],
                    "response_types_supported": ["id_token"],
                    "id_token_signing_alg_values_supported": ["RS256"],
                    "https://purl.imsglobal.org/spec/lti-platform-configuration": {
                        "product_family_code": "moodle",
                        "version": "4.5",
                        "messages_supported": [
                            {"type": "LtiResourceLinkRequest"},
                            {"type": "LtiDeepLinkingRequest"},
                        ],
                    },
                    **self.config_override,
                }
            )
        if request.path == "/register" and request.method == "POST":
            if request.headers.get("Authorization") != "Bearer reg-token":
                return _json({"error": "missing_registration_token"}, 401)
            body = request.get_json()
            self.registrations.append(body)
            if self.registration_status != 200:
                return _json({"error": "invalid_client_metadata"}, self.registration_status)
            answer = self.registration_answer or {
                **body,
                "client_id": self.client_id,
                "https://purl.imsglobal.org/spec/lti-tool-configuration": {
                    **body["https://purl.imsglobal.org/spec/lti-tool-configuration"],
                    "deployment_id": self.deployment_ids[0],
                },
            }
            return _json(answer)
        if request.path == "/deep-link-return" and request.method == "POST":
            self.deep_link_returns.append(request.form["JWT"])
            return Response("placed", mimetype="text/plain")
        return Response("not found", status=404)

    # --- registering with the tool (the CLI does it in most tests) ------------------------

    def cli_args(self, name: str | None = None) -> list[str]:
        args = [
            "platform", "add",
            "--issuer", self.issuer,
            "--client-id", self.client_id,
            "--auth-login-url", self.auth_login_url,
            "--auth-token-url", self.token_url,
            "--key-set-url", self.jwks_url,
        ]  # fmt: skip
        for deployment_id in self.deployment_ids:
            args += ["--deployment-id", deployment_id]
        if name:
            args += ["--name", name]
        return args

    # --- launching ----------------------------------------------------------------------------

    def login(
        self,
        session: requests.Session,
        person: Person,
        deployment_id: str | None = None,
        method: str = "POST",
        extra: dict[str, str] | None = None,
        send_client_id: bool = True,
    ) -> requests.Response:
        """Third-party initiated login, as Moodle sends it (auto-submitted POST by default)."""
        params = {
            "iss": self.issuer,
            "login_hint": person.sub,
            "target_link_uri": self.tool_base + "/lti/launch",
            "lti_message_hint": json.dumps({"cmid": 7, "launchid": uuid.uuid4().hex}),
            "lti_deployment_id": deployment_id or self.deployment_ids[0],
        }
        if send_client_id:
            params["client_id"] = self.client_id
        params.update(extra or {})
        url = self.tool_base + "/lti/login"
        if method == "GET":
            return session.get(url, params=params, allow_redirects=False, timeout=10)
        return session.post(url, data=params, allow_redirects=False, timeout=10)

    def auth_params(self, login_response: requests.Response) -> dict[str, str]:
        """Check the tool's authentication request as a platform would, and return it."""
        assert login_response.status_code == 302, login_response.text[:500]
        location = login_response.headers["Location"]
        assert location.startswith(self.auth_login_url + "?"), location
        params = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
        assert params["scope"] == "openid"
        assert params["response_type"] == "id_token"
        assert params["response_mode"] == "form_post"
        assert params["prompt"] == "none"
        assert params["client_id"] == self.client_id
        assert params["redirect_uri"] == self.tool_base + "/lti/launch"
        assert params["nonce"] and params["state"]
        return params

    def claims(
        self,
        person: Person,
        nonce: str,
        deployment_id: str | None = None,
        message_type: str = "LtiResourceLinkRequest",
        context_id: str = "course-1",
        **extra: Any,
    ) -> dict[str, Any]:
        now = int(time.time())
        body: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.client_id,
            "sub": person.sub,
            "iat": now,
            "exp": now + 60,  # Moodle: one minute
            "nonce": nonce,
            CLAIM + "version": "1.3.0",
            CLAIM + "message_type": message_type,
            CLAIM + "deployment_id": deployment_id or self.deployment_ids[0],
            CLAIM + "target_link_uri": self.tool_base + "/lti/launch",
            CLAIM + "roles": person.roles,
            CLAIM + "context": {"id": context_id, "title": "Groep 5", "type": ["CourseSection"]},
            CLAIM + "tool_platform": {"family_code": "moodle", "version": "2024100700"},
            "https://purl.imsglobal.org/spec/lti/claim/ext": {"lms": "moodle-2"},
        }
        if person.name:
            body["name"] = person.name
        if person.email:
            body["email"] = person.email
        if message_type == "LtiResourceLinkRequest":
            body[CLAIM + "resource_link"] = {"id": "link-1", "title": "Beeldcoach"}
        else:
            body[DL + "deep_linking_settings"] = {
                "deep_link_return_url": self.base + "/deep-link-return",
                "accept_types": ["ltiResourceLink"],
                "accept_presentation_document_targets": ["iframe", "window"],
                "accept_multiple": True,
                "data": "platform-data-" + uuid.uuid4().hex[:6],
            }
        body.update(extra)
        return body

    def sign(self, body: dict[str, Any], key: Key | None = None, kid: str | None = None) -> str:
        key = key or self.signing_key
        return jwt.encode(body, key.pem, algorithm="RS256", headers={"kid": kid or key.kid})

    def launch(
        self,
        person: Person,
        *,
        session: requests.Session | None = None,
        deployment_id: str | None = None,
        message_type: str = "LtiResourceLinkRequest",
        mutate: Any = None,
        key: Key | None = None,
        kid: str | None = None,
        token: str | None = None,
        send_cookies: bool = True,
        login_extra: dict[str, str] | None = None,
        context_id: str = "course-1",
    ) -> LaunchResult:
        """A whole launch: login -> auth request check -> signed id_token POSTed to the tool."""
        session = session or browser()
        login = self.login(session, person, deployment_id, extra=login_extra)
        params = self.auth_params(login)
        body = self.claims(
            person, params["nonce"], deployment_id, message_type, context_id=context_id
        )
        if mutate:
            mutate(body)
        id_token = token or self.sign(body, key=key, kid=kid)
        cookies = {c.name: c.value for c in session.cookies} if send_cookies else {}
        target = session if send_cookies else browser()
        response = target.post(
            params["redirect_uri"],
            data={"id_token": id_token, "state": params["state"]},
            allow_redirects=False,
            timeout=10,
        )
        return LaunchResult(response, id_token, params["state"], cookies, login)

    def replay(self, result: LaunchResult) -> requests.Response:
        session = browser()
        for name, value in result.cookies.items():
            session.cookies.set(name, value, domain=urlsplit(self.tool_base).hostname)
        return session.post(
            self.tool_base + "/lti/launch",
            data={"id_token": result.id_token, "state": result.state},
            allow_redirects=False,
            timeout=10,
        )


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data), status=status, mimetype="application/json")
