"""LTI Advantage service calls (AGS, NRPS): the only module that talks to them over HTTP.

Why not pylti1p3's ServiceConnector / AssignmentsGradesService / NamesRolesProvisioningService:
- it lower-cases the whole `Link` header before taking the next-page URL, which breaks paging on
  platforms whose URLs are case sensitive; here `Link` is parsed per RFC 8288, case kept;
- it caches access tokens per connector object (per process and request); here they live in the
  `service_tokens` table, shared by web and worker processes, per registration (issuer and
  client id) and scope set, until shortly before they expire;
- it sends requests without a timeout (a hanging platform would hold a worker forever) and turns
  every non-2xx answer into one exception type; AGS needs a 409 told apart from a 500;
- it cannot be handed our database-backed registration without building a Registration for each
  call. The token request itself follows the same standard (client credentials with a JWT
  assertion signed by the tool's current key, `kid` in the header).
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import jwt
import requests
import sqlalchemy as sa

from lti_tool.db import db, utcnow
from lti_tool.launch.keys import current_key, private_pem
from lti_tool.launch.models import Platform
from lti_tool.outcomes.models import ServiceToken

log = logging.getLogger(__name__)

AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS_CLAIM = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
SCOPE_LINEITEM = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
SCOPE_LINEITEM_READ = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly"
SCOPE_SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
SCOPE_NRPS = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"

LINEITEM_TYPE = "application/vnd.ims.lis.v2.lineitem+json"
CONTAINER_TYPE = "application/vnd.ims.lis.v2.lineitemcontainer+json"
SCORE_TYPE = "application/vnd.ims.lis.v1.score+json"
MEMBERSHIP_TYPE = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"

TIMEOUT = (5, 30)  # connect, read (seconds)
TOKEN_MARGIN = timedelta(seconds=60)  # a token this close to expiry is not used again
MAX_PAGES = 200  # a platform that keeps sending "next" links cannot keep a worker forever


class ServiceError(Exception):
    """A service call that failed. `code` is shown (translated) to the coach; `transient`
    failures are retried with backoff, the others wait for a person ("send again")."""

    def __init__(self, code: str, detail: str = "", status: int | None = None) -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail[:500]
        self.status = status

    @property
    def transient(self) -> bool:
        return self.code in ("unreachable", "platform_error", "rate_limited")


# --- Link headers (RFC 8288) ----------------------------------------------------------------------

_PARAM = re.compile(r';\s*([^\s=;]+)\s*(?:=\s*("(?:[^"\\]|\\.)*"|[^;]*))?')


def _split_links(header: str) -> list[str]:
    """Split at the commas between link values, not at commas inside <...> or quotes."""
    parts: list[str] = []
    current: list[str] = []
    in_url = in_quote = escaped = False
    for char in header:
        if escaped:
            escaped = False
        elif in_quote:
            escaped = char == "\\"
            in_quote = char != '"'
        elif in_url:
            in_url = char != ">"
        elif char == "<":
            in_url = True
        elif char == '"':
            in_quote = True
        elif char == ",":
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return parts


def parse_links(header: str, base_url: str = "") -> dict[str, str]:
    """rel -> absolute URL from a `Link` header. URLs keep their case (pylti1p3 lower-cases
    the whole header); rel values compare case-insensitively and may name several relations."""
    links: dict[str, str] = {}
    for part in _split_links(header.replace("\r", " ").replace("\n", " ")):
        match = re.match(r"\s*<([^>]*)>(.*)", part, re.S)
        if match is None:
            continue
        url = match.group(1).strip()
        for name, value in _PARAM.findall(match.group(2)):
            if name.lower() != "rel":
                continue
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            for rel in value.split():
                links.setdefault(rel.lower(), urljoin(base_url, url))
    return links


# --- access tokens --------------------------------------------------------------------------------


def _scope_key(scopes: tuple[str, ...] | list[str]) -> str:
    return " ".join(sorted(set(scopes)))


def access_token(platform: Platform, scopes: list[str], session: requests.Session) -> str:
    """A bearer token for these scopes: the cached one until shortly before it expires, else a
    new one (client credentials grant with a signed JWT assertion). Flushes, never commits."""
    key = _scope_key(scopes)
    now = utcnow()
    cached = db.session.scalar(
        sa.select(ServiceToken)
        .where(
            ServiceToken.platform_id == platform.id,
            ServiceToken.scopes == key,
            ServiceToken.expires_at > now + TOKEN_MARGIN,
        )
        .order_by(ServiceToken.expires_at.desc())
        .limit(1)
    )
    if cached is not None:
        return cached.access_token
    tool_key = current_key()
    issued = int(time.time())
    assertion = jwt.encode(
        {
            "iss": platform.client_id,
            "sub": platform.client_id,
            "aud": platform.auth_audience or platform.auth_token_url,
            "iat": issued,
            "exp": issued + 300,
            "jti": "beeldcoach-" + uuid.uuid4().hex,
        },
        private_pem(tool_key),
        algorithm="RS256",
        headers={"kid": tool_key.kid},
    )
    try:
        response = session.post(
            platform.auth_token_url,
            data={
                "grant_type": "client_credentials",
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": assertion,
                "scope": key,
            },
            headers={"Accept": "application/json"},
            timeout=TIMEOUT,
        )
    except requests.RequestException as exc:
        raise ServiceError("unreachable", type(exc).__name__) from exc
    if response.status_code >= 500:
        raise ServiceError("platform_error", f"token {response.status_code}", response.status_code)
    try:
        answer = response.json()
    except ValueError:
        answer = {}
    token = answer.get("access_token") if isinstance(answer, dict) else None
    if response.status_code != 200 or not isinstance(token, str) or not token:
        raise ServiceError(
            "token_refused", f"{response.status_code} {response.text[:200]}", response.status_code
        )
    expires_in = answer.get("expires_in")
    seconds = expires_in if isinstance(expires_in, int) and expires_in > 0 else 3600
    # Old tokens of this key are of no use any more.
    db.session.execute(
        sa.delete(ServiceToken).where(
            ServiceToken.platform_id == platform.id,
            ServiceToken.scopes == key,
            ServiceToken.expires_at <= now + TOKEN_MARGIN,
        )
    )
    db.session.add(
        ServiceToken(
            platform_id=platform.id,
            scopes=key,
            access_token=token,
            expires_at=now + timedelta(seconds=seconds),
        )
    )
    db.session.flush()
    return token


def _forget_token(platform: Platform, scopes: list[str]) -> None:
    db.session.execute(
        sa.delete(ServiceToken).where(
            ServiceToken.platform_id == platform.id, ServiceToken.scopes == _scope_key(scopes)
        )
    )


# --- the client -----------------------------------------------------------------------------------


@dataclass
class Page:
    body: Any
    next_url: str | None


class ServiceClient:
    """Calls to one platform registration's services with a cached bearer token."""

    def __init__(self, platform: Platform, session: requests.Session | None = None) -> None:
        self.platform = platform
        self.session = session or requests.Session()
        self.session.headers.setdefault("User-Agent", "Beeldcoach")

    def request(
        self,
        method: str,
        url: str,
        scopes: list[str],
        accept: str,
        body: dict[str, Any] | None = None,
        content_type: str | None = None,
    ) -> requests.Response:
        if urlsplit(url).scheme not in ("http", "https"):
            raise ServiceError("bad_url", url[:200])
        for attempt in (1, 2):
            token = access_token(self.platform, scopes, self.session)
            headers = {"Authorization": f"Bearer {token}", "Accept": accept}
            data = None
            if body is not None:
                headers["Content-Type"] = content_type or "application/json"
                data = json.dumps(body)
            try:
                response = self.session.request(
                    method, url, data=data, headers=headers, timeout=TIMEOUT, allow_redirects=False
                )
            except requests.RequestException as exc:
                raise ServiceError("unreachable", type(exc).__name__) from exc
            if response.status_code == 401 and attempt == 1:
                # Revoked or expired early: one fresh token, then give up.
                _forget_token(self.platform, scopes)
                continue
            return _checked(response)
        raise AssertionError("unreachable")  # pragma: no cover

    def get_page(self, url: str, scopes: list[str], accept: str) -> Page:
        response = self.request("GET", url, scopes, accept)
        try:
            body = response.json()
        except ValueError as exc:
            raise ServiceError("bad_answer", "not JSON", response.status_code) from exc
        links = parse_links(response.headers.get("Link", ""), response.url or url)
        return Page(body, links.get("next"))

    def pages(self, url: str, scopes: list[str], accept: str) -> Iterator[Any]:
        seen: set[str] = set()
        next_url: str | None = url
        origin = urlsplit(url)[:2]
        while next_url and len(seen) < MAX_PAGES:
            if next_url in seen:  # a loop of "next" links
                break
            if urlsplit(next_url)[:2] != origin:
                # The access token goes with every page: never to another host than the
                # service's own, whatever a Link header says.
                raise ServiceError("bad_answer", "next page on another origin")
            seen.add(next_url)
            page = self.get_page(next_url, scopes, accept)
            yield page.body
            next_url = page.next_url

    # --- Assignment and Grade Services ---------------------------------------------------------

    def line_items(self, lineitems_url: str, **filters: str) -> list[dict[str, Any]]:
        """Every line item of the container (all pages), filtered by the platform where it
        supports the filters and here as well (not every platform does)."""
        query = {k: v for k, v in filters.items() if v}
        url = _with_query(lineitems_url, query)
        scopes = [SCOPE_LINEITEM]
        items: list[dict[str, Any]] = []
        for body in self.pages(url, scopes, CONTAINER_TYPE):
            if not isinstance(body, list):
                raise ServiceError("bad_answer", "line item container is not a list")
            items.extend(i for i in body if isinstance(i, dict))
        wanted = {"resource_id": "resourceId", "resource_link_id": "resourceLinkId", "tag": "tag"}
        return [
            item
            for item in items
            if all(item.get(wanted[k]) == v for k, v in query.items() if k in wanted)
        ]

    def create_line_item(self, lineitems_url: str, item: dict[str, Any]) -> dict[str, Any]:
        response = self.request(
            "POST", lineitems_url, [SCOPE_LINEITEM], LINEITEM_TYPE, item, LINEITEM_TYPE
        )
        try:
            created = response.json()
        except ValueError as exc:
            raise ServiceError("bad_answer", "not JSON", response.status_code) from exc
        if not isinstance(created, dict) or not isinstance(created.get("id"), str):
            raise ServiceError("bad_answer", "created line item has no id")
        return created

    def post_score(self, lineitem_url: str, score: dict[str, Any]) -> int:
        """POST a score; the HTTP status (200/201/204, or 409 when the platform already holds
        a score at least this new)."""
        try:
            response = self.request(
                "POST", scores_url(lineitem_url), [SCOPE_SCORE], "application/json", score,
                SCORE_TYPE,
            )  # fmt: skip
        except ServiceError as exc:
            if exc.status == 409:
                return 409
            raise
        return response.status_code

    # --- Names and Role Provisioning Services --------------------------------------------------

    def memberships(self, memberships_url: str) -> Iterator[dict[str, Any]]:
        """Every member of the context, following `next` links over all pages."""
        for body in self.pages(memberships_url, [SCOPE_NRPS], MEMBERSHIP_TYPE):
            members = body.get("members") if isinstance(body, dict) else None
            if not isinstance(members, list):
                raise ServiceError("bad_answer", "membership container without members")
            yield from (m for m in members if isinstance(m, dict))


def _checked(response: requests.Response) -> requests.Response:
    status = response.status_code
    if 200 <= status < 300:
        return response
    detail = f"{status} {response.text[:300]}"
    if status == 429:
        raise ServiceError("rate_limited", detail, status)
    if status >= 500:
        raise ServiceError("platform_error", detail, status)
    if status in (401, 403):
        raise ServiceError("not_allowed", detail, status)
    if status == 404:
        raise ServiceError("not_found", detail, status)
    if status == 409:
        raise ServiceError("conflict", detail, status)
    raise ServiceError("refused", detail, status)


def scores_url(lineitem_url: str) -> str:
    """The scores endpoint: `/scores` appended to the line item's path, its query kept
    (Moodle's line item URLs carry `?type_id=`)."""
    parts = urlsplit(lineitem_url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/scores"))


def _with_query(url: str, params: dict[str, str]) -> str:
    if not params:
        return url
    from urllib.parse import urlencode

    parts = urlsplit(url)
    extra = urlencode(params)
    return urlunsplit(parts._replace(query=f"{parts.query}&{extra}" if parts.query else extra))


def service_claims(body: dict[str, Any]) -> dict[str, Any]:
    """The AGS and NRPS claims of a launch, checked and reduced to what the tool keeps."""
    ags = body.get(AGS_CLAIM)
    nrps = body.get(NRPS_CLAIM)
    ags = ags if isinstance(ags, dict) else {}
    nrps = nrps if isinstance(nrps, dict) else {}

    def url(value: object) -> str | None:
        if (
            isinstance(value, str)
            and value.startswith(("https://", "http://"))
            and len(value) < 1024
        ):
            return value
        return None

    scopes = ags.get("scope")
    return {
        "lineitems_url": url(ags.get("lineitems")),
        "lineitem_url": url(ags.get("lineitem")),
        "ags_scopes": sorted(s for s in scopes if isinstance(s, str))[:10]
        if isinstance(scopes, list)
        else [],
        "memberships_url": url(nrps.get("context_memberships_url")),
    }
