"""Launches over real HTTP from a test platform: happy paths per role, and every refusal."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
import requests
import sqlalchemy as sa

from lti_tool.db import db
from lti_tool.launch.models import Launch
from lti_tool.people.models import Course, Membership, User
from tests.lti_platform import (
    INSTITUTION_ADMIN,
    INSTRUCTOR,
    LEARNER,
    SYSTEM_ADMIN,
    TEACHING_ASSISTANT,
    Key,
    Person,
    TestPlatform,
    browser,
)


def refusal(response: requests.Response) -> str | None:
    match = re.search(r'data-refusal="([a-z_]+)"', response.text)
    return match.group(1) if match else None


def follow_to_start(platform: TestPlatform, response: requests.Response) -> requests.Response:
    assert response.status_code == 303, (response.status_code, response.text[:400])
    location = response.headers["Location"]
    assert location.startswith(platform.tool_base + "/start?launch=")
    return browser().get(location, timeout=10)


@pytest.mark.parametrize(
    ("roles", "expected", "label"),
    [
        ([INSTRUCTOR], ["coach"], "beeldbegeleider"),
        ([TEACHING_ASSISTANT], ["coach"], "beeldbegeleider"),
        ([LEARNER], ["teacher"], "leerkracht"),
        ([INSTITUTION_ADMIN, SYSTEM_ADMIN], ["admin"], "beheerder"),
        ([INSTRUCTOR, INSTITUTION_ADMIN], ["admin", "coach"], "beeldbegeleider"),
    ],
)
def test_launch_signs_in_each_role(
    platform: TestPlatform, app_ctx: Any, roles: list[str], expected: list[str], label: str
) -> None:
    person = Person(sub="u-" + platform.client_id, roles=roles, name="Anna de Boer")
    result = platform.launch(person)
    start = follow_to_start(platform, result.response)
    assert start.status_code == 200
    assert "Anna de Boer" in start.text
    assert re.search(r'data-testid="role">\s*' + label, start.text, re.I), start.text[:2000]
    user = db.session.scalar(
        sa.select(User).where(User.issuer == platform.issuer, User.sub == person.sub)
    )
    assert user is not None and user.name == "Anna de Boer"
    membership = db.session.scalar(sa.select(Membership).where(Membership.user_id == user.id))
    assert membership is not None and membership.roles == expected


def test_launch_without_name_or_email(platform: TestPlatform, app_ctx: Any) -> None:
    person = Person(sub="anonymous-42", roles=[LEARNER])
    start = follow_to_start(platform, platform.launch(person).response)
    assert start.status_code == 200
    user = db.session.scalar(sa.select(User).where(User.issuer == platform.issuer))
    assert user is not None and user.name is None and user.email is None


def test_login_by_get_works_too(platform: TestPlatform) -> None:
    person = Person(sub="get-user", roles=[LEARNER])
    response = platform.login(browser(), person, method="GET")
    params = platform.auth_params(response)
    assert params["login_hint"] == "get-user"
    assert "lti_message_hint" in params


def test_state_cookie_is_fit_for_an_iframe(platform: TestPlatform) -> None:
    response = platform.login(browser(), Person(sub="c", roles=[LEARNER]))
    cookie = response.headers["Set-Cookie"]
    for attribute in ("Secure", "HttpOnly", "SameSite=None", "Partitioned"):
        assert attribute in cookie, cookie


def test_api_works_without_cookies_after_launch(platform: TestPlatform) -> None:
    result = platform.launch(Person(sub="api-user", roles=[INSTRUCTOR], name="Coach Kim"))
    start = follow_to_start(platform, result.response)
    token = re.search(r'data-api-token="([^"]+)"', start.text).group(1)  # type: ignore[union-attr]
    fresh = requests.Session()  # no cookies at all
    me = fresh.get(
        platform.tool_base + "/api/me", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert me.status_code == 200
    assert me.json()["user"]["name"] == "Coach Kim"
    assert me.json()["roles"] == ["coach"]
    anonymous = fresh.get(platform.tool_base + "/api/me", timeout=10)
    assert anonymous.status_code == 401
    assert anonymous.json()["error"] == "not_authenticated"
    forged = fresh.get(
        platform.tool_base + "/api/me", headers={"Authorization": "Bearer x" + token}, timeout=10
    )
    assert forged.status_code == 401


def test_start_token_cannot_be_forged(live_server: str) -> None:
    response = browser().get(live_server + "/start?launch=forged", timeout=10)
    assert response.status_code == 401
    assert refusal(response) == "session_expired"


# --- refusals ---------------------------------------------------------------------------------


def _expired(body: dict[str, Any]) -> None:
    body["iat"] = int(time.time()) - 600
    body["exp"] = int(time.time()) - 120


def _future(body: dict[str, Any]) -> None:
    body["iat"] = int(time.time()) + 300
    body["exp"] = int(time.time()) + 360


def _wrong_audience(body: dict[str, Any]) -> None:
    body["aud"] = "another-tool"


def _unknown_deployment(body: dict[str, Any]) -> None:
    body["https://purl.imsglobal.org/spec/lti/claim/deployment_id"] = "nope"


def _no_message_type(body: dict[str, Any]) -> None:
    del body["https://purl.imsglobal.org/spec/lti/claim/message_type"]


def _no_roles_claim_version(body: dict[str, Any]) -> None:
    del body["https://purl.imsglobal.org/spec/lti/claim/version"]


@pytest.mark.parametrize(
    ("mutate", "status", "code"),
    [
        (_expired, 401, "expired"),
        (_future, 401, "not_yet_valid"),
        (_wrong_audience, 401, "wrong_audience"),
        (_unknown_deployment, 403, "unknown_deployment"),
        (_no_message_type, 400, "invalid_message"),
        (_no_roles_claim_version, 400, "invalid_message"),
    ],
)
def test_bad_claims_are_refused_with_a_page(
    platform: TestPlatform, mutate: Any, status: int, code: str
) -> None:
    result = platform.launch(Person(sub="x", roles=[LEARNER]), mutate=mutate)
    assert result.status == status, result.response.text[:300]
    assert refusal(result.response) == code
    assert "<h1>" in result.response.text


def test_clock_skew_within_leeway_is_accepted(platform: TestPlatform) -> None:
    def skew(body: dict[str, Any]) -> None:
        body["iat"] = int(time.time()) + 30  # platform clock 30 s ahead
        body["exp"] = int(time.time()) + 90

    assert platform.launch(Person(sub="s", roles=[LEARNER]), mutate=skew).status == 303

    def late(body: dict[str, Any]) -> None:
        body["iat"] = int(time.time()) - 100
        body["exp"] = int(time.time()) - 40  # expired 40 s ago: still within 60 s leeway

    assert platform.launch(Person(sub="s", roles=[LEARNER]), mutate=late).status == 303


def test_bad_signature_is_refused(platform: TestPlatform) -> None:
    impostor = Key()
    # Signed by another key but claiming the platform's kid.
    result = platform.launch(
        Person(sub="x", roles=[LEARNER]), key=impostor, kid=platform.signing_key.kid
    )
    assert result.status == 401
    assert refusal(result.response) == "bad_signature"


def test_tampered_payload_is_refused(platform: TestPlatform) -> None:
    person = Person(sub="x", roles=[LEARNER])
    session = browser()
    params = platform.auth_params(platform.login(session, person))
    token = platform.sign(platform.claims(person, params["nonce"]))
    head, payload, signature = token.split(".")
    other = platform.sign(platform.claims(Person(sub="admin", roles=[SYSTEM_ADMIN]), "n"))
    forged = ".".join([head, other.split(".")[1], signature])
    response = session.post(
        platform.tool_base + "/lti/launch",
        data={"id_token": forged, "state": params["state"]},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 401
    assert refusal(response) == "bad_signature"


def test_malformed_token_is_refused(platform: TestPlatform) -> None:
    result = platform.launch(Person(sub="x", roles=[LEARNER]), token="not.a-jwt")
    assert result.status == 400
    assert refusal(result.response) == "invalid_token"


def test_replayed_launch_is_refused(platform: TestPlatform) -> None:
    result = platform.launch(Person(sub="r", roles=[LEARNER]))
    assert result.status == 303
    again = platform.replay(result)
    assert again.status_code == 403
    assert refusal(again) == "replayed"


def test_old_token_with_a_fresh_state_is_refused(platform: TestPlatform) -> None:
    """An attacker with a used id_token starts a new login to get a fresh state."""
    person = Person(sub="r2", roles=[LEARNER])
    first = platform.launch(person)
    assert first.status == 303
    session = browser()
    params = platform.auth_params(platform.login(session, person))
    response = session.post(
        platform.tool_base + "/lti/launch",
        data={"id_token": first.id_token, "state": params["state"]},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 403
    assert refusal(response) == "replayed"


def test_forged_signature_does_not_burn_the_state(platform: TestPlatform) -> None:
    """The signature is checked before the state is consumed."""
    person = Person(sub="burn", roles=[LEARNER])
    session = browser()
    params = platform.auth_params(platform.login(session, person))
    body = platform.claims(person, params["nonce"])
    bad = platform.sign(body, key=Key(), kid=platform.signing_key.kid)
    url = platform.tool_base + "/lti/launch"
    first = session.post(url, data={"id_token": bad, "state": params["state"]}, timeout=10,
                         allow_redirects=False)  # fmt: skip
    assert first.status_code == 401
    good = session.post(
        url,
        data={"id_token": platform.sign(body), "state": params["state"]},
        allow_redirects=False,
        timeout=10,
    )
    assert good.status_code == 303


@pytest.mark.parametrize("state", ["", "state-unknown"])
def test_missing_or_unknown_state_is_refused(platform: TestPlatform, state: str) -> None:
    person = Person(sub="m", roles=[LEARNER])
    token = platform.sign(platform.claims(person, "some-nonce"))
    response = browser().post(
        platform.tool_base + "/lti/launch",
        data={"id_token": token, "state": state},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 400
    assert refusal(response) == "missing_state"


def test_missing_id_token_is_refused(platform: TestPlatform) -> None:
    session = browser()
    params = platform.auth_params(platform.login(session, Person(sub="m", roles=[LEARNER])))
    response = session.post(
        platform.tool_base + "/lti/launch", data={"state": params["state"]}, timeout=10
    )
    assert response.status_code == 400
    assert refusal(response) == "invalid_token"


def test_blocked_cookies_are_refused_with_a_new_window_link(platform: TestPlatform) -> None:
    result = platform.launch(Person(sub="nc", roles=[LEARNER]), send_cookies=False)
    assert result.status == 403
    assert refusal(result.response) == "cookies_blocked"
    link = re.search(r'href="([^"]+)"[^>]*target="_blank"', result.response.text)
    assert link is not None
    # The new window restarts the login with the platform's original parameters.
    href = link.group(1).replace("&amp;", "&")
    restart = browser().get(href, allow_redirects=False, timeout=10)
    assert platform.auth_params(restart)["login_hint"] == "nc"


def test_unknown_platform_is_refused_at_login(live_server: str) -> None:
    stranger = TestPlatform(tool_base=live_server)
    try:
        response = stranger.login(browser(), Person(sub="s", roles=[LEARNER]))
        assert response.status_code == 403
        assert refusal(response) == "unknown_platform"
    finally:
        stranger.close()


def test_unknown_deployment_is_refused_at_login(platform: TestPlatform) -> None:
    response = platform.login(browser(), Person(sub="s", roles=[LEARNER]), deployment_id="zz")
    assert response.status_code == 403
    assert refusal(response) == "unknown_deployment"


def test_login_without_issuer_is_refused(live_server: str) -> None:
    response = browser().post(live_server + "/lti/login", data={"login_hint": "x"}, timeout=10)
    assert response.status_code == 400
    assert refusal(response) == "invalid_login"


def test_refusal_pages_speak_dutch_by_default_and_english_on_request(
    platform: TestPlatform,
) -> None:
    result = platform.launch(Person(sub="r", roles=[LEARNER]))
    dutch = platform.replay(result)
    assert dutch.status_code == 403
    assert 'lang="nl"' in dutch.text
    assert "already used" not in dutch.text
    page = browser().post(
        platform.tool_base + "/lti/launch?lang=en",
        data={"id_token": "x.y.z", "state": ""},
        timeout=10,
    )
    assert 'lang="en"' in page.text
    assert "The launch message is not valid" in page.text


def test_refused_launch_never_logs_the_token(
    platform: TestPlatform, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    result = platform.launch(Person(sub="log", roles=[LEARNER]), mutate=_expired)
    assert result.status == 401
    assert caplog.records, "the refusal should be logged"
    for record in caplog.records:
        assert result.id_token not in record.getMessage()
        assert result.id_token.split(".")[1] not in record.getMessage()


# --- keys -------------------------------------------------------------------------------------


def test_platform_keys_are_cached(platform: TestPlatform) -> None:
    before = platform.jwks_requests
    for sub in ("k1", "k2", "k3"):
        assert platform.launch(Person(sub=sub, roles=[LEARNER])).status == 303
    assert platform.jwks_requests - before == 1


def test_platform_key_rotation_triggers_one_refetch(platform: TestPlatform) -> None:
    assert platform.launch(Person(sub="k", roles=[LEARNER])).status == 303
    fetched = platform.jwks_requests
    platform.rotate_key(keep_old=False)
    time.sleep(1.1)  # the refetch is rate limited per platform (test config: 1 s)
    assert platform.launch(Person(sub="k", roles=[LEARNER])).status == 303
    assert platform.jwks_requests == fetched + 1


def test_unknown_kid_refetch_is_rate_limited(platform: TestPlatform) -> None:
    assert platform.launch(Person(sub="k", roles=[LEARNER])).status == 303
    fetched = platform.jwks_requests
    time.sleep(1.1)
    stray = Key()  # never published
    for _ in range(3):
        result = platform.launch(Person(sub="k", roles=[LEARNER]), key=stray)
        assert result.status == 401
        assert refusal(result.response) == "unknown_key"
    assert platform.jwks_requests == fetched + 1


def test_unreachable_key_set_is_a_clear_error_not_a_500(make_platform: Any, cli: Any) -> None:
    platform = make_platform()
    platform.close()  # the platform's server is gone: its JWKS cannot be fetched
    session = browser()
    person = Person(sub="u", roles=[LEARNER])
    params = platform.auth_params(platform.login(session, person))
    response = session.post(
        platform.tool_base + "/lti/launch",
        data={"id_token": platform.sign(platform.claims(person, params["nonce"])),
              "state": params["state"]},
        allow_redirects=False,
        timeout=30,
    )  # fmt: skip
    assert response.status_code == 502
    assert refusal(response) == "keys_unavailable"


# --- registrations -------------------------------------------------------------------------


def test_deployments_of_one_issuer_are_kept_apart(make_platform: Any, app_ctx: Any) -> None:
    platform = make_platform(deployment_ids=["dep-a", "dep-b"])
    person = Person(sub="same-person", roles=[LEARNER])
    assert platform.launch(person, deployment_id="dep-a", context_id="c1").status == 303
    assert platform.launch(person, deployment_id="dep-b", context_id="c1").status == 303
    courses = db.session.scalars(
        sa.select(Course).where(Course.context_id == "c1", Course.title == "Groep 5")
    ).all()
    mine = [c for c in courses if c.platform_id == courses[0].platform_id]
    assert len({c.deployment_pk for c in mine}) == 2
    users = db.session.scalars(sa.select(User).where(User.sub == "same-person")).all()
    assert len([u for u in users if u.issuer == platform.issuer]) == 1


def test_one_issuer_with_several_client_ids(make_platform: Any, app_ctx: Any) -> None:
    first = make_platform()
    second = make_platform(issuer=first.issuer, keys=first.keys)
    for plat in (first, second):
        result = plat.launch(Person(sub="canvas-user", roles=[INSTRUCTOR]))
        assert result.status == 303, result.response.text[:300]
    launches = db.session.scalars(
        sa.select(Launch).join(Launch.platform).where(Launch.platform.has(issuer=first.issuer))
    ).all()
    assert {launch.platform.client_id for launch in launches} == {
        first.client_id,
        second.client_id,
    }
    # Without client_id in the login, an issuer with two registrations is ambiguous.
    ambiguous = first.login(browser(), Person(sub="x", roles=[LEARNER]), send_client_id=False)
    assert ambiguous.status_code == 403
    assert refusal(ambiguous) == "unknown_platform"
