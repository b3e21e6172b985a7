"""Claim checks beyond the basics, races, one-time links, CSRF, Platform Storage and roles."""

from __future__ import annotations

import re
import threading
import time
from http.cookies import SimpleCookie
from typing import Any

import jwt
import pytest
import requests
import sqlalchemy as sa

from lti_tool.db import db
from lti_tool.launch.claims import map_roles
from lti_tool.people.models import Course, User
from tests.launch.test_launch import refusal
from tests.lti_platform import (
    CLAIM,
    INSTITUTION_ADMIN,
    INSTRUCTOR,
    LEARNER,
    Person,
    TestPlatform,
    browser,
)

# --- claims -----------------------------------------------------------------------------------


def _aud_list_with_azp(body: dict[str, Any]) -> None:
    body["azp"] = body["aud"]
    body["aud"] = [body["aud"], "another-audience"]


def _aud_list_without_azp(body: dict[str, Any]) -> None:
    body["aud"] = [body["aud"], "another-audience"]


def _azp_other(body: dict[str, Any]) -> None:
    body["azp"] = "someone-else"


def _nbf_future(body: dict[str, Any]) -> None:
    body["nbf"] = int(time.time()) + 300


def _drop(name: str) -> Any:
    def mutate(body: dict[str, Any]) -> None:
        del body[name]

    return mutate


def _message(kind: str) -> Any:
    def mutate(body: dict[str, Any]) -> None:
        body[CLAIM + "message_type"] = kind

    return mutate


@pytest.mark.parametrize(
    ("mutate", "status", "code"),
    [
        (_aud_list_with_azp, 303, None),
        (_aud_list_without_azp, 401, "wrong_audience"),
        (_azp_other, 401, "wrong_audience"),
        (_nbf_future, 401, "not_yet_valid"),
        (_drop("exp"), 400, "invalid_message"),
        (_drop("iat"), 400, "invalid_message"),
        (_drop("sub"), 400, "invalid_message"),
        (_drop("nonce"), 400, "invalid_message"),
        (_message("DataPrivacyLaunchRequest"), 400, "invalid_message"),
        (_message("LtiSubmissionReviewRequest"), 400, "invalid_message"),
    ],
)
def test_claims(platform: TestPlatform, mutate: Any, status: int, code: str | None) -> None:
    result = platform.launch(Person(sub="claims", roles=[LEARNER]), mutate=mutate)
    assert result.status == status, result.response.text[:400]
    assert refusal(result.response) == code


@pytest.mark.parametrize("alg", ["none", "HS256"])
def test_other_algorithms_are_refused(platform: TestPlatform, alg: str) -> None:
    person = Person(sub="alg", roles=[LEARNER])
    session = browser()
    params = platform.auth_params(platform.login(session, person))
    body = platform.claims(person, params["nonce"])
    key = None if alg == "none" else "shared-secret-guess-" * 3
    token = jwt.encode(body, key, algorithm=alg, headers={"kid": platform.signing_key.kid})
    response = session.post(
        platform.tool_base + "/lti/launch",
        data={"id_token": token, "state": params["state"]},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 401
    assert refusal(response) == "bad_signature"


def test_token_of_another_registration_with_this_state(make_platform: Any) -> None:
    """A state issued for platform A cannot carry a token from platform B."""
    first, second = make_platform(), make_platform()
    person = Person(sub="cross", roles=[LEARNER])
    session = browser()
    params = first.auth_params(first.login(session, person))
    token = second.sign(second.claims(person, params["nonce"]))
    response = session.post(
        first.tool_base + "/lti/launch",
        data={"id_token": token, "state": params["state"]},
        allow_redirects=False,
        timeout=10,
    )
    assert 400 <= response.status_code < 500
    assert refusal(response) in {"wrong_audience", "missing_state"}


def test_token_deployment_must_match_the_login(make_platform: Any) -> None:
    platform = make_platform(deployment_ids=["d1", "d2"])
    person = Person(sub="dep", roles=[LEARNER])
    result = platform.launch(
        person,
        deployment_id="d1",
        mutate=lambda b: b.__setitem__(CLAIM + "deployment_id", "d2"),
    )
    assert result.status == 403
    assert refusal(result.response) == "unknown_deployment"


def test_long_course_title_and_odd_claim_types(platform: TestPlatform, app_ctx: Any) -> None:
    def mutate(body: dict[str, Any]) -> None:
        body[CLAIM + "context"]["title"] = "Cursus " + "x" * 1300
        body["name"] = {"not": "a string"}
        body[CLAIM + "roles"] = [LEARNER, 5, None]

    result = platform.launch(Person(sub="long", roles=[LEARNER]), mutate=mutate)
    assert result.status == 303, result.response.text[:300]
    course = db.session.scalar(
        sa.select(Course).where(Course.title.like("Cursus xxxx%")).order_by(Course.id.desc())
    )
    assert course is not None and len(course.title or "") == 1307


# --- races ------------------------------------------------------------------------------------


def _concurrently(calls: list[Any]) -> list[Any]:
    results: list[Any] = [None] * len(calls)
    barrier = threading.Barrier(len(calls))

    def run(i: int) -> None:
        barrier.wait()
        results[i] = calls[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def test_one_state_posted_four_times_at_once_signs_in_once(platform: TestPlatform) -> None:
    for round_ in range(3):
        person = Person(sub=f"race-{round_}", roles=[LEARNER])
        session = browser()
        params = platform.auth_params(platform.login(session, person))
        token = platform.sign(platform.claims(person, params["nonce"]))
        cookies = {c.name: c.value for c in session.cookies}

        def post(token: str = token, params: dict[str, str] = params,
                 cookies: dict[str, str] = cookies) -> int:  # fmt: skip
            s = browser()
            for name, value in cookies.items():
                s.cookies.set(name, value, domain="localhost.local")
            return s.post(
                platform.tool_base + "/lti/launch",
                data={"id_token": token, "state": params["state"]},
                allow_redirects=False,
                timeout=30,
            ).status_code

        statuses = _concurrently([post] * 4)
        assert sorted(statuses) == [303, 403, 403, 403], statuses


def test_first_launches_of_one_new_person_at_once(platform: TestPlatform, app_ctx: Any) -> None:
    person = Person(sub="twin-launch", roles=[LEARNER], name="Tweeling")
    statuses = _concurrently([lambda: platform.launch(person).status] * 3)
    assert statuses == [303, 303, 303], statuses
    users = db.session.scalars(
        sa.select(User).where(User.issuer == platform.issuer, User.sub == "twin-launch")
    ).all()
    assert len(users) == 1


# --- one-time start link, CSRF ------------------------------------------------------------------


def test_start_link_works_once(platform: TestPlatform) -> None:
    result = platform.launch(Person(sub="once", roles=[LEARNER]))
    link = result.response.headers["Location"]
    assert browser().get(link, timeout=10).status_code == 200
    again = browser().get(link, timeout=10)
    assert again.status_code == 401
    assert refusal(again) == "session_expired"


def test_reload_after_start_uses_the_session_cookie(platform: TestPlatform) -> None:
    result = platform.launch(Person(sub="reload", roles=[LEARNER]))
    session = browser()
    assert session.get(result.response.headers["Location"], timeout=10).status_code == 200
    assert session.get(platform.tool_base + "/start", timeout=10).status_code == 200


def test_session_cookie_alone_cannot_post(platform: TestPlatform) -> None:
    """SameSite=None cookies ride along on cross-site POSTs: they must not authorise one."""
    result = platform.launch(
        Person(sub="csrf", roles=[INSTRUCTOR]), message_type="LtiDeepLinkingRequest"
    )
    session = browser()
    assert session.get(result.response.headers["Location"], timeout=10).status_code == 200
    forged = session.post(platform.tool_base + "/lti/deep-link", data={"item": "start"}, timeout=10)
    assert forged.status_code == 401
    assert "JWT" not in forged.text


def test_cookies_carry_iframe_attributes(platform: TestPlatform) -> None:
    login = platform.login(browser(), Person(sub="attrs", roles=[LEARNER]))
    raw = [v for k, v in login.raw.headers.items() if k.lower() == "set-cookie"]
    state_cookies = [c for c in raw if c.startswith("lti1p3-state-") and "-legacy=" not in c]
    assert len(state_cookies) == 1
    parsed = SimpleCookie()
    parsed.load(state_cookies[0].replace("; Partitioned", ""))
    morsel = next(iter(parsed.values()))
    assert morsel["secure"] and morsel["httponly"] and morsel["samesite"] == "None"
    assert "; Partitioned" in state_cookies[0]

    start = browser().get(platform.launch(Person(sub="attrs", roles=[LEARNER])).response
                          .headers["Location"], timeout=10)  # fmt: skip
    session_cookies = [
        v for k, v in start.raw.headers.items()
        if k.lower() == "set-cookie" and v.startswith("beeldcoach_session=")
    ]  # fmt: skip
    assert len(session_cookies) == 1
    for attribute in ("Secure", "HttpOnly", "SameSite=None", "Partitioned"):
        assert attribute in session_cookies[0]


# --- Platform Storage at the HTTP level -----------------------------------------------------


def test_storage_launch_hands_out_the_start_link_only_for_the_secret(
    platform: TestPlatform,
) -> None:
    person = Person(sub="store", roles=[LEARNER])
    login = platform.login(browser(), person, extra={"lti_storage_target": "_parent"})
    assert login.status_code == 200  # the page that stores the secret in the platform
    secret = re.search(r'data-secret="([^"]+)"', login.text).group(1)  # type: ignore[union-attr]
    auth_url = re.search(r'data-next="([^"]+)"', login.text).group(1).replace("&amp;", "&")  # type: ignore[union-attr]
    origin = re.search(r'data-origin="([^"]+)"', login.text).group(1)  # type: ignore[union-attr]
    assert origin == platform.base  # the auth URL's origin
    state = re.search(r"state=([^&]+)", auth_url).group(1)  # type: ignore[union-attr]
    nonce = re.search(r"nonce=([^&]+)", auth_url).group(1)  # type: ignore[union-attr]

    no_cookies = requests.post(
        platform.tool_base + "/lti/launch",
        data={"id_token": platform.sign(platform.claims(person, nonce)), "state": state},
        allow_redirects=False,
        timeout=10,
    )
    assert no_cookies.status_code == 200
    assert "/start?launch=" not in no_cookies.text
    assert secret not in no_cookies.text
    confirm = platform.tool_base + "/lti/storage-confirm"
    wrong = requests.post(confirm, data={"state": state, "secret": "guess"}, timeout=10)
    assert wrong.status_code == 403
    right = requests.post(confirm, data={"state": state, "secret": secret}, timeout=10)
    assert right.status_code == 200
    start = requests.get(right.json()["start_url"], timeout=10)
    assert start.status_code == 200
    assert 'data-testid="role"' in start.text
    twice = requests.post(confirm, data={"state": state, "secret": secret}, timeout=10)
    assert twice.status_code == 403


# --- demo platform and dynamic registration guard rails ------------------------------------


def test_demo_answers_only_on_loopback_names(live_server: str) -> None:
    ok = requests.get(live_server + "/demo/", timeout=10)
    assert ok.status_code == 200
    spoofed = requests.get(live_server + "/demo/", headers={"Host": "attacker.example"}, timeout=10)
    assert spoofed.status_code == 404


def test_dynamic_registration_cannot_replace_a_cli_registration(
    make_platform: Any, cli: Any, app_ctx: Any
) -> None:
    from tests.launch.test_registration import _register

    platform = make_platform(register=False)
    platform.issuer = platform.base  # what its OpenID configuration will name as issuer
    assert cli(*platform.cli_args()).exit_code == 0
    page = _register(platform)
    assert page.status_code == 400
    assert 'data-code="already_registered"' in page.text

    # A dynamic registration may be repeated (the platform re-registers the same client).
    other = make_platform(register=False)
    other.issuer = other.base
    assert _register(other).status_code == 200
    assert _register(other).status_code == 200


def test_dynamic_registration_refuses_script_urls(make_platform: Any) -> None:
    platform = make_platform(register=False)
    platform.config_override = {"authorization_endpoint": "javascript:alert(1)"}
    from tests.launch.test_registration import _register

    page = _register(platform)
    assert page.status_code == 400
    assert 'data-code="configuration_incomplete"' in page.text


# --- roles -------------------------------------------------------------------------------------

IV2 = "http://purl.imsglobal.org/vocab/lis/v2/"


@pytest.mark.parametrize(
    ("roles", "expected"),
    [
        ([IV2 + "membership/Instructor#TeachingAssistant"], ["coach"]),  # Canvas TA
        ([IV2 + "membership/Instructor#Grader"], []),
        ([IV2 + "membership/Instructor#ExternalInstructor"], []),
        ([IV2 + "institution/person#Student", LEARNER], ["teacher"]),  # Canvas student
        ([IV2 + "institution/person#Instructor", LEARNER], ["teacher"]),
        ([INSTRUCTOR, LEARNER], ["coach"]),
        ([INSTITUTION_ADMIN], ["admin"]),
        (["Learner"], ["teacher"]),
        ([], []),
    ],
)
def test_role_mapping(roles: list[str], expected: list[str]) -> None:
    assert map_roles(roles) == expected


# --- clients that never send Secure cookies over http ----------------------------------------


def test_a_plain_http_client_can_launch_and_navigate(platform: TestPlatform) -> None:
    """Python's requests (like other non-browser clients) keeps `Secure` cookies off plain
    http; the legacy twins let such a platform launch, and the session then works for GETs."""
    client = requests.Session()  # stock cookie handling, no loopback exception
    person = Person(sub="plain-http", roles=[LEARNER], name="Plain")
    login = platform.login(client, person)
    params = platform.auth_params(login)
    token = platform.sign(platform.claims(person, params["nonce"]))
    launch = client.post(
        platform.tool_base + "/lti/launch",
        data={"id_token": token, "state": params["state"]},
        allow_redirects=False,
        timeout=10,
    )
    assert launch.status_code == 303, refusal(launch)
    assert client.get(launch.headers["Location"], timeout=10).status_code == 200
    again = client.get(platform.tool_base + "/start", timeout=10)  # the session cookie's twin
    assert again.status_code == 200
    assert "Plain" in again.text


def test_legacy_cookie_has_no_samesite_so_browsers_keep_it_first_party(
    platform: TestPlatform,
) -> None:
    login = platform.login(browser(), Person(sub="twin", roles=[LEARNER]))
    raw = [v for k, v in login.raw.headers.items() if k.lower() == "set-cookie"]
    legacy = [c for c in raw if c.startswith("lti1p3-state-") and "-legacy=" in c]
    assert len(legacy) == 1
    assert "samesite" not in legacy[0].lower()
    assert "httponly" in legacy[0].lower()
