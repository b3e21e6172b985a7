"""The tool's signing keys: generation, rotation and the published key set (JWKS).

pylti1p3 publishes one key only. We keep three states in the JWKS at once: the *next* key
(published ahead so platforms that cache our JWKS already know it), the *current* signing key,
and *previous* keys for `key_overlap_days` after a rotation (tokens signed just before a rotation
still verify).
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwcrypto.jwk import JWK

from lti_tool.db import db, utcnow
from lti_tool.launch.models import ToolKey


def _new_key(status: str) -> ToolKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    jwk = JWK.from_pem(pem.encode())
    kid = jwk.thumbprint()
    public = json.loads(jwk.export_public())
    public.update({"kid": kid, "alg": "RS256", "use": "sig"})
    now = utcnow()
    return ToolKey(
        kid=kid,
        status=status,
        private_pem=pem,
        public_jwk=public,
        activated_at=now if status == "current" else None,
    )


def _latest(status: str) -> sa.Select[Any]:
    return sa.select(ToolKey).filter_by(status=status).order_by(ToolKey.id.desc()).limit(1)


def ensure_keys() -> ToolKey:
    """Make sure a current and a next key exist; return the current one (flushes, no commit)."""
    current = db.session.scalar(_latest("current"))
    if current is None:
        current = _new_key("current")
        db.session.add(current)
    if db.session.scalar(_latest("next")) is None:
        db.session.add(_new_key("next"))
    db.session.flush()
    return current


def current_key() -> ToolKey:
    key = db.session.scalar(_latest("current"))
    return key if key is not None else ensure_keys()


def rotate_keys(overlap_days: int) -> ToolKey:
    """next -> current -> previous; old previous keys past the overlap are retired."""
    ensure_keys()
    now = utcnow()
    for key in db.session.scalars(sa.select(ToolKey).filter_by(status="previous")):
        if key.retired_at and key.retired_at < now - timedelta(days=overlap_days):
            key.status = "retired"
    current = db.session.scalar(_latest("current"))
    nxt = db.session.scalar(_latest("next"))
    assert current is not None and nxt is not None
    current.status = "previous"
    current.retired_at = now
    db.session.flush()
    nxt.status = "current"
    nxt.activated_at = now
    db.session.add(_new_key("next"))
    db.session.flush()
    return nxt


def public_jwks(overlap_days: int) -> dict[str, Any]:
    """The key set published at /lti/jwks: next, current and recent previous keys."""
    ensure_keys()
    cutoff = utcnow() - timedelta(days=overlap_days)
    keys = db.session.scalars(
        sa.select(ToolKey)
        .where(ToolKey.status.in_(("next", "current", "previous")))
        .order_by(ToolKey.id)
    ).all()
    published = [
        k.public_jwk
        for k in keys
        if k.status != "previous" or (k.retired_at is not None and k.retired_at >= cutoff)
    ]
    return {"keys": published}
