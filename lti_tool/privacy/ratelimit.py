"""Rate limits on the launch and upload endpoints: fixed one-minute windows per client address.

Counted in Redis when the broker is Redis (one INCR per request), else in the database (one
upsert on a separate short connection): every web process and machine shares the count, in
the embedded default as in production, with no new dependency and no extra server. Over the
limit: 429 with Retry-After. Limits are settings (0 turns one off); the defaults are generous
because a school behind one NAT address launches together at the start of the day.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Flask, Response, current_app, jsonify, request
from flask_babel import gettext as _

from lti_tool.db import db
from lti_tool.privacy.models import RateLimitHit

# endpoint -> the setting that limits it
LIMITED = {
    "lti.login": "rate_limit_launch",
    "lti.launch": "rate_limit_launch",
    "media.tus_create": "rate_limit_upload",
    "media.tus_upload": "rate_limit_upload",
}
_SCOPE = {"rate_limit_launch": "launch", "rate_limit_upload": "upload"}


def _backend(settings: Any) -> str:
    chosen = settings.rate_limit_storage
    if chosen:
        return str(chosen)
    return "redis" if settings.broker_url.startswith(("redis://", "rediss://")) else "database"


def _redis_count(app: Flask, key: str) -> int:
    client = app.extensions.get("beeldcoach.ratelimit.redis")
    if client is None:
        import redis

        client = redis.Redis.from_url(app.config["BEELDCOACH"].broker_url)
        app.extensions["beeldcoach.ratelimit.redis"] = client
    pipe = client.pipeline()
    pipe.incr(key)
    pipe.expire(key, 120)
    count, _ = pipe.execute()
    return int(count)


def _database_count(key: str, window: int) -> int:
    """An atomic upsert on its own connection: the request's session stays untouched."""
    dialect = db.engine.dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    statement = (
        insert(RateLimitHit)
        .values(key=key, window=window, count=1)
        .on_conflict_do_update(
            index_elements=[RateLimitHit.key], set_={"count": RateLimitHit.count + 1}
        )
        .returning(RateLimitHit.count)
    )
    with db.engine.begin() as conn:
        return int(conn.execute(statement).scalar_one())


def hit(scope: str, client: str, limit: int) -> tuple[bool, int]:
    """Count one request; (allowed, seconds until the window ends)."""
    now = time.time()
    window = int(now // 60)
    key = f"bc:rl:{scope}:{client}:{window}"[:160]
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    settings = app.config["BEELDCOACH"]
    if _backend(settings) == "redis":
        count = _redis_count(app, key)
    else:
        count = _database_count(key, window)
    return count <= limit, max(1, 60 - int(now % 60))


def init_rate_limits(app: Flask) -> None:
    @app.before_request
    def rate_limit() -> Response | None:
        setting = LIMITED.get(request.endpoint or "")
        if setting is None or request.method == "OPTIONS":
            return None
        limit = int(getattr(current_app.config["BEELDCOACH"], setting))
        if limit <= 0:
            return None
        allowed, retry = hit(_SCOPE[setting], request.remote_addr or "-", limit)
        if allowed:
            return None
        response = jsonify(
            error="rate_limited", message=_("Too many requests. Try again in a minute.")
        )
        response.status_code = 429
        response.headers["Retry-After"] = str(retry)
        response.headers["Cache-Control"] = "no-store"
        return response


__all__ = ["LIMITED", "hit", "init_rate_limits"]
