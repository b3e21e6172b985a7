"""Malformed input to the LTI endpoints gets a 4xx page, never a 500."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.launch.test_launch import refusal
from tests.lti_platform import LEARNER, Person, TestPlatform, browser


def _b64(data: Any) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


GARBAGE_TOKENS = [
    "",
    "a",
    "a.b",
    "a.b.c.d",
    "...",
    _b64(b"\xff\xfe") + "." + _b64({}) + ".sig",
    _b64([1, 2]) + "." + _b64({}) + ".sig",  # header is not an object
    _b64({"alg": "RS256", "kid": "k"}) + "." + _b64([1]) + ".sig",  # body is not an object
    _b64({"alg": "none"}) + "." + _b64({"iss": "x"}) + ".",
    _b64({"alg": "HS256", "kid": 5}) + "." + _b64({"iss": 5, "aud": {"a": 1}}) + ".c2ln",
    _b64({"alg": "RS256", "kid": "k"}) + "." + _b64({"iss": None, "aud": None}) + ".c2ln",
    "x" * 20000,
    _b64({"alg": "RS256", "kid": "k"}) + "." + _b64({"iss": "a\u0000b", "aud": "c"}) + ".c2ln",
]


def test_nul_in_the_issuer_of_an_otherwise_fitting_token(platform: TestPlatform) -> None:
    session = browser()
    person = Person(sub="nul", roles=[LEARNER])
    params = platform.auth_params(platform.login(session, person))
    body = platform.claims(person, params["nonce"])
    body["iss"] = platform.issuer + "\u0000"
    response = session.post(
        platform.tool_base + "/lti/launch",
        data={"id_token": platform.sign(body), "state": params["state"]},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 400
    assert refusal(response) == "invalid_token"


@pytest.mark.parametrize("token", GARBAGE_TOKENS)
def test_garbage_token_with_a_real_state(platform: TestPlatform, token: str) -> None:
    session = browser()
    params = platform.auth_params(platform.login(session, Person(sub="g", roles=[LEARNER])))
    response = session.post(
        platform.tool_base + "/lti/launch",
        data={"id_token": token, "state": params["state"]},
        allow_redirects=False,
        timeout=10,
    )
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    assert refusal(response)


@pytest.mark.parametrize("token", GARBAGE_TOKENS[:6])
def test_garbage_token_without_state(live_server: str, token: str) -> None:
    response = browser().post(
        live_server + "/lti/launch", data={"id_token": token, "state": "s"}, timeout=10
    )
    assert 400 <= response.status_code < 500
    assert refusal(response)


@pytest.mark.parametrize(
    "form",
    [
        {},
        {"iss": ""},
        {"iss": "https://x", "login_hint": ""},
        {"iss": "https://unknown.example", "login_hint": "1", "client_id": "c"},
        {"iss": "\x00", "login_hint": "\x00"},
        {"iss": "https://x" * 500, "login_hint": "1"},
    ],
)
def test_garbage_login(live_server: str, form: dict[str, str]) -> None:
    response = browser().post(live_server + "/lti/login", data=form, timeout=10)
    assert 400 <= response.status_code < 500, response.status_code
    assert refusal(response)


def test_launch_with_a_get_is_refused(live_server: str) -> None:
    assert browser().get(live_server + "/lti/launch", timeout=10).status_code == 405
