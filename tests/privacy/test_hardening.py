"""Hardening: Content-Security-Policy (frame-ancestors = the registered platforms), HSTS, no
state change on a cookie alone (every route in the URL map), rate limits, and no tokens or
personal data in the logs."""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from flask_migrate import upgrade

from lti_tool import _NoQueryStrings, create_app
from lti_tool.db import db
from lti_tool.privacy.audit import EVENTS
from tests.lti_platform import LEARNER, Person, TestPlatform
from tests.privacy.conftest import School

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "lti_tool" / "web" / "templates"


def _csp(response: requests.Response) -> dict[str, list[str]]:
    policy = response.headers["Content-Security-Policy"]
    return {d.split()[0]: d.split()[1:] for d in policy.split("; ")}


# --- Content-Security-Policy ------------------------------------------------------------------


def test_templates_have_no_inline_scripts_handlers_or_style_attributes() -> None:
    problems = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        text = path.read_text(encoding="utf-8")
        for tag in re.findall(r"<script\b[^>]*>", text):
            if "src=" not in tag:
                problems.append(f"{path.name}: inline script {tag}")
        if re.search(r"\son[a-z]+\s*=", text):
            problems.append(f"{path.name}: an inline event handler")
        if re.search(r"\sstyle\s*=", text):
            problems.append(f"{path.name}: a style attribute")
    assert not problems, problems


def test_csp_frame_ancestors_are_the_registered_platforms(
    school: School, make_platform: Any
) -> None:
    answer = school.call("teacher", "GET", "/trajects/")
    csp = _csp(answer)
    assert csp["script-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"]
    assert "'unsafe-inline'" not in csp["style-src"]
    ancestors = csp["frame-ancestors"]
    assert ancestors[0] == "'self'"
    origin = re.match(r"https?://[^/]+", school.platform.issuer)
    assert origin is not None and origin.group(0).lower() in ancestors
    # A platform registered a moment ago may frame the tool at once.
    newcomer = make_platform(issuer=f"https://moodle-{uuid.uuid4().hex[:6]}.example")
    again = _csp(school.call("teacher", "GET", "/trajects/"))["frame-ancestors"]
    assert re.match(r"https://[^/]+", newcomer.issuer).group(0) in again  # type: ignore[union-attr]
    assert "https://evil.example" not in again


def test_every_inline_style_block_is_allowed_by_its_hash(app: Flask, school: School) -> None:
    """The admin, report and POP pages keep <style> blocks (the PDF renderer fetches nothing);
    the policy allows exactly those by hash, so no 'unsafe-inline' is needed."""
    allowed = set(app.extensions["beeldcoach.csp_styles"])
    for path in sorted(TEMPLATES.rglob("*.html")):
        for block in re.findall(r"<style>(.*?)</style>", path.read_text(encoding="utf-8"), re.S):
            digest = base64.b64encode(hashlib.sha256(block.encode()).digest()).decode()
            assert f"'sha256-{digest}'" in allowed, path
    # And on a rendered page: the block the browser sees hashes to an allowed value.
    page = school.call("admin", "GET", "/admin/kijkwijzer")
    assert page.status_code == 200
    blocks = re.findall(r"<style>(.*?)</style>", page.text, re.S)
    assert blocks
    csp = _csp(page)["style-src"]
    for block in blocks:
        digest = base64.b64encode(hashlib.sha256(block.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp


def test_hsts_on_https_only(live_server: str) -> None:
    plain = requests.get(live_server + "/healthz", timeout=10)
    assert "Strict-Transport-Security" not in plain.headers
    proxied = requests.get(
        live_server + "/healthz", headers={"X-Forwarded-Proto": "https"}, timeout=10
    )
    assert proxied.headers["Strict-Transport-Security"].startswith("max-age=31536000")


# --- CSRF: the session cookie never authenticates a change -----------------------------------

# Routes that change state without a launch, each protected otherwise.
EXEMPT = {
    "lti.login": "OIDC login initiation: no session yet; state and nonce are single-use",
    "lti.launch": "the platform's signed id_token with single-use state and nonce",
    "lti.storage_confirm": "authenticated by the secret kept in the platform's storage",
    "demo.deep_link_return": "the demo platform (loopback only), not the tool",
}


def _fill(rule: Any) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in rule.arguments:
        converter = rule._converters[name]  # noqa: SLF001
        if type(converter).__name__ == "IntegerConverter":
            values[name] = 1
        elif type(converter).__name__ == "AnyConverter":
            values[name] = sorted(converter.items)[0]  # type: ignore[attr-defined]
        elif name == "upload_id":
            values[name] = "a" * 32
        else:
            values[name] = "recording"
    return values


def test_no_state_changing_route_accepts_the_session_cookie_alone(
    app: Flask, school: School
) -> None:
    coach = school.people["coach"]
    assert coach.session.cookies, "the coach's browser holds the session cookie"
    # The cookie works for reads (positive control: the test can tell the difference).
    assert coach.session.get(school.base + "/api/me", timeout=10).status_code == 200
    checked = []
    for rule in app.url_map.iter_rules():
        methods = (rule.methods or set()) & {"POST", "PUT", "PATCH", "DELETE"}
        if not methods or rule.endpoint in EXEMPT:
            continue
        with app.test_request_context():
            from flask import url_for

            url = url_for(rule.endpoint, **_fill(rule))
        for method in sorted(methods):
            answer = coach.session.request(
                method, school.base + url, data={"x": "1"}, timeout=10, allow_redirects=False
            )
            # 401: not signed in (the cookie was ignored). 412/415: the tus protocol refuses
            # before anyone is asked who they are.
            assert answer.status_code in (401, 412, 415), (method, url, answer.status_code)
            checked.append((method, rule.rule))
    assert len(checked) > 60
    # With the launch token (the form's hidden field), the same cookie session gets through.
    token = coach.token
    answer = coach.session.post(
        school.base + "/privacy/objections",
        data={"launch_token": token, "pupil_code": "L-99"},
        timeout=10,
        allow_redirects=False,
    )
    assert answer.status_code == 303


def test_every_privacy_form_carries_the_launch_token() -> None:
    for path in sorted((TEMPLATES / "privacy").glob("*.html")):
        text = path.read_text(encoding="utf-8")
        for form in re.findall(r"<form\b.*?</form>", text, re.S):
            if 'method="post"' in form:
                assert 'include "privacy/_token.html"' in form, path.name


# --- rate limits ------------------------------------------------------------------------------


@pytest.fixture
def limited_app(tmp_path: Path) -> Any:
    app = create_app(
        {
            "instance_path": str(tmp_path),
            "database_url": f"sqlite:///{tmp_path / 'rl.db'}",
            "broker_url": os.environ.get("BEELDCOACH_TEST_BROKER_URL", ""),
            "rate_limit_launch": 3,
            "rate_limit_upload": 2,
        }
    )
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
    yield app
    with app.app_context():
        db.engine.dispose()


def test_a_rate_limit_triggers_per_client_address(limited_app: Flask) -> None:
    client = limited_app.test_client()
    tag = uuid.uuid4().hex[:8]
    env = {"REMOTE_ADDR": f"10.{int(tag[:2], 16)}.{int(tag[2:4], 16)}.{int(tag[4:6], 16)}"}
    statuses = [
        client.post("/lti/login", data={"iss": "x"}, environ_base=env).status_code for _ in range(4)
    ]
    assert 429 not in statuses[:3] and statuses[3] == 429
    limited = client.post("/lti/login", data={"iss": "x"}, environ_base=env)
    assert limited.status_code == 429 and 1 <= int(limited.headers["Retry-After"]) <= 60
    assert limited.get_json()["error"] == "rate_limited"
    # Another address is counted on its own; other endpoints are not limited.
    other = {"REMOTE_ADDR": "192.0.2.77"}
    assert client.post("/lti/login", data={"iss": "x"}, environ_base=other).status_code != 429
    assert client.get("/healthz", environ_base=env).status_code == 200
    # Uploads have their own limit (tus creation and every chunk).
    ups = [
        client.post("/api/uploads", environ_base=env, headers={"Tus-Resumable": "1.0.0"})
        for _ in range(3)
    ]
    assert [u.status_code == 429 for u in ups] == [False, False, True]
    assert ups[2].headers["Tus-Resumable"] == "1.0.0"


# --- logs -------------------------------------------------------------------------------------


def test_request_lines_lose_tokens(school: School, caplog: pytest.LogCaptureFixture) -> None:
    record = logging.LogRecord(
        "werkzeug", logging.INFO, __file__, 1, '%s - "%s" %s',
        ("127.0.0.1", "\x1b[35mGET /media/s/eyJ1Ijo.SECRET/web.mp4?x=y HTTP/1.1\x1b[0m", "206"),
        None,
    )  # fmt: skip
    _NoQueryStrings().filter(record)
    assert "SECRET" not in record.getMessage() and "x=y" not in record.getMessage()
    gunicorn = logging.LogRecord(
        "gunicorn.access", logging.INFO, __file__, 1, "%(U)s %(q)s",
        ({"U": "/media/hls/TOKEN123/index.m3u8", "q": "launch=abc"},), None,
    )  # fmt: skip
    _NoQueryStrings().filter(gunicorn)
    assert "TOKEN123" not in gunicorn.getMessage() and "abc" not in gunicorn.getMessage()

    # End to end: a launch of a named person with an e-mail, and a footage listing.
    caplog.set_level(logging.INFO)
    person = Person(sub=f"p-{uuid.uuid4().hex[:6]}", roles=[LEARNER], name="Zeldzame Naam",
                    email="zeldzaam@example.org")  # fmt: skip
    platform: TestPlatform = school.platform
    result = platform.launch(person)
    requests.get(result.response.headers["Location"], timeout=10)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "Zeldzame" not in text and "zeldzaam@example.org" not in text
    assert "id_token" not in text and "launch=" not in text


def test_docs_list_every_audited_event() -> None:
    docs = (ROOT / "docs" / "privacy.md").read_text(encoding="utf-8")
    for event in EVENTS:
        assert f"`{event}`" in docs, event
