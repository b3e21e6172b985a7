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
from datetime import datetime
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


AGS_LINEITEM = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
AGS_LINEITEM_READ = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly"
AGS_SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS_CLAIM = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"


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
    # --- LTI Advantage services (AGS, NRPS) and the OAuth2 token endpoint -------------------
    token_ttl: int = 3600
    granted_scopes: tuple[str, ...] = (
        AGS_LINEITEM,
        AGS_LINEITEM_READ,
        AGS_SCORE,
        NRPS_SCOPE,
    )
    token_requests: list[dict[str, Any]] = field(default_factory=list)
    tokens: dict[str, tuple[set[str], float]] = field(default_factory=dict)
    used_jtis: set[str] = field(default_factory=set)
    # context id -> line items, in the order made ({"id", "label", "scoreMaximum", ...})
    line_items: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    lineitem_page_size: int = 2
    lineitem_posts: int = 0
    # line item URL -> scores as stored, in the order received
    scores: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    score_posts: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    # Answers for the next score POSTs: 500 (not stored), "store-500" (stored, then 500: the
    # tool never hears it landed), any status. Consumed in order.
    score_failures: list[int | str] = field(default_factory=list)
    # context id -> members ({"user_id", "roles", "status", "name", ...})
    members: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    nrps_page_size: int = 2
    nrps_requests: list[str] = field(default_factory=list)
    placed_links: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.RLock()
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
            self._place(request.form["JWT"])
            return Response("placed", mimetype="text/plain")
        with self._lock:
            return self._services(request)

    # --- the platform's side of deep linking ------------------------------------------------

    def _place(self, token: str) -> None:
        """As Moodle does: each placed link becomes a resource link; a link with a lineItem gets
        its gradebook column, which later launches of the link name in the AGS claim."""
        body = jwt.decode(token, options={"verify_signature": False})
        for item in body.get(DL + "content_items", []):
            link_id = "placed-" + uuid.uuid4().hex[:8]
            placed = {"resource_link_id": link_id, "custom": item.get("custom") or {},
                      "title": item.get("title"), "lineitem": None}  # fmt: skip
            line_item = item.get("lineItem")
            if line_item:
                with self._lock:
                    made = self._make_line_item(
                        "course-1", {**line_item, "resourceLinkId": link_id}
                    )
                placed["lineitem"] = made["id"]
            self.placed_links.append(placed)

    # --- OAuth2 token endpoint and the LTI Advantage services --------------------------------

    def service_claims(
        self, context_id: str = "course-1", lineitem: str | None = None, nrps: bool = True
    ) -> dict[str, Any]:
        """The AGS and NRPS claims a launch from this context carries (Moodle's shape)."""
        claims: dict[str, Any] = {
            AGS_CLAIM: {
                "scope": [AGS_LINEITEM, AGS_LINEITEM_READ, AGS_SCORE],
                "lineitems": f"{self.base}/ags/{context_id}/lineitems?type_id=7",
            }
        }
        if lineitem:
            claims[AGS_CLAIM]["lineitem"] = lineitem
        if nrps:
            claims[NRPS_CLAIM] = {
                # Mixed case on purpose: a client that lower-cases the URL gets 404s.
                "context_memberships_url": f"{self.base}/NRPS/{context_id.upper()}/Members"
                "?Limit=2&Sig=AbC",
                "service_versions": ["2.0"],
            }
        return claims

    def _services(self, request: Request) -> Response:
        if request.path == "/token" and request.method == "POST":
            return self._token(request)
        parts = request.path.strip("/").split("/")
        if parts[0] == "ags" and len(parts) >= 3:
            return self._ags(request, parts)
        if parts[0] == "NRPS" and len(parts) == 3 and parts[2] == "Members":
            return self._nrps(request, parts[1])
        return Response("not found", status=404)

    def _token(self, request: Request) -> Response:
        form = request.form
        self.token_requests.append(dict(form))
        if (
            form.get("grant_type") != "client_credentials"
            or form.get("client_assertion_type")
            != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        ):
            return _json({"error": "unsupported_grant_type"}, 400)
        assertion = form.get("client_assertion", "")
        try:
            # The tool's signature, checked for real against its published key set.
            keys = jwt.PyJWKClient(self.tool_base + "/lti/jwks", cache_jwk_set=False)
            key = keys.get_signing_key_from_jwt(assertion)
            claims = jwt.decode(
                assertion, key.key, algorithms=["RS256"], audience=self.token_url,
                issuer=self.client_id, options={"require": ["exp", "iat", "jti", "sub"]},
            )  # fmt: skip
        except jwt.PyJWTError as exc:
            return _json({"error": "invalid_client", "detail": str(exc)}, 401)
        if claims["sub"] != self.client_id or claims["jti"] in self.used_jtis:
            return _json({"error": "invalid_client"}, 401)
        self.used_jtis.add(claims["jti"])
        scopes = set(form.get("scope", "").split())
        if not scopes or not scopes <= set(self.granted_scopes):
            return _json({"error": "invalid_scope"}, 400)
        token = "at-" + uuid.uuid4().hex
        self.tokens[token] = (scopes, time.time() + self.token_ttl)
        return _json({"access_token": token, "token_type": "Bearer", "expires_in": self.token_ttl,
                      "scope": " ".join(sorted(scopes))})  # fmt: skip

    def _authorized(self, request: Request, *needed: str) -> Response | None:
        header = request.headers.get("Authorization", "")
        granted = self.tokens.get(header[7:]) if header.startswith("Bearer ") else None
        if granted is None or granted[1] < time.time():
            return _json({"error": "invalid_token"}, 401)
        if not set(needed) & granted[0]:
            return _json({"error": "insufficient_scope"}, 403)
        return None

    def _make_line_item(self, context_id: str, body: dict[str, Any]) -> dict[str, Any]:
        items = self.line_items.setdefault(context_id, [])
        number = sum(len(v) for v in self.line_items.values()) + 1
        item = {**body, "id": f"{self.base}/ags/{context_id}/lineitems/{number}/lineitem?type_id=7"}
        items.append(item)
        return item

    def _ags(self, request: Request, parts: list[str]) -> Response:
        context_id = parts[1]
        if parts[2:] == ["lineitems"] and request.method == "GET":
            denied = self._authorized(request, AGS_LINEITEM, AGS_LINEITEM_READ)
            if denied:
                return denied
            items = [
                i for i in self.line_items.get(context_id, [])
                if all(i.get(k) == request.args[a] for a, k in (
                    ("resource_id", "resourceId"), ("resource_link_id", "resourceLinkId"),
                    ("tag", "tag")) if a in request.args)
            ]  # fmt: skip
            page = int(request.args.get("page", "1"))
            size = self.lineitem_page_size
            response = _json(items[(page - 1) * size : page * size])
            response.headers["Content-Type"] = "application/vnd.ims.lis.v2.lineitemcontainer+json"
            if page * size < len(items):
                args = {**request.args.to_dict(), "page": str(page + 1)}
                query = "&".join(f"{k}={v}" for k, v in args.items())
                response.headers["Link"] = f'<{self.base}{request.path}?{query}>; rel="next"'
            return response
        if parts[2:] == ["lineitems"] and request.method == "POST":
            denied = self._authorized(request, AGS_LINEITEM)
            if denied:
                return denied
            body = request.get_json(force=True)
            if not body.get("label") or not isinstance(body.get("scoreMaximum"), int | float):
                return _json({"error": "label and scoreMaximum are required"}, 400)
            self.lineitem_posts += 1
            return _json(self._make_line_item(context_id, body), 201)
        if len(parts) == 6 and parts[2] == "lineitems" and parts[4:] == ["lineitem", "scores"]:
            denied = self._authorized(request, AGS_SCORE)
            if denied:
                return denied
            return self._score(request, context_id)
        return Response("not found", status=404)

    def _score(self, request: Request, context_id: str) -> Response:
        """Moodle's rules: the required fields, a gradable user, scoreGiven with scoreMaximum,
        and a timestamp later (to the second) than the stored score's, else 409."""
        if request.mimetype != "application/vnd.ims.lis.v1.score+json":
            return _json({"error": "wrong content type"}, 415)
        body = request.get_json(force=True)
        lineitem = self.base + request.path.rsplit("/scores", 1)[0] + "?type_id=7"
        if request.query_string.decode() != "type_id=7":
            return _json({"error": "the line item's query was lost"}, 400)
        self.score_posts.append((len(self.score_posts), body))
        required = ("userId", "timestamp", "activityProgress", "gradingProgress")
        if any(not body.get(k) for k in required):
            return _json({"error": "Incorrect score received"}, 400)
        if "scoreGiven" in body and "scoreMaximum" not in body:
            return _json({"error": "scoreMaximum is required with scoreGiven"}, 400)
        member = next(
            (m for m in self.members.get(context_id, []) if m["user_id"] == body["userId"]), None
        )
        if member is None or LEARNER not in member["roles"]:
            return _json({"error": "user is not gradable"}, 400)
        failure = self.score_failures.pop(0) if self.score_failures else None
        if failure is not None and failure != "store-500":
            return _json({"error": "simulated"}, int(failure))
        stored = self.scores.setdefault(lineitem, [])
        previous = [s for s in stored if s["userId"] == body["userId"]]
        when = int(datetime.fromisoformat(body["timestamp"]).timestamp())
        if previous and when <= int(datetime.fromisoformat(previous[-1]["timestamp"]).timestamp()):
            return _json({"error": "score timestamp not later than the stored one"}, 409)
        stored.append(body)
        if failure == "store-500":
            return _json({"error": "simulated after storing"}, 500)
        return Response(status=204)

    def _nrps(self, request: Request, context: str) -> Response:
        self.nrps_requests.append(request.url)
        denied = self._authorized(request, NRPS_SCOPE)
        if denied:
            return denied
        if request.args.get("Sig") != "AbC":  # a lower-cased query fails here
            return _json({"error": "bad signature"}, 400)
        members = next((v for k, v in self.members.items() if k.upper() == context), None)
        if members is None:
            return Response("not found", status=404)
        page = int(request.args.get("Page", "1"))
        size = int(request.args.get("Limit", str(self.nrps_page_size)))
        chunk = members[(page - 1) * size : page * size]
        response = _json({"id": request.url, "context": {"id": context}, "members": chunk})
        response.headers["Content-Type"] = (
            "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
        )
        last = max(1, -(-len(members) // size))
        links = [f'<{self.base}/NRPS/{context}/Members?Limit={size}&Sig=AbC&Page={last}>; '
                 'rel="last"']  # fmt: skip
        if page < last:
            # Page 2 names its next page relative to the server, in mixed-case rel.
            target = f"/NRPS/{context}/Members?Limit={size}&Sig=AbC&Page={page + 1}"
            url = target if page == 2 else self.base + target
            rel = "Next" if page == 2 else "next"
            links.insert(0, f'<{url}>; rel="{rel}"; title="Page {page + 1}, of {last}"')
        response.headers["Link"] = ", ".join(links)
        return response

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
