"""The tool's key set: next, current and previous keys published; rotation keeps service going."""

from __future__ import annotations

import re
import uuid
from typing import Any

import jwt
import pytest
import requests
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask

from lti_tool.db import db
from lti_tool.launch import keys
from lti_tool.launch.models import ToolKey
from tests.launch.test_launch import follow_to_start
from tests.lti_platform import INSTRUCTOR, Person, TestPlatform


def _jwks(base: str) -> dict[str, Any]:
    response = requests.get(base + "/lti/jwks", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    return response.json()


def _deep_link_jwt(platform: TestPlatform, sub: str) -> str:
    result = platform.launch(
        Person(sub=sub, roles=[INSTRUCTOR]), message_type="LtiDeepLinkingRequest"
    )
    page = follow_to_start(platform, result.response)
    token = re.search(r'name="launch_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    answer = requests.post(
        platform.tool_base + "/lti/deep-link", data={"launch_token": token, "item": "start"},
        timeout=10,
    )  # fmt: skip
    return re.search(r'name="JWT" value="([^"]+)"', answer.text).group(1)  # type: ignore[union-attr]


def test_jwks_publishes_public_keys_only(live_server: str) -> None:
    keys = _jwks(live_server)["keys"]
    assert len(keys) >= 2  # current and next
    for key in keys:
        assert key["kty"] == "RSA" and key["alg"] == "RS256" and key["use"] == "sig"
        assert key["kid"]
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key), "private parts leaked"


def test_rotation_keeps_tokens_verifiable(platform: TestPlatform, cli: Any) -> None:
    before = {k["kid"] for k in _jwks(platform.tool_base)["keys"]}
    old_jwt = _deep_link_jwt(platform, "rot-1")
    old_kid = jwt.get_unverified_header(old_jwt)["kid"]
    assert old_kid in before

    result = cli("keys", "rotate")
    assert result.exit_code == 0, result.output
    after = {k["kid"] for k in _jwks(platform.tool_base)["keys"]}
    new_jwt = _deep_link_jwt(platform, "rot-2")
    new_kid = jwt.get_unverified_header(new_jwt)["kid"]

    assert new_kid != old_kid
    # The new signing key was published before the rotation (as "next"): platforms that
    # cached our key set already know it.
    assert new_kid in before
    # The previous key stays published, so tokens signed just before still verify.
    assert old_kid in after
    client = jwt.PyJWKClient(platform.tool_base + "/lti/jwks", cache_keys=False)
    for token in (old_jwt, new_jwt):
        key = client.get_signing_key_from_jwt(token)
        jwt.decode(token, key.key, algorithms=["RS256"], audience=platform.issuer)


def test_keys_list_shows_states(cli: Any) -> None:
    result = cli("keys", "list")
    assert result.exit_code == 0
    assert "\tcurrent\t" in result.output
    assert "\tnext\t" in result.output


def _plain_key(prefix: str) -> ToolKey:
    """A retired key stored the way keys were before encryption (plain PEM), committed."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    plain = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()  # fmt: skip
    key = ToolKey(kid=f"{prefix}-{uuid.uuid4().hex[:8]}", status="retired", private_pem=plain,
                  public_jwk={})  # fmt: skip
    db.session.add(key)
    db.session.commit()
    return key


def test_private_keys_are_stored_encrypted_and_old_plain_ones_get_sealed(app_ctx: Flask) -> None:
    keys.ensure_keys()
    db.session.commit()
    stored = db.session.execute(sa.text("SELECT kid, private_pem FROM tool_keys")).all()
    assert stored
    for _, pem in stored:
        assert pem.startswith(keys.ENCRYPTED) and "PRIVATE KEY" not in pem
    # A key stored before encryption (plain PEM) is sealed by the next ensure_keys.
    old = _plain_key("plain")
    plain = old.private_pem
    keys.ensure_keys()
    db.session.commit()
    raw = db.session.execute(
        sa.text("SELECT private_pem FROM tool_keys WHERE kid = :kid"), {"kid": old.kid}
    ).scalar_one()
    assert raw.startswith(keys.ENCRYPTED) and plain not in raw
    assert keys.private_pem(old) == plain


def test_a_changed_secret_key_says_what_to_do_and_renew_makes_new_keys(
    platform: TestPlatform, cli: Any, app: Flask
) -> None:
    settings = app.config["BEELDCOACH"]
    original = settings.secret_key
    with app.app_context():
        before = keys.current_key().kid
    settings.secret_key = original + "-changed"
    try:
        unreadable = pytest.raises(keys.KeyUnreadable, match="beeldcoach keys renew")
        with app.app_context(), unreadable:
            keys.private_pem(keys.current_key())
        # A process with another secret does not seal plain keys with it: that would lock out
        # every process that has the right one.
        with app.app_context():
            plain = _plain_key("wrong-secret")
            keys.ensure_keys()
            db.session.commit()
            assert db.session.get(ToolKey, plain.id).private_pem.startswith(keys.PLAIN)
        listed = cli("keys", "list")
        assert "UNREADABLE" in listed.output and "secret key fingerprint" in listed.output
        # Renewing asks first: on a machine without the shared secret it would retire good keys.
        asked = cli("keys", "renew")
        assert asked.exit_code != 0 and "fingerprint" in asked.output
        with app.app_context():
            assert keys.current_key().kid == before
        result = cli("keys", "renew", "--yes")
        assert result.exit_code == 0, result.output
        assert before in result.output
        # Signing works again, with a new key the platform finds in the published key set.
        token = _deep_link_jwt(platform, "renew-1")
        kid = jwt.get_unverified_header(token)["kid"]
        assert kid != before
        published = {k["kid"] for k in _jwks(platform.tool_base)["keys"]}
        assert kid in published and before not in published
        client = jwt.PyJWKClient(platform.tool_base + "/lti/jwks", cache_keys=False)
        jwt.decode(token, client.get_signing_key_from_jwt(token).key, algorithms=["RS256"],
                   audience=platform.issuer)  # fmt: skip
    finally:
        settings.secret_key = original
        # The tests after this one sign with the original secret again.
        assert cli("keys", "renew", "--yes").exit_code == 0
