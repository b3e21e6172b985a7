"""The tool's key set: next, current and previous keys published; rotation keeps service going."""

from __future__ import annotations

import re
from typing import Any

import jwt
import requests

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
