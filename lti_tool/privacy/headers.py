"""Security headers: Content-Security-Policy (frame-ancestors: the registered platforms), HSTS.

- Scripts only from the tool's own files (`script-src 'self'`): no template has an inline
  script or event handler (a test walks them).
- Styles from beeldcoach.css plus the few `<style>` blocks the report, POP and admin pages keep
  inline so that the PDF renderer fetches nothing: those are allowed by their SHA-256 hashes,
  computed from the templates at start-up (they hold no template expressions; a test checks
  every block's hash is in the policy). No `style=` attributes anywhere, so no 'unsafe-inline'.
- Media, stills and thumbnails come from the tool, or from object storage after a redirect:
  the storage's origin is added to img-src, media-src and connect-src.
- frame-ancestors: 'self' and the origins of every registered platform (issuer, login URL),
  cached for a minute and dropped on any change to a registration; with the demo platform on,
  its loopback origin too (it embeds the tool cross-site on purpose).
"""

from __future__ import annotations

import base64
import hashlib
import re
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Flask, Response, current_app, request

from lti_tool.db import db

_STYLE_BLOCK = re.compile(r"<style>(.*?)</style>", re.DOTALL)
_CACHE_SECONDS = 60
_lock = threading.Lock()
# Bumped on any change to a registration in this process: every app's cache is then stale.
_generation = [0]


def style_hashes(template_root: Path) -> list[str]:
    """CSP source expressions for every static <style> block in the templates."""
    found = []
    for path in sorted(template_root.rglob("*.html")):
        for block in _STYLE_BLOCK.findall(path.read_text(encoding="utf-8")):
            digest = base64.b64encode(hashlib.sha256(block.encode("utf-8")).digest()).decode()
            found.append(f"'sha256-{digest}'")
    return sorted(set(found))


def origin(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    # Only characters a CSP source may hold: a registration cannot inject directives.
    host = parts.netloc.rsplit("@", 1)[-1]
    if not re.fullmatch(r"[A-Za-z0-9.\-\[\]:]+", host):
        return None
    return f"{parts.scheme}://{host}".lower()


def forget_platform_origins(*_: Any) -> None:
    _generation[0] += 1


def platform_origins() -> tuple[str, ...]:
    """The registered platforms' origins, cached per app for a minute (or until a change)."""
    cache: dict[str, Any] = current_app.extensions.setdefault(
        "beeldcoach.csp_origins", {"at": 0.0, "generation": -1, "value": ()}
    )
    now = time.monotonic()
    if now - cache["at"] < _CACHE_SECONDS and cache["generation"] == _generation[0]:
        return tuple(cache["value"])
    from lti_tool.launch.models import Platform

    with _lock:
        generation = _generation[0]
        try:
            rows = db.session.execute(sa.select(Platform.issuer, Platform.auth_login_url)).all()
        except sa.exc.SQLAlchemyError:
            db.session.rollback()
            return tuple(cache["value"])
        found = tuple(sorted({o for row in rows for o in (origin(row[0]), origin(row[1])) if o}))
        cache.update(at=now, generation=generation, value=found)
    return found


def _demo_origins() -> list[str]:
    """The demo serves its platform on the other loopback name of the same port."""
    parts = urlsplit(request.host_url)
    host = parts.hostname or ""
    other = {"localhost": "127.0.0.1", "127.0.0.1": "localhost"}.get(host)
    if other is None:
        return []
    port = f":{parts.port}" if parts.port else ""
    return [f"{parts.scheme}://{other}{port}"]


def _storage_origins() -> list[str]:
    settings = current_app.config["BEELDCOACH"]
    if settings.storage != "s3":
        return []
    if settings.s3_endpoint_url:
        found = origin(settings.s3_endpoint_url)
        return [found] if found else []
    return ["https://s3.amazonaws.com", f"https://s3.{settings.s3_region}.amazonaws.com"]


def content_security_policy(styles: list[str]) -> str:
    settings = current_app.config["BEELDCOACH"]
    ancestors = ["'self'", *platform_origins()]
    frames = ["'self'"]
    if settings.demo_enabled:
        demo = _demo_origins()
        ancestors += demo
        frames += demo
    storage = _storage_origins()
    directives = [
        "default-src 'self'",
        "script-src 'self'",
        "style-src " + " ".join(["'self'", *styles]),
        "img-src " + " ".join(["'self'", "data:", "blob:", *storage]),
        "media-src " + " ".join(["'self'", "blob:", *storage]),
        "connect-src " + " ".join(["'self'", *storage]),
        "worker-src 'self' blob:",
        "frame-src " + " ".join(dict.fromkeys(frames)),
        "object-src 'none'",
        "base-uri 'self'",
        "frame-ancestors " + " ".join(dict.fromkeys(ancestors)),
    ]
    return "; ".join(directives)


def init_security_headers(app: Flask) -> None:
    styles = style_hashes(Path(__file__).resolve().parent.parent / "web" / "templates")
    app.extensions["beeldcoach.csp_styles"] = styles
    from lti_tool.launch.models import Platform

    for event in ("after_insert", "after_update", "after_delete"):
        if not sa.event.contains(Platform, event, forget_platform_origins):
            sa.event.listen(Platform, event, forget_platform_origins)

    @app.after_request
    def security_headers(response: Response) -> Response:
        # Launch and start links carry one-time tokens: never leak them to other sites.
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Content-Security-Policy", content_security_policy(styles))
        settings = current_app.config["BEELDCOACH"]
        if request.is_secure and settings.hsts_max_age > 0:
            response.headers.setdefault(
                "Strict-Transport-Security", f"max-age={settings.hsts_max_age}; includeSubDomains"
            )
        return response
