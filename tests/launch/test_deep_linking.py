"""Deep linking: a coach chooses what to place; the signed answer verifies with the tool's JWKS."""

from __future__ import annotations

import re
from typing import Any

import jwt
import requests

from tests.launch.test_launch import follow_to_start, refusal
from tests.lti_platform import INSTRUCTOR, LEARNER, Person, TestPlatform, browser

DL = "https://purl.imsglobal.org/spec/lti-dl/claim/"
CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"


def _choice_page(platform: TestPlatform, person: Person) -> tuple[requests.Response, Any]:
    result = platform.launch(person, message_type="LtiDeepLinkingRequest")
    return follow_to_start(platform, result.response), result


def test_coach_places_the_start_page_and_the_platform_verifies_it(platform: TestPlatform) -> None:
    page, _ = _choice_page(platform, Person(sub="coach-dl", roles=[INSTRUCTOR], name="Sanne"))
    assert page.status_code == 200
    assert 'name="item" value="start"' in page.text
    token = re.search(r'name="launch_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]

    # The form posts without cookies: the launch token in the form is what counts.
    answer = requests.post(
        platform.tool_base + "/lti/deep-link",
        data={"launch_token": token, "item": "start"},
        timeout=10,
    )
    assert answer.status_code == 200
    action = re.search(r'action="([^"]+)"', answer.text).group(1)  # type: ignore[union-attr]
    assert action == platform.base + "/deep-link-return"
    response_jwt = re.search(r'name="JWT" value="([^"]+)"', answer.text).group(1)  # type: ignore[union-attr]

    # Verify as a platform would: the tool's public key set over HTTP, by kid.
    keys = jwt.PyJWKClient(platform.tool_base + "/lti/jwks")
    signing_key = keys.get_signing_key_from_jwt(response_jwt)
    body = jwt.decode(
        response_jwt,
        signing_key.key,
        algorithms=["RS256"],
        audience=platform.issuer,
        issuer=platform.client_id,
    )
    assert body[CLAIM + "message_type"] == "LtiDeepLinkingResponse"
    assert body[CLAIM + "version"] == "1.3.0"
    assert body[CLAIM + "deployment_id"] == platform.deployment_ids[0]
    assert body[DL + "data"].startswith("platform-data-")
    items = body[DL + "content_items"]
    assert len(items) == 1
    assert items[0]["type"] == "ltiResourceLink"
    assert items[0]["url"] == platform.tool_base + "/lti/launch"
    assert items[0]["custom"] == {"beeldcoach_page": "start"}
    assert items[0]["title"]


def test_teacher_cannot_deep_link(platform: TestPlatform) -> None:
    result = platform.launch(
        Person(sub="teacher-dl", roles=[LEARNER]), message_type="LtiDeepLinkingRequest"
    )
    start = browser().get(result.response.headers["Location"], timeout=10)
    assert start.status_code == 403
    assert refusal(start) == "forbidden"


def test_deep_link_response_needs_a_launch_token(platform: TestPlatform) -> None:
    answer = requests.post(
        platform.tool_base + "/lti/deep-link", data={"item": "start"}, timeout=10
    )
    assert answer.status_code == 401
    assert refusal(answer) == "session_expired"


def test_resource_link_launch_cannot_answer_deep_linking(platform: TestPlatform) -> None:
    result = platform.launch(Person(sub="coach-rl", roles=[INSTRUCTOR]))
    start = follow_to_start(platform, result.response)
    token = re.search(r'data-api-token="([^"]+)"', start.text).group(1)  # type: ignore[union-attr]
    answer = requests.post(
        platform.tool_base + "/lti/deep-link", data={"launch_token": token, "item": "start"},
        timeout=10,
    )  # fmt: skip
    assert answer.status_code == 403
    assert refusal(answer) == "forbidden"


def test_coach_places_a_traject_they_coach(platform: TestPlatform, app_ctx: Any) -> None:
    import sqlalchemy as sa

    from lti_tool.cycles.services import create_traject
    from lti_tool.db import db
    from lti_tool.people.models import Course, User

    coach_person = Person(sub="dl-coach-traject", roles=[INSTRUCTOR], name="Sanne")
    teacher_person = Person(sub="dl-teacher-traject", roles=[LEARNER], name="Jeroen")
    assert platform.launch(teacher_person).status == 303
    assert platform.launch(coach_person).status == 303
    users = {
        u.sub: u for u in db.session.scalars(sa.select(User).where(User.issuer == platform.issuer))
    }
    from lti_tool.people.models import Membership

    launch_course = db.session.scalar(
        sa.select(Course)
        .join(Membership, Membership.course_id == Course.id)
        .where(Membership.user_id == users["dl-coach-traject"].id)
    )
    assert launch_course is not None
    traject = create_traject(
        launch_course.id,
        users["dl-coach-traject"].id,
        "teacher",
        "Rust in groep 5",
        users["dl-teacher-traject"].id,
    )
    db.session.commit()

    page, _ = _choice_page(platform, coach_person)
    assert f'value="traject-{traject.id}"' in page.text
    token = re.search(r'name="launch_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    answer = requests.post(
        platform.tool_base + "/lti/deep-link",
        data={"launch_token": token, "item": ["my_trajects", f"traject-{traject.id}"]},
        timeout=10,
    )
    response_jwt = re.search(r'name="JWT" value="([^"]+)"', answer.text).group(1)  # type: ignore[union-attr]
    items = jwt.decode(response_jwt, options={"verify_signature": False})[DL + "content_items"]
    assert [i["custom"] for i in items] == [
        {"beeldcoach_page": "my_trajects"},
        {"beeldcoach_traject": str(traject.id)},
    ]
    # The course sees a neutral title, never who is coached.
    assert "Rust in groep 5" not in items[1]["title"]
