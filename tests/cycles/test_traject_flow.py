"""The traject's state machine, step by step, with every out-of-order step refused."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from lti_tool.cycles import services as s
from lti_tool.cycles.models import ActionPoint, Traject
from lti_tool.db import db
from lti_tool.media.models import Recording
from lti_tool.people.models import Course, User
from lti_tool.privacy.access import Forbidden

GUIDE = {
    "q2": {"text": "Ik zie dat Daan zijn vinger opsteekt", "ms": 12_000},
    "q3": {"text": "Ik knik en geef Daan de beurt; hij gaat rechtop zitten", "ms": 14_500},
    "q4": "Drie initiatieven; ik ontvang ze vooral non-verbaal",
    "q5": 3,
    "q6": "Vaker benoemen wat goed gaat",
    "q7": ["De beurtverdeling"],
}


@pytest.fixture
def pair(course: Course, create_user: Callable[..., User]) -> tuple[User, User]:
    return create_user("Sanne (coach)", "coach"), create_user("Jeroen (leerkracht)")


def refused(code: str, call: Callable[[], Any]) -> s.StepRefused:
    with pytest.raises(s.StepRefused) as info:
        call()
    assert info.value.code == code, (info.value.code, info.value.message)
    assert str(info.value.message)
    return info.value


def run_cycle(traject: Traject, coach: User, teacher: User, number: int) -> None:
    t = traject.id
    s.mark_recorded(coach.id, t, number, {"focus": "beurtverdeling"})
    s.mark_analysed(coach.id, t, number, {"analysis_notes": "Drie sterke momenten"})
    s.share(coach.id, t, number)
    s.save_viewing_guide(teacher.id, t, number, GUIDE, submit=True)
    s.record_conversation(teacher.id, t, number, {"conversation_notes": "Micro-kijken"})
    s.add_marker(coach.id, t, number, {"kind": "strength", "text": "Knikken", "start_ms": 14_500})
    s.add_action_point(teacher.id, t, number, "Elke les drie kinderen bewust een beurt geven")
    s.close_cycle(coach.id, t, number, {"next_filming_on": date(2026, 12, 1)})


def test_whole_teacher_traject(course: Course, pair: tuple[User, User]) -> None:
    coach, teacher = pair
    traject = s.create_traject(course.id, coach.id, "teacher", "Rust in groep 5", teacher.id)
    t = traject.id
    assert s.next_step(traject, {"coach"})[0] == "question"

    # Intake: the coach's wording waits for the teacher; the intake cannot finish before.
    s.save_intake(teacher.id, t, {"help_question": "Hoe krijg ik meer rust tijdens instructie?"})
    draft = s.propose_question(coach.id, t, "Hoe geef ik beurten zodat iedereen meedoet?")
    assert draft.approved_at is None
    refused("order", lambda: s.complete_intake(coach.id, t))
    assert s.next_step(traject, {"teacher"})[0] == "approve_question"
    with pytest.raises(Forbidden):  # the coach cannot approve on the teacher's behalf
        s.approve_question(coach.id, t, draft.id)
    s.approve_question(teacher.id, t, draft.id)
    # Out of order: nothing of a cycle before the intake is finished.
    refused("order", lambda: s.mark_recorded(coach.id, t, 1, {}))
    s.complete_intake(coach.id, t)
    assert traject.status == "cycles" and [c.number for c in traject.cycles] == [1, 2, 3]

    # Cycle 1, with the steps out of order first.
    refused("order", lambda: s.save_viewing_guide(teacher.id, t, 1, GUIDE, submit=True))
    refused("order", lambda: s.share(coach.id, t, 1))
    refused("order", lambda: s.record_conversation(coach.id, t, 1, {"conversation_notes": "x"}))
    with pytest.raises(Forbidden):  # a teacher does not do the coach's steps
        s.mark_recorded(teacher.id, t, 1, {})
    s.mark_recorded(coach.id, t, 1, {"focus": "beurtverdeling"})
    refused("required", lambda: s.mark_analysed(coach.id, t, 1, {"analysis_notes": " "}))
    s.mark_analysed(coach.id, t, 1, {"analysis_notes": "Drie sterke momenten"})
    s.share(coach.id, t, 1)
    assert s.next_step(traject, {"teacher"})[0] == "viewing_guide"
    incomplete = {"q2": GUIDE["q2"]}
    s.save_viewing_guide(teacher.id, t, 1, incomplete, submit=False)  # a draft is fine
    refused("answer", lambda: s.save_viewing_guide(teacher.id, t, 1, incomplete, submit=True))
    refused("answer", lambda: s.save_viewing_guide(teacher.id, t, 1, {**GUIDE, "q5": 9}, True))
    guide = s.save_viewing_guide(teacher.id, t, 1, GUIDE, submit=True)
    assert guide.answers["q3"]["ms"] == 14_500
    refused("order", lambda: s.add_action_point(teacher.id, t, 1, "te vroeg"))
    s.record_conversation(teacher.id, t, 1, {"conversation_notes": "Micro-kijken"})
    marker = s.add_marker(
        coach.id, t, 1, {"kind": "strength", "text": "Knikken", "start_ms": 14_500,
                         "tags": ["Ontvangen: non-verbaal"], "domain": "interactie"},
    )  # fmt: skip
    refused("time", lambda: s.add_marker(coach.id, t, 1, {"text": "x", "start_ms": -1}))
    refused("order", lambda: s.close_cycle(coach.id, t, 1, {"next_filming_on": date.today()}))
    point = s.add_action_point(teacher.id, t, 1, "Elke les drie kinderen bewust een beurt geven")
    refused("required", lambda: s.close_cycle(coach.id, t, 1, {}))
    s.close_cycle(coach.id, t, 1, {"next_filming_on": date(2026, 12, 1)})

    # The action point carries into cycle 2 with its status; the question is refined.
    s.set_action_point_status(teacher.id, t, point.id, "tried")
    assert db.session.get(ActionPoint, point.id).status == "tried"  # type: ignore[union-attr]
    refined = s.propose_question(teacher.id, t, "Hoe betrek ik de stille kinderen?", after_cycle=1)
    assert refined.approved_at is not None  # the teacher's own words count at once
    assert [q.version for q in traject.questions] == [1, 2]
    assert s.current_question(traject).text == "Hoe betrek ik de stille kinderen?"  # type: ignore[union-attr]

    refused("order", lambda: s.prepare_final(teacher.id, t, "te vroeg", done=True))
    run_cycle(traject, coach, teacher, 2)
    run_cycle(traject, coach, teacher, 3)
    assert traject.status == "final"

    # Final conversation: separate preparations, hidden from each other until both are done.
    s.prepare_final(teacher.id, t, "Ik geef nu bewuster beurten", done=True)
    assert s.preparation_for(teacher.id, t).other is None
    assert s.preparation_for(coach.id, t).other is None
    refused("order", lambda: s.conclude_final(coach.id, t, {"goal_reached": "yes"}))
    s.prepare_final(coach.id, t, "Zichtbaar in cycli 2 en 3", done=True)
    assert s.preparation_for(teacher.id, t).other == "Zichtbaar in cycli 2 en 3"
    # Having read the other's, neither can rewrite their own.
    refused("order", lambda: s.prepare_final(coach.id, t, "herschreven", done=True))
    with pytest.raises(Forbidden):
        s.conclude_final(teacher.id, t, {"goal_reached": "yes"})
    refused("required", lambda: s.conclude_final(coach.id, t, {"goal_reached": "maybe"}))
    review = s.conclude_final(
        coach.id,
        t,
        {
            "goal_reached": "partly",
            "how_it_came_about": "Door het micro-kijken zag Jeroen zijn eigen knikje",
            "yield_per_domain": {"interactie": "Meer non-verbaal ontvangen"},
            "visible_in_marker_ids": [marker.id, 999_999],
            "follow_up": "Nieuwe leerwens: instructie in drie niveaus",
        },
    )
    assert review.visible_in_marker_ids == [marker.id]
    assert review.yield_per_domain["interactie"] == "Meer non-verbaal ontvangen"
    assert traject.status == "completed" and traject.completed_at is not None
    # A wording cannot be approved once the traject is concluded.
    refused("order", lambda: s.approve_question(teacher.id, t, draft.id))
    assert s.next_step(traject, {"teacher"})[0] == "done"


def test_close_early_with_a_reason(course: Course, pair: tuple[User, User]) -> None:
    coach, teacher = pair
    traject = s.create_traject(course.id, coach.id, "teacher", "Kort traject", teacher.id)
    s.save_intake(coach.id, traject.id, {"help_question": "Hulpvraag"})
    s.propose_question(teacher.id, traject.id, "Mijn vraag")
    s.complete_intake(coach.id, traject.id)
    refused("order", lambda: s.prepare_final(teacher.id, traject.id, "x", done=True))
    refused("required", lambda: s.close_early(coach.id, traject.id, ""))
    s.close_early(coach.id, traject.id, "Leerkracht gaat met verlof")
    assert traject.status == "final"
    assert traject.closed_early_reason == "Leerkracht gaat met verlof"
    s.prepare_final(teacher.id, traject.id, "Terugblik", done=True)


def test_add_a_cycle(course: Course, pair: tuple[User, User]) -> None:
    coach, teacher = pair
    traject = s.create_traject(course.id, coach.id, "teacher", "Vier cycli", teacher.id)
    s.save_intake(coach.id, traject.id, {"help_question": "Hulpvraag"})
    s.propose_question(teacher.id, traject.id, "Mijn vraag")
    refused("order", lambda: s.add_cycle(coach.id, traject.id))
    s.complete_intake(coach.id, traject.id)
    s.add_cycle(coach.id, traject.id)
    assert [c.number for c in traject.cycles] == [1, 2, 3, 4]
    for number in (1, 2, 3):
        run_cycle(traject, coach, teacher, number)
    assert traject.status == "cycles"  # the fourth cycle still runs
    run_cycle(traject, coach, teacher, 4)
    assert traject.status == "final"


def test_child_traject_needs_a_pupil_code_and_knows_no_names(
    course: Course, pair: tuple[User, User]
) -> None:
    coach, teacher = pair
    refused("required", lambda: s.create_traject(course.id, coach.id, "child", "Kind", teacher.id))
    traject = s.create_traject(
        course.id, coach.id, "child", "Concentratie", teacher.id, pupil_code="L-07"
    )
    assert traject.pupil_code == "L-07"
    parent = s.add_participant(coach.id, traject.id, "parent", name="Ouder van L-07")
    assert parent.user_id is None and parent.display_name == "Ouder van L-07"


def test_team_traject_management_states_the_question(
    course: Course, create_user: Callable[..., User]
) -> None:
    coach, manager, member = (
        create_user("Coach", "coach"),
        create_user("Directeur"),
        create_user("Teamlid"),
    )
    refused("section", lambda: s.create_traject(course.id, coach.id, "team", "T", section="x"))
    traject = s.create_traject(
        course.id, coach.id, "team", "Pedagogisch klimaat", section="middenbouw"
    )
    s.add_participant(coach.id, traject.id, "management", manager.id)
    s.add_participant(coach.id, traject.id, "team_member", member.id)
    refused("role", lambda: s.add_participant(coach.id, traject.id, "parent", name="Ouder"))
    s.save_intake(manager.id, traject.id, {"help_question": "Rust in de gangen"})
    question = s.propose_question(manager.id, traject.id, "Hoe bouwen we één klimaat?")
    assert question.approved_at is not None
    with pytest.raises(Forbidden):
        s.save_intake(member.id, traject.id, {"help_question": "x"})


def test_people_come_from_the_trajects_own_course(
    course: Course, pair: tuple[User, User], app_ctx: Any
) -> None:
    from lti_tool.people.models import User as UserModel

    coach, teacher = pair
    stranger = UserModel(issuer="https://other-school.example", sub="x", name="Elders")
    db.session.add(stranger)
    db.session.flush()
    refused("person", lambda: s.create_traject(course.id, coach.id, "teacher", "T", stranger.id))
    traject = s.create_traject(course.id, coach.id, "teacher", "T", teacher.id)
    refused("person", lambda: s.add_participant(coach.id, traject.id, "coach", stranger.id))
    refused(
        "person", lambda: s.add_participant(coach.id, traject.id, "coach", name="Zonder account")
    )


def test_dates_and_tags_are_checked(course: Course, pair: tuple[User, User]) -> None:
    coach, teacher = pair
    traject = s.create_traject(course.id, coach.id, "teacher", "T", teacher.id)
    t = traject.id
    refused(
        "date", lambda: s.save_intake(coach.id, t, {"help_question": "h", "intake_on": "gisteren"})
    )
    s.save_intake(coach.id, t, {"help_question": "h", "intake_on": "2026-11-02"})
    assert traject.intake is not None and traject.intake.intake_on == date(2026, 11, 2)
    s.propose_question(teacher.id, t, "Mijn vraag")
    s.complete_intake(coach.id, t)
    refused("not_found", lambda: s.propose_question(teacher.id, t, "x", after_cycle=9))
    s.mark_recorded(coach.id, t, 1, {"filming_on": "2026-11-09"})
    refused("tags", lambda: s.add_marker(coach.id, t, 1, {"text": "x", "tags": ["Onbekend"]}))
    refused("media", lambda: s.add_marker(coach.id, t, 1, {"text": "x", "media_kind": "photo"}))
    # A marker points at footage of its own cycle only.
    cycle = next(c for c in db.session.get(Traject, t).cycles if c.number == 1)
    other = next(c for c in db.session.get(Traject, t).cycles if c.number == 2)
    mine = Recording(cycle_id=cycle.id, original_key="recordings/x/original.mp4", status="ready")
    elsewhere = Recording(cycle_id=other.id, original_key="recordings/y/original.mp4")
    db.session.add_all([mine, elsewhere])
    db.session.flush()
    for wrong in (elsewhere.id, mine.id + 1000):
        refused(
            "media",
            lambda wrong=wrong: s.add_marker(
                coach.id, t, 1, {"text": "x", "media_kind": "recording", "media_id": wrong}
            ),
        )
    refused("media", lambda: s.add_marker(coach.id, t, 1, {"text": "x", "media_kind": "montage"}))
    marker = s.add_marker(
        coach.id,
        t,
        1,
        {"text": "x", "tags": ["Initiatief"], "media_kind": "recording", "media_id": mine.id},
    )
    assert marker.media_kind == "recording" and marker.tags == ["Initiatief"]
