"""Results in the platform's gradebook (AGS), against the test platform over real HTTP: the line
item made once, scores in order with increasing timestamps, failures and retries, tokens reused
until they expire, and the line item that deep linking brings."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import jwt
import requests
import sqlalchemy as sa
from flask import Flask

from lti_tool.cycles.models import Traject
from lti_tool.cycles.services import conclude_final
from lti_tool.db import db, utcnow
from lti_tool.outcomes import tasks
from lti_tool.outcomes.models import LineItem, PopContribution, ScoreSend, ServiceToken
from lti_tool.people.models import Membership
from tests.cycles.test_report import complete_traject
from tests.lti_platform import DL, INSTRUCTOR, LEARNER, Person, TestPlatform
from tests.outcomes.conftest import School, form_token, launch, member, nl

RESOURCE_ID = "beeldcoach-traject-{id}"


def completed_traject(school: School, conclude: bool = True) -> Traject:
    """A teacher traject run to its end by the services, committed (the steps' commits)."""
    coach, teacher = school.coach.user, school.teacher.user
    traject = complete_traject(school.course_id, coach, teacher, conclude=conclude).traject
    db.session.commit()
    return traject


def send(traject_id: int) -> dict[str, int]:
    """What the worker does after the commit: the task's own function, here and now."""
    result = tasks.send_scores.run(traject_id)
    db.session.rollback()  # read what the task committed
    return result


def sends(traject_id: int) -> list[ScoreSend]:
    return list(
        db.session.scalars(
            sa.select(ScoreSend).where(ScoreSend.traject_id == traject_id).order_by(ScoreSend.id)
        )
    )


def stored(platform: TestPlatform, traject_id: int) -> tuple[str, list[dict[str, object]]]:
    item = db.session.scalar(sa.select(LineItem).where(LineItem.traject_id == traject_id))
    assert item is not None and item.url
    return item.url, platform.scores.get(item.url, [])


def seconds(score: dict[str, object]) -> int:
    return int(datetime.fromisoformat(str(score["timestamp"])).timestamp())


def approve_pop(school: School, traject_id: int) -> PopContribution:
    contribution = db.session.scalar(
        sa.select(PopContribution).where(PopContribution.traject_id == traject_id)
    )
    assert contribution is not None
    base = school.platform.tool_base
    page = school.teacher.session.get(f"{base}/pop/{contribution.id}", timeout=10)
    assert page.status_code == 200, page.text[:500]
    answer = school.teacher.session.post(
        f"{base}/pop/{contribution.id}",
        data={"launch_token": form_token(page), "action": "approve", "goal": "Mijn POP-doel",
              "competence_domains": ["pedagogisch"], "include_coach_reflection": "1"},
        timeout=60,
    )  # fmt: skip
    assert answer.status_code == 200 and 'data-state="approved"' in answer.text, answer.text[:800]
    db.session.rollback()
    return contribution


def test_progress_and_the_approved_pop_reach_the_gradebook_in_order(school: School) -> None:
    platform = school.platform
    # Other tools' columns first: the tool pages through them looking for its own.
    for n in range(3):
        platform.line_items.setdefault("course-1", []).append(
            {"id": f"{platform.base}/other/{n}", "label": f"Toets {n}", "scoreMaximum": 10}
        )
    traject = completed_traject(school)
    assert send(traject.id) == {"sent": 5, "failed": 0, "waiting": 0, "retry": 0}

    # One line item, made by the tool, found again by its resource id.
    assert platform.lineitem_posts == 1
    made = platform.line_items["course-1"][-1]
    assert made["resourceId"] == RESOURCE_ID.format(id=traject.id)
    assert made["label"] == "Beeldcoach: begeleidingstraject"  # neutral, in Dutch
    url, scores = stored(platform, traject.id)
    assert url == made["id"]
    assert [s["activityProgress"] for s in scores] == [
        "Started", "InProgress", "InProgress", "InProgress", "Completed",
    ]  # fmt: skip
    assert all(s["userId"] == "teacher-1" for s in scores)
    assert [s["gradingProgress"] for s in scores][-1] == "Pending"
    stamps = [seconds(s) for s in scores]
    assert stamps == sorted(set(stamps)), stamps  # strictly increasing, to the second
    assert "scoreGiven" not in scores[0]

    # Nothing is sent twice: the task again finds nothing to do.
    assert send(traject.id)["sent"] == 0
    assert len(platform.score_posts) == 5

    # The teacher approves the POP contribution: FullyGraded, with a comment that links back.
    contribution = approve_pop(school, traject.id)
    assert send(traject.id)["sent"] == 1
    url, scores = stored(platform, traject.id)
    graded = scores[-1]
    assert graded["activityProgress"] == "Completed"
    assert graded["gradingProgress"] == "FullyGraded"
    assert graded["scoreGiven"] == 1 and graded["scoreMaximum"] == 1
    link = f"{platform.tool_base}/pop/{contribution.id}"
    comment = "POP contribution approved by the teacher (version %(n)s): %(url)s"
    assert graded["comment"] == nl(school.app, comment, n=1, url=link)
    assert seconds(graded) > seconds(scores[-2])
    # The comment's link opens the contribution for the teacher, and for nobody else.
    assert school.teacher.session.get(link, timeout=10).status_code == 200
    assert school.coach.session.get(link, timeout=10).status_code == 403

    # A second traject in the course gets its own line item, made once as well.
    second = completed_traject(school, conclude=False)
    assert send(second.id)["sent"] == 4
    assert platform.lineitem_posts == 2
    assert stored(platform, second.id)[0] != url


def test_a_500_is_retried_and_a_409_for_a_stored_score_counts_as_sent(school: School) -> None:
    platform = school.platform
    traject = completed_traject(school, conclude=False)
    platform.score_failures = [500]
    assert send(traject.id) == {"sent": 0, "failed": 0, "waiting": 0, "retry": 1}
    first = sends(traject.id)[0]
    assert first.status == "pending" and first.error == "platform_error"
    assert first.attempts == 1 and first.next_attempt_at is not None
    assert first.next_attempt_at > utcnow() + timedelta(seconds=20)  # backoff
    assert stored(platform, traject.id)[1] == []
    # Not due yet: the task leaves it (and everything after it) alone.
    assert send(traject.id)["sent"] == 0
    assert len(platform.score_posts) == 1

    # Time passes; this time the platform stores the score but the answer is lost (500).
    db.session.execute(sa.update(ScoreSend).values(next_attempt_at=utcnow() - timedelta(1)))
    db.session.commit()
    platform.score_failures = ["store-500"]
    assert send(traject.id)["retry"] == 1
    assert len(stored(platform, traject.id)[1]) == 1
    db.session.execute(sa.update(ScoreSend).values(next_attempt_at=utcnow() - timedelta(1)))
    db.session.commit()
    # The retry meets 409 (already stored): done, and the rest follows in order.
    assert send(traject.id) == {"sent": 4, "failed": 0, "waiting": 0, "retry": 0}
    rows = sends(traject.id)
    assert [r.status for r in rows] == ["sent"] * 4
    assert rows[0].http_status == 409 and rows[0].attempts == 3
    _, scores = stored(platform, traject.id)
    assert [s["activityProgress"] for s in scores] == ["Started"] + ["InProgress"] * 3


def test_long_waits_are_left_to_the_periodic_sweep_not_the_broker(school: School) -> None:
    """A retry an hour off is not handed to the broker (Redis would redeliver it after its
    visibility timeout); the five-minutely send_due_scores queues the sender once it is due,
    and also a score whose task was lost. Scores waiting for the gradebook service stay."""
    platform = school.platform
    traject = completed_traject(school, conclude=False)
    platform.score_failures = [500]
    assert send(traject.id)["retry"] == 1
    first = sends(traject.id)[0]
    assert first.next_attempt_at is not None
    assert tasks._later("outcomes.send_scores", [traject.id], first.next_attempt_at)
    hour = utcnow() + timedelta(hours=1)
    assert not tasks._later("outcomes.send_scores", [traject.id], hour)

    def due() -> list[int]:
        queued = tasks.send_due_scores.run()
        db.session.rollback()
        return queued

    db.session.execute(
        sa.update(ScoreSend).where(ScoreSend.id == first.id).values(next_attempt_at=hour)
    )
    db.session.commit()
    assert traject.id not in due()
    # Due just now: the countdown task queued for it is still on its way.
    db.session.execute(
        sa.update(ScoreSend)
        .where(ScoreSend.id == first.id)
        .values(next_attempt_at=utcnow() - timedelta(seconds=5))
    )
    db.session.commit()
    assert traject.id not in due()
    # Due a while ago, and still not sent: nothing is coming for it.
    db.session.execute(
        sa.update(ScoreSend)
        .where(ScoreSend.id == first.id)
        .values(next_attempt_at=utcnow() - timedelta(minutes=3))
    )
    db.session.commit()
    assert traject.id in due()
    assert send(traject.id)["sent"] == 4
    assert traject.id not in due()

    # A queued score whose task never ran: picked up once it is older than a few minutes.
    other = completed_traject(school, conclude=False)
    assert other.id not in due()
    db.session.execute(
        sa.update(ScoreSend)
        .where(ScoreSend.traject_id == other.id)
        .values(created_at=utcnow() - timedelta(minutes=11))
    )
    db.session.commit()
    assert other.id in due()
    # Waiting for the platform's gradebook service: a launch that brings it wakes these. Only
    # the first score carries the reason; the ones behind it wait with it.
    waiting = sends(other.id)
    assert len(waiting) > 1
    db.session.execute(
        sa.update(ScoreSend).where(ScoreSend.id == waiting[0].id).values(error="no_service")
    )
    db.session.commit()
    assert other.id not in due()
    # Likewise behind a first score whose retry is hours off.
    db.session.execute(
        sa.update(ScoreSend)
        .where(ScoreSend.id == waiting[0].id)
        .values(error="platform_error", next_attempt_at=hour)
    )
    db.session.commit()
    assert other.id not in due()


def test_a_refused_score_is_shown_to_the_coach_who_sends_it_again(school: School) -> None:
    platform = school.platform
    traject = completed_traject(school, conclude=False)
    # The teacher is not gradable in the platform's course (say, enrolled without a role).
    platform.members["course-1"] = [m for m in platform.members["course-1"]
                                    if m["user_id"] != "teacher-1"]  # fmt: skip
    assert send(traject.id)["failed"] == 4
    assert {r.error for r in sends(traject.id)} == {"refused"}

    base = platform.tool_base
    page = school.coach.session.get(f"{base}/coach/dashboard", timeout=10)
    assert page.status_code == 200, page.text[:500]
    card = page.text[page.text.index(f'id="traject-{traject.id}"') :]
    assert 'data-testid="send-error"' in card and nl(school.app, "Not sent") in card
    assert f'data-testid="send-again-{traject.id}"' in card
    # Only the coach may send again; the teacher's own token does not do it.
    teacher_try = requests.post(
        f"{base}/coach/trajects/{traject.id}/send-again",
        data={"launch_token": school.teacher.token}, timeout=10,
    )  # fmt: skip
    assert teacher_try.status_code == 403

    platform.members["course-1"].append(member("teacher-1", [LEARNER], "Jeroen Bakker"))
    again = school.coach.session.post(
        f"{base}/coach/trajects/{traject.id}/send-again",
        data={"launch_token": form_token(page)}, timeout=10,
    )  # fmt: skip
    assert again.status_code == 200
    db.session.rollback()
    assert {r.status for r in sends(traject.id)} == {"pending"}
    assert send(traject.id)["sent"] == 4
    after = school.coach.session.get(f"{base}/coach/dashboard", timeout=10).text
    assert f'data-testid="send-again-{traject.id}"' not in after


def test_the_access_token_is_reused_until_it_expires(school: School) -> None:
    platform = school.platform
    traject = completed_traject(school, conclude=False)
    assert send(traject.id)["sent"] == 4
    # One token per set of scopes, shared by all the calls: line item scope, score scope.
    assert sorted(r["scope"] for r in platform.token_requests) == [
        "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
        "https://purl.imsglobal.org/spec/lti-ags/scope/score",
    ]
    for request in platform.token_requests:
        # The assertion is signed with the tool's current key (checked against its JWKS by
        # the platform) and names the platform's token endpoint as audience.
        claims = jwt.decode(request["client_assertion"], options={"verify_signature": False})
        assert claims["aud"] == platform.token_url and claims["iss"] == platform.client_id

    second = completed_traject(school, conclude=False)
    assert send(second.id)["sent"] == 4
    assert len(platform.token_requests) == 2  # reused, across task runs

    # Close to expiry (within the margin): a new token, not a 401 in the middle of a send.
    db.session.execute(sa.update(ServiceToken).values(expires_at=utcnow() + timedelta(seconds=30)))
    db.session.commit()
    third = completed_traject(school, conclude=False)
    assert send(third.id)["sent"] == 4
    assert len(platform.token_requests) == 4

    # Revoked by the platform: one 401, one fresh token, and the score goes through.
    platform.tokens.clear()
    fourth = completed_traject(school, conclude=False)
    assert send(fourth.id)["sent"] == 4
    assert len(platform.token_requests) == 6


def test_nothing_is_sent_before_the_platform_offers_its_gradebook(
    platform: TestPlatform, app_ctx: Flask
) -> None:
    """Launches without the AGS claim: scores wait (no failure); the first launch with the
    claim sends them."""
    platform.members["course-1"] = [
        member("coach-2", [INSTRUCTOR], "Sanne"),
        member("teacher-2", [LEARNER], "Jeroen"),
    ]
    coach = launch(platform, "coach-2", [INSTRUCTOR], "Sanne", services=False)
    teacher = launch(platform, "teacher-2", [LEARNER], "Jeroen", services=False)
    course_id = db.session.scalar(
        sa.select(Membership.course_id).where(Membership.user_id == coach.user_id)
    )
    school = School(platform, coach, teacher, int(course_id or 0), app_ctx)
    traject = completed_traject(school, conclude=False)
    assert send(traject.id)["waiting"] == 1
    # The first score says why it waits; the others wait behind it, in order.
    assert [(r.status, r.error) for r in sends(traject.id)] == [("pending", "no_service")] + [
        ("pending", None)
    ] * 3
    assert platform.score_posts == []
    launch(platform, "teacher-2", [LEARNER], "Jeroen")  # now with the claims
    assert send(traject.id)["sent"] == 4


def test_a_placed_traject_carries_its_line_item(school: School) -> None:
    platform, base = school.platform, school.platform.tool_base
    traject = completed_traject(school, conclude=False)
    db.session.execute(sa.delete(ScoreSend).where(ScoreSend.traject_id == traject.id))
    db.session.commit()
    # The coach places the traject by deep linking.
    result = platform.launch(
        Person(sub="coach-1", roles=[INSTRUCTOR], name="Sanne de Vries"),
        message_type="LtiDeepLinkingRequest",
        mutate=lambda body: body.update(platform.service_claims()),
    )
    page = requests.get(result.response.headers["Location"], timeout=10)
    assert f'value="traject-{traject.id}"' in page.text
    answer = requests.post(
        f"{base}/lti/deep-link",
        data={"launch_token": form_token(page), "item": [f"traject-{traject.id}", "my_pop",
                                                         "coach_dashboard"]},
        timeout=10,
    )  # fmt: skip
    token = re.search(r'name="JWT" value="([^"]+)"', answer.text)
    assert token is not None
    placed = requests.post(
        platform.base + "/deep-link-return", data={"JWT": token.group(1)}, timeout=10
    )
    assert placed.status_code == 200
    items = jwt.decode(token.group(1), options={"verify_signature": False})[DL + "content_items"]
    assert items[0]["lineItem"] == {
        "scoreMaximum": 1,
        "label": "Beeldcoach: begeleidingstraject",
        "resourceId": RESOURCE_ID.format(id=traject.id),
        "tag": "beeldcoach",
    }
    assert "lineItem" not in items[1] and "lineItem" not in items[2]
    assert [i["custom"] for i in items[1:]] == [
        {"beeldcoach_page": "my_pop"},
        {"beeldcoach_page": "coach_dashboard"},
    ]
    link = platform.placed_links[0]
    assert link["lineitem"]

    # The teacher opens the placed link: the launch names the line item; the tool uses it.
    def placed_launch(body: dict[str, object]) -> None:
        body.update(platform.service_claims(lineitem=link["lineitem"]))
        body["https://purl.imsglobal.org/spec/lti/claim/resource_link"] = {
            "id": link["resource_link_id"], "title": link["title"]}  # fmt: skip
        body["https://purl.imsglobal.org/spec/lti/claim/custom"] = link["custom"]

    teacher = launch(platform, "teacher-1", [LEARNER], "Jeroen Bakker", mutate=placed_launch)
    assert teacher.user_id == school.teacher.user_id
    item = db.session.scalar(sa.select(LineItem).where(LineItem.traject_id == traject.id))
    assert item is not None and (item.url, item.source) == (link["lineitem"], "deep_link")
    conclude_final(
        school.coach.user_id, traject.id, {"goal_reached": "yes", "how_it_came_about": "Samen"}
    )
    db.session.commit()
    assert send(traject.id)["sent"] == 1
    assert platform.lineitem_posts == 0  # nothing made: the placed line item is used
    assert [s["activityProgress"] for s in platform.scores[link["lineitem"]]] == ["Completed"]


def test_a_placed_line_item_is_found_before_anyone_opens_the_link(school: School) -> None:
    """Progress before anyone launched the placed link: the tool finds the column by its
    resource id, on the second page of the course's line items, and makes none."""
    platform = school.platform
    traject = completed_traject(school, conclude=False)
    db.session.execute(sa.delete(ScoreSend).where(ScoreSend.traject_id == traject.id))
    db.session.execute(sa.delete(LineItem).where(LineItem.traject_id == traject.id))
    db.session.commit()
    for n in range(3):
        platform.line_items.setdefault("course-1", []).append(
            {"id": f"{platform.base}/other/{n}", "label": f"Toets {n}", "scoreMaximum": 10}
        )
    placed = platform._make_line_item(
        "course-1",
        {"label": "Beeldcoach: begeleidingstraject", "scoreMaximum": 1,
         "resourceId": RESOURCE_ID.format(id=traject.id), "resourceLinkId": "x"},
    )  # fmt: skip
    conclude_final(school.coach.user_id, traject.id, {"goal_reached": "no",
                                                       "how_it_came_about": "Te kort"})  # fmt: skip
    db.session.commit()
    assert send(traject.id)["sent"] == 1
    assert platform.lineitem_posts == 0
    item = db.session.scalar(sa.select(LineItem).where(LineItem.traject_id == traject.id))
    assert item is not None and (item.url, item.source) == (placed["id"], "found")
