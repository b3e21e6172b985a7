"""The tool's signing keys: generation, rotation and the published key set (JWKS).

pylti1p3 publishes one key only. We keep three states in the JWKS at once: the *next* key
(published ahead so platforms that cache our JWKS already know it), the *current* signing key,
and *previous* keys for `key_overlap_days` after a rotation (tokens signed just before a rotation
still verify).

Private keys are stored encrypted (Fernet, with a key derived from BEELDCOACH_SECRET_KEY): a
copy of the database alone cannot sign as the tool. Rows from before encryption are encrypted
by the next `ensure_keys`. Lose or change the secret key and the stored keys cannot be read:
restore the secret, or `beeldcoach keys renew` retires them and makes new ones (platforms fetch
them from /lti/jwks by kid).
"""

from __future__ import annotations

import base64
import json
import logging
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from jwcrypto.jwk import JWK

from lti_tool.db import db, utcnow
from lti_tool.launch.models import ToolKey

log = logging.getLogger(__name__)

ENCRYPTED = "fernet:"
PLAIN = "-----BEGIN"


class KeyUnreadable(RuntimeError):
    """A stored private key cannot be decrypted with this secret key."""

    def __init__(self, kid: str) -> None:
        super().__init__(
            f"the tool's signing key {kid} was encrypted with another BEELDCOACH_SECRET_KEY: "
            "restore that secret key, or run `beeldcoach keys renew` to make new keys"
        )
        self.kid = kid


def _derived(purpose: bytes) -> bytes:
    secret = current_app.config["BEELDCOACH"].secret_key.encode()
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(secret)


def _fernet() -> Fernet:
    return Fernet(base64.urlsafe_b64encode(_derived(b"beeldcoach tool signing keys")))


def _seal(pem: str) -> str:
    return ENCRYPTED + _fernet().encrypt(pem.encode()).decode("ascii")


def private_pem(key: ToolKey) -> str:
    """The key's private PEM, for signing. KeyUnreadable when the secret key changed."""
    stored = key.private_pem
    if not stored.startswith(ENCRYPTED):
        return stored  # not yet encrypted (made before encryption); ensure_keys seals it
    try:
        return _fernet().decrypt(stored[len(ENCRYPTED) :].encode("ascii")).decode()
    except InvalidToken as exc:
        raise KeyUnreadable(key.kid) from exc


def readable(key: ToolKey) -> bool:
    try:
        private_pem(key)
    except KeyUnreadable:
        return False
    return True


def _seal_plain_keys() -> None:
    """Encrypt keys stored before encryption, but never with a secret that differs from the
    one the keys already sealed were made with (a process started without the shared
    BEELDCOACH_SECRET_KEY would lock every other process out)."""
    plain = list(
        db.session.scalars(sa.select(ToolKey).where(ToolKey.private_pem.startswith(PLAIN)))
    )
    if not plain:
        return
    sealed = db.session.scalar(
        sa.select(ToolKey).where(ToolKey.private_pem.startswith(ENCRYPTED)).limit(1)
    )
    if sealed is not None and not readable(sealed):
        log.error(
            "not encrypting the tool's plain signing keys: this process's secret key differs "
            "from the one the other keys were encrypted with (check BEELDCOACH_SECRET_KEY)"
        )
        return
    for key in plain:
        key.private_pem = _seal(key.private_pem)


def secret_fingerprint() -> str:
    """Eight hex digits that tell whether two machines share the secret key (for operators;
    reveals nothing of it)."""
    return _derived(b"beeldcoach secret fingerprint").hex()[:8]


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
        private_pem=_seal(pem),
        public_jwk=public,
        activated_at=now if status == "current" else None,
    )


def _latest(status: str) -> sa.Select[Any]:
    return sa.select(ToolKey).filter_by(status=status).order_by(ToolKey.id.desc()).limit(1)


def ensure_keys() -> ToolKey:
    """Make sure a current and a next key exist, all stored encrypted; return the current one
    (flushes, no commit)."""
    _seal_plain_keys()
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


def renew_keys() -> list[str]:
    """Retire every key whose private part this secret key cannot read, and make new ones
    where needed (after a lost or changed secret key). Returns the retired kids."""
    retired = []
    now = utcnow()
    for key in db.session.scalars(
        sa.select(ToolKey).where(ToolKey.status.in_(("next", "current", "previous")))
    ):
        if not readable(key):
            key.status = "retired"
            key.retired_at = key.retired_at or now
            retired.append(key.kid)
    db.session.flush()
    ensure_keys()
    return retired


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
