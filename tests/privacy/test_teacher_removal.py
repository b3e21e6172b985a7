"""The teacher removes an ended teacher traject about them, over real HTTP after real launches:
the confirmation page and its form, the API, what goes (every table, every stored file), what
stays (the audit log, deletion records, and the approved POP contribution if the teacher keeps
it), and the refusals: a running traject, a legal hold, the coach, another teacher and an
administrator."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from flask import Flask

from lti_tool.cycles.models import (
    STATUS_COMPLETED,
    ActionPoint,
    Cycle,
    DevelopmentQuestion,
    FinalReview,
    Intake,
    Marker,
    Participant,
    Traject,
    ViewingGuide,
)
from lti_tool.db import db, utcnow
from lti_tool.media.models import Montage, Recording
from lti_tool.media.storage import get_storage
from lti_tool.outcomes import pop
from lti_tool.outcomes.models import PopContribution, PopVersion
from lti_tool.people.models import User
from lti_tool.privacy.models import AuditEvent, DeletionRecord, FootagePrivacy, LegalHold
from tests.privacy.conftest import School, make_traject
from tests.web.test_api_trajects import check_schema

T = "/api/trajects/{}"
GOAL = "Ik geef de stille kinderen vaker de beurt."
# Texts written in the traject: none of them may reach the audit log.
TEXTS = ("Hoe krijg ik rust", "Daan steekt zijn vinger op", "Vaker benoemen wat goed gaat")


@dataclass
class Made:
    traject_id: int
    recording_id: int
    montage_id: int
    keys: list[str]
    pop_id: int | None
    rows: dict[str, int] = field(default_factory=dict)  # as made (_rows)
    # The log's and the records' newest ids when it was made: SQLite gives a new traject the
    # id of a removed one, so their rows are told apart by these.
    after_event: int = 0
    after_record: int = 0


@pytest.fixture(scope="module")
def spec(school: School) -> dict[str, Any]:
    document: dict[str, Any] = requests.get(school.base + "/api/openapi.json", timeout=10).json()
    return document


def _traject(app: Flask, school: School, clip: dict[str, Path], *, ended: bool = True,
             pop_state: str | None = "approved") -> Made:  # fmt: skip
    """A teacher traject with texts of teacher and coach in every table, a recording and a
    montage whose files are stored, ended (or still in its cycles), and the teacher's POP
    contribution: approved (with a newer draft), a draft only, or none."""
    coach, teacher = school.uid("coach"), school.uid("teacher")
    with app.app_context():
        f = make_traject(school, "teacher", clip)
        traject = db.session.get(Traject, f.traject_id)
        assert traject is not None and traject.intake is not None
        traject.intake.help_question = TEXTS[0]
        db.session.add_all([
            DevelopmentQuestion(traject_id=traject.id, version=1, text=TEXTS[0],
                                author_id=teacher),
            DevelopmentQuestion(traject_id=traject.id, version=2, text=TEXTS[0] + "?",
                                author_id=coach, approved_at=utcnow(), approved_by_id=teacher),
            ViewingGuide(cycle_id=f.cycle_id, author_id=teacher, questions=[],
                         answers={"q2": TEXTS[1]}, submitted_at=utcnow()),
            Marker(cycle_id=f.cycle_id, media_kind="montage", media_id=f.montage_id,
                   start_ms=0, kind="strength", text=TEXTS[1], author_id=coach),
            Marker(cycle_id=f.cycle_id, kind="strength", text=TEXTS[1], author_id=teacher),
            ActionPoint(traject_id=traject.id, cycle_id=f.cycle_id, text=TEXTS[2],
                        author_id=coach),
            FootagePrivacy(item_kind="montage", item_id=f.montage_id, filmed_user_id=teacher),
        ])  # fmt: skip
        cycle = db.session.get(Cycle, f.cycle_id)
        assert cycle is not None
        cycle.conversation_notes = TEXTS[2]
        if ended:
            cycle.step, cycle.closed_at = "closed", utcnow()
            traject.final_review = FinalReview(
                teacher_preparation=TEXTS[2], coach_preparation=TEXTS[2], goal_reached="yes",
                how_it_came_about=TEXTS[2], concluded_at=utcnow(),
            )  # fmt: skip
            traject.status, traject.completed_at = STATUS_COMPLETED, utcnow()
        db.session.flush()
        pop_id = None
        if pop_state is not None:
            contribution = PopContribution(
                traject_id=traject.id, teacher_id=teacher, title=traject.title
            )
            user = db.session.get(User, teacher)
            assert user is not None
            content = pop.build_content(traject, user, {"goal": GOAL})
            if pop_state == "approved":
                contribution.versions.append(
                    PopVersion(number=1, edits={"goal": GOAL}, content=content,
                               approved_at=utcnow(), approved_by_id=teacher)
                )  # fmt: skip
            contribution.versions.append(
                PopVersion(number=len(contribution.versions) + 1, edits={"goal": GOAL + "!"})
            )
            db.session.add(contribution)
            db.session.flush()
            pop_id = contribution.id
        recording = db.session.get(Recording, f.recording_id)
        montage = db.session.get(Montage, f.montage_id)
        assert recording is not None and montage is not None
        keys = [
            k
            for k in (
                recording.original_key,
                recording.rendition_key,
                recording.poster_key,
                recording.thumbs_vtt_key,
                f"recordings/{recording.id}/thumbs/sheet_000.jpg",
                montage.rendition_key,
                montage.poster_key,
            )  # fmt: skip
            if k
        ]
        assert all(get_storage().exists(k) for k in keys)
        db.session.commit()
    made = Made(f.traject_id, f.recording_id, f.montage_id, keys, pop_id)
    made.rows = _rows(app, made)
    with app.app_context():
        made.after_event = db.session.scalar(sa.select(sa.func.max(AuditEvent.id))) or 0
        made.after_record = db.session.scalar(sa.select(sa.func.max(DeletionRecord.id))) or 0
    return made


def _rows(app: Flask, made: Made) -> dict[str, int]:
    """How many rows of the traject each table holds, and its stored files."""
    tid = made.traject_id
    cycles = sa.select(Cycle.id).where(Cycle.traject_id == tid)

    def count(model: Any, *where: Any) -> int:
        return int(db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where)))

    with app.app_context():
        return {
            "trajects": count(Traject, Traject.id == tid),
            "intakes": count(Intake, Intake.traject_id == tid),
            "questions": count(DevelopmentQuestion, DevelopmentQuestion.traject_id == tid),
            "cycles": count(Cycle, Cycle.traject_id == tid),
            "guides": count(ViewingGuide, ViewingGuide.cycle_id.in_(cycles)),
            "markers": count(Marker, Marker.cycle_id.in_(cycles)),
            "points": count(ActionPoint, ActionPoint.traject_id == tid),
            "finals": count(FinalReview, FinalReview.traject_id == tid),
            "participants": count(Participant, Participant.traject_id == tid),
            "recordings": count(Recording, Recording.id == made.recording_id),
            "montages": count(Montage, Montage.id == made.montage_id),
            "footage_privacy": count(
                FootagePrivacy,
                FootagePrivacy.item_kind == "montage",
                FootagePrivacy.item_id == made.montage_id,
            ),
            "holds": count(LegalHold, LegalHold.traject_id == tid),
            "files": sum(get_storage().exists(k) for k in made.keys),
        }


def _untouched(app: Flask, made: Made) -> None:
    rows = _rows(app, made)
    assert made.rows == rows
    assert rows["files"] == len(made.keys) and rows["markers"] == 2 and rows["trajects"] == 1
    assert _events(app, made) == []


def _events(app: Flask, made: Made) -> list[dict[str, Any]]:
    with app.app_context():
        return [
            {"actor_id": e.actor_id, "platform_id": e.platform_id, "owner_id": e.owner_id,
             "detail": e.detail}
            for e in db.session.scalars(
                sa.select(AuditEvent).where(
                    AuditEvent.event == "traject.remove",
                    AuditEvent.traject_id == made.traject_id,
                    AuditEvent.id > made.after_event,
                )
            )
        ]  # fmt: skip


def _versions(app: Flask, pop_id: int) -> list[tuple[int, bool]] | None:
    with app.app_context():
        contribution = db.session.get(PopContribution, pop_id)
        if contribution is None:
            return None
        assert contribution.traject_id is None
        return [(v.number, v.approved_at is not None) for v in contribution.versions]


def test_the_teacher_removes_an_ended_traject_and_keeps_the_approved_pop(
    app: Flask, school: School, clip: Any
) -> None:
    made = _traject(app, school, clip)
    teacher = school.people["teacher"]
    # Found where they look: their privacy page lists it with a link to remove it.
    me = school.call("teacher", "GET", "/privacy/me", None, 200).text
    link = f"/privacy/trajects/{made.traject_id}/remove"
    assert f'data-testid="my-traject-{made.traject_id}"' in me and link in me
    # Step one: what goes and what stays, in counts; the POP choice with its PDF first.
    page = school.call("teacher", "GET", link, None, 200).text
    goes = re.search(r'data-testid="removal-goes">(.*?)</ul>', page, re.S)
    assert goes is not None
    for shown in ("Intake: 1", "Wordings of the development question: 2", "Markers (moments of "
                  "strength and others): 2", "Kijkwijzers filled in: 1", "Action points: 1",
                  "Final conversation: 1", "Montages: 1", "Participants: 2"):  # fmt: skip
        assert shown in goes.group(1), (shown, goes.group(1))
    assert f"/pop/{made.pop_id}/export.pdf?v=1" in page and 'data-testid="removal-form"' in page
    assert 'name="keep_pop" value="1" checked' in page
    # Step two: the form, with the launch token as its CSRF token; confirmation required.
    form = {"launch_token": teacher.token, "keep_pop": "1"}
    refused = requests.post(school.base + link, data=form, timeout=10)
    assert refused.status_code == 422 and _rows(app, made)["trajects"] == 1
    done = requests.post(school.base + link, data={**form, "confirm": "1"}, timeout=30)
    assert done.status_code == 200 and 'data-testid="removed"' in done.text, done.text[:400]

    rows = _rows(app, made)
    assert set(rows.values()) == {0}, rows  # every table, and every stored file
    with app.app_context():
        records = db.session.execute(
            sa.select(DeletionRecord.item_kind, DeletionRecord.reason, DeletionRecord.actor_id)
            .where(DeletionRecord.traject_id == made.traject_id,
                   DeletionRecord.id > made.after_record)
        ).all()  # fmt: skip
    assert sorted(records) == [("montage", "traject_removed", school.uid("teacher")),
                               ("recording", "traject_removed", school.uid("teacher"))]  # fmt: skip
    [event] = _events(app, made)
    assert event["actor_id"] == school.uid("teacher") and event["owner_id"] == event["actor_id"]
    assert event["platform_id"] == school.platform_id
    removed, kept = event["detail"]["removed"], event["detail"]["kept"]
    assert removed["recordings"] == 1 and removed["montages"] == 1 and removed["markers"] == 2
    assert removed["development_questions"] == 2 and removed["pop_drafts"] == 1
    assert kept["pop_contributions"] == 1 and kept["deletion_records"] == 2
    assert event["detail"]["keep_pop"] is True
    logged = json.dumps(event)
    assert not any(text in logged for text in (*TEXTS, GOAL, "privacy"))  # counts, no text

    # The approved POP contribution stays the teacher's, without the traject; its draft went.
    assert made.pop_id is not None and _versions(app, made.pop_id) == [(1, True)]
    exported = school.call("teacher", "GET", f"/pop/{made.pop_id}/export.json", None, 200)
    assert json.loads(exported.content)["goal"] == GOAL
    school.call("teacher", "GET", f"/pop/{made.pop_id}", None, 200)
    me = school.call("teacher", "GET", "/privacy/me", None, 200).text
    assert f'data-testid="my-traject-{made.traject_id}"' not in me


def test_the_teacher_may_remove_the_pop_contribution_too(
    app: Flask, school: School, clip: Any, spec: dict[str, Any]
) -> None:
    made = _traject(app, school, clip)
    preview = school.call("teacher", "GET", T.format(made.traject_id) + "/removal", None, 200)
    check_schema(spec, {"$ref": "#/components/schemas/TrajectRemoval"}, preview.json())
    assert preview.json()["removable"] is True
    assert preview.json()["pop"] == {"approved": [{"id": made.pop_id, "version": 1}],
                                     "unapproved": []}  # fmt: skip
    path = T.format(made.traject_id) + "/remove"
    answer = school.call("teacher", "POST", path, {"confirm": True, "keep_pop": False}, 200)
    check_schema(spec, {"$ref": "#/components/schemas/TrajectRemoved"}, answer.json())
    assert answer.json()["removed"]["pop_contributions"] == 1
    assert "pop_contributions" not in answer.json()["kept"]
    assert made.pop_id is not None and _versions(app, made.pop_id) is None
    with app.app_context():
        assert not db.session.scalars(
            sa.select(PopVersion).where(PopVersion.contribution_id == made.pop_id)
        ).all()
    assert _rows(app, made)["trajects"] == 0
    # Gone is gone: a second request finds nothing.
    school.call("teacher", "POST", path, {"confirm": True}, 403)


def test_an_unapproved_pop_contribution_goes_with_the_traject(
    app: Flask, school: School, clip: Any
) -> None:
    made = _traject(app, school, clip, pop_state="draft")
    page = school.call("teacher", "GET", f"/privacy/trajects/{made.traject_id}/remove").text
    assert 'data-testid="pop-unapproved"' in page and 'name="keep_pop"' not in page
    path = T.format(made.traject_id) + "/remove"
    answer = school.call("teacher", "POST", path, {"confirm": True, "keep_pop": True}, 200)
    assert answer.json()["removed"]["pop_contributions"] == 1
    assert made.pop_id is not None and _versions(app, made.pop_id) is None


def test_a_running_traject_is_refused_and_the_page_says_when(
    app: Flask, school: School, clip: Any
) -> None:
    made = _traject(app, school, clip, ended=False)
    me = school.call("teacher", "GET", "/privacy/me", None, 200).text
    item = re.search(rf'data-testid="my-traject-{made.traject_id}">(.*?)</li>', me, re.S)
    assert item is not None and "Can be removed once it has ended." in item.group(1)
    assert "/remove" not in item.group(1)
    page = school.call("teacher", "GET", f"/privacy/trajects/{made.traject_id}/remove").text
    assert "You can remove it once it has ended" in page and "removal-form" not in page
    path = T.format(made.traject_id) + "/remove"
    refused = school.call("teacher", "POST", path, {"confirm": True}, 409).json()
    assert refused["error"] == "running" and "once it has ended" in refused["message"]
    _untouched(app, made)


def test_a_legal_hold_refuses_the_removal(app: Flask, school: School, clip: Any) -> None:
    made = _traject(app, school, clip)
    hold = school.call("admin", "POST", "/api/admin/privacy/holds",
                       {"traject_id": made.traject_id, "reason": "klacht"}, 201).json()  # fmt: skip
    made.rows["holds"] = 1
    path = T.format(made.traject_id) + "/remove"
    refused = school.call("teacher", "POST", path, {"confirm": True}, 409).json()
    assert refused["error"] == "legal_hold" and "legal hold" in refused["message"]
    page = school.call("teacher", "GET", f"/privacy/trajects/{made.traject_id}/remove").text
    assert 'data-testid="removal-refused"' in page and "removal-form" not in page
    form = requests.post(
        school.base + f"/privacy/trajects/{made.traject_id}/remove",
        data={"launch_token": school.people["teacher"].token, "confirm": "1"}, timeout=10,
    )  # fmt: skip
    assert form.status_code == 409 and "legal hold" in form.text
    assert school.call("teacher", "GET", T.format(made.traject_id) + "/removal").json()["held"]
    _untouched(app, made)
    # Lifted, it no longer stands in the way, and the lifted hold goes with the traject.
    school.call("admin", "POST", f"/api/admin/privacy/holds/{hold['id']}/lift", None, 200)
    done = school.call("teacher", "POST", path, {"confirm": True}, 200).json()
    assert done["removed"]["lifted_holds"] == 1
    assert _rows(app, made)["holds"] == 0


def test_a_removal_waits_while_the_trajects_scores_are_being_sent(
    app: Flask, school: School, clip: Any
) -> None:
    from lti_tool.outcomes.services import lock_traject, unlock_traject

    made = _traject(app, school, clip)
    with app.app_context():
        held = lock_traject(made.traject_id)  # a worker is sending its scores right now
        db.session.commit()
        assert held is not None
    path = T.format(made.traject_id) + "/remove"
    refused = school.call("teacher", "POST", path, {"confirm": True}, 409).json()
    assert refused["error"] == "busy" and "learning platform" in refused["message"]
    _untouched(app, made)
    with app.app_context():
        unlock_traject(made.traject_id, held)
        db.session.commit()
    school.call("teacher", "POST", path, {"confirm": True}, 200)
    assert _rows(app, made)["trajects"] == 0


def test_only_the_teacher_the_traject_is_about_may_remove_it(
    app: Flask, school: School, clip: Any
) -> None:
    made = _traject(app, school, clip)
    path = T.format(made.traject_id) + "/remove"
    page = f"/privacy/trajects/{made.traject_id}/remove"
    for who in ("coach", "other_teacher", "admin"):
        refused = school.call(who, "POST", path, {"confirm": True, "keep_pop": False}, 403).json()
        assert refused["message"], who
        school.call(who, "GET", T.format(made.traject_id) + "/removal", None, 403)
        html = school.call(who, "GET", page, None, 403).text
        assert "removal-form" not in html, who
        form = requests.post(
            school.base + page,
            data={"launch_token": school.people[who].token, "confirm": "1"}, timeout=10,
        )  # fmt: skip
        assert form.status_code == 403, who
    # Those who know the traject are told why, in their language.
    coach = school.call("coach", "POST", path, {"confirm": True}, 403).json()
    assert coach["message"] == "Only the teacher this traject is about can remove it."
    admin = school.call("admin", "POST", path, {"confirm": True}, 403).json()
    assert "erases that person" in admin["message"]
    _untouched(app, made)
    assert made.pop_id is not None and _versions_attached(app, made.pop_id)
    # A child traject is about a pupil, not its teacher: its teacher cannot remove it either.
    with app.app_context():
        child = make_traject(school, "child", clip)
        traject = db.session.get(Traject, child.traject_id)
        assert traject is not None
        traject.status = STATUS_COMPLETED
        db.session.commit()
    school.call("teacher", "POST", T.format(child.traject_id) + "/remove", {"confirm": True}, 403)
    with app.app_context():
        assert db.session.get(Traject, child.traject_id) is not None
    # A cookie alone (no launch token) changes nothing either, even for the teacher.
    cookie_only = school.people["teacher"].session.post(
        school.base + page, data={"confirm": "1"}, timeout=10, allow_redirects=False
    )
    assert cookie_only.status_code == 401
    _untouched(app, made)


def _versions_attached(app: Flask, pop_id: int) -> bool:
    with app.app_context():
        contribution = db.session.get(PopContribution, pop_id)
        return contribution is not None and len(contribution.versions) == 2
