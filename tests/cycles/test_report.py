"""The final report's content, gathered from a traject driven to completion by the services."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import pytest

from lti_tool.cycles import report as r
from lti_tool.cycles import services as s
from lti_tool.cycles.models import Traject
from lti_tool.db import db
from lti_tool.media.models import Montage
from lti_tool.people.models import Course, User
from lti_tool.privacy.access import Forbidden

HELP_QUESTION = "Hoe krijg ik meer rust tijdens de instructie in groep 5?"
QUESTION = "Hoe geef ik beurten zodat iedereen meedoet?"
REFINED_BY_COACH = "Hoe betrek ik de stille kinderen bij de instructie?"
NEVER_APPROVED = "Een formulering van de coach die de leerkracht niet goedkeurde"
REFINED_BY_TEACHER = "Hoe houd ik de stille kinderen erbij, ook bij zelfstandig werken?"
FOCUS = {
    1: "Beurtverdeling tijdens de instructie",
    2: "De stille kinderen",
    3: "Zelfstandig werken",
}
ACTIONS = {
    1: "Elke les drie kinderen bewust een beurt geven",
    2: "Na een vraag vijf tellen wachten",
    3: "Bij zelfstandig werken eerst langs de stille kinderen",
}
HOW = "Door het micro-kijken zag Jeroen zijn eigen knikje en het effect ervan op Daan."
YIELD_INTERACTIE = "Meer non-verbaal ontvangen; stille kinderen krijgen vaker een beurt."
YIELD_DIDACTIEK = "Wachttijd na een vraag."
TEACHER_EVALUATION = "Ik zie nu zelf wanneer het werkt, en waarom."
COACH_REFLECTION = "Jeroen nam vanaf cycle 2 zelf de leiding in het micro-kijken."
FOLLOW_UP = "Nieuwe leerwens: instructie in drie niveaus. Over een half jaar een opname."
GUIDE = {
    "q2": {"text": "Ik zie dat Daan zijn vinger opsteekt", "ms": 12_000},
    "q3": {"text": "Ik knik en geef Daan de beurt", "ms": 14_500},
    "q4": "Drie initiatieven",
    "q5": 3,
    "q6": "Vaker benoemen wat goed gaat",
    "q7": ["De beurtverdeling"],
}


@dataclass
class Completed:
    traject: Traject
    strength_ids: dict[int, list[int]]
    action_point_ids: list[int]


def complete_traject(
    course_id: int, coach: User, teacher: User, conclude: bool = True
) -> Completed:
    """A teacher traject run as the method goes: intake, three cycles with moments and action
    points, a refined question, and the final conversation (concluded unless told otherwise)."""
    traject = s.create_traject(course_id, coach.id, "teacher", "Rust in groep 5", teacher.id)
    t = traject.id
    s.save_intake(teacher.id, t, {"help_question": HELP_QUESTION, "intake_on": date(2026, 9, 14)})
    s.propose_question(teacher.id, t, QUESTION)
    s.complete_intake(coach.id, t)
    strengths: dict[int, list[int]] = {}
    points = []
    for n in (1, 2, 3):
        s.mark_recorded(coach.id, t, n, {"focus": FOCUS[n], "filming_on": date(2026, 9, 20 + n)})
        s.mark_analysed(coach.id, t, n, {"analysis_notes": "Sterke momenten gevonden"})
        s.share(coach.id, t, n)
        s.save_viewing_guide(teacher.id, t, n, GUIDE, submit=True)
        s.record_conversation(teacher.id, t, n, {"conversation_notes": "Micro-kijken"})
        # Written before the strengths, at an earlier time code: the report still puts the
        # moments of strength first.
        s.add_marker(
            coach.id, t, n, {"kind": "opportunity", "text": f"Kans {n}: Sem wacht lang",
                             "start_ms": 3_000, "domain": "klassenmanagement"},
        )  # fmt: skip
        late = s.add_marker(
            teacher.id, t, n, {"kind": "strength", "text": f"Kracht {n}b: ik wacht tot het stil is",
                               "start_ms": 62_000},
        )  # fmt: skip
        cycle_id = next(c.id for c in traject.cycles if c.number == n)
        montage = Montage(cycle_id=cycle_id, status="ready", title=f"Montage {n}")
        db.session.add(montage)
        db.session.flush()
        early = s.add_marker(
            coach.id, t, n, {"kind": "strength", "text": f"Kracht {n}a: knikken naar Daan",
                             "start_ms": 14_500, "end_ms": 21_000, "media_kind": "montage",
                             "media_id": montage.id,
                             "tags": ["Ontvangen: non-verbaal"], "domain": "interactie",
                             "teacher_words": "Ik zag hem gewoon opkijken"},
        )  # fmt: skip
        s.add_marker(
            coach.id, t, n, {"kind": "question", "text": "Werkvraag, niet voor het verslag"}
        )
        strengths[n] = [early.id, late.id]
        points.append(s.add_action_point(teacher.id, t, n, ACTIONS[n]).id)
        s.close_cycle(coach.id, t, n, {"next_filming_on": date(2026, 10, 20 + n)})
        if n == 1:
            draft = s.propose_question(coach.id, t, REFINED_BY_COACH, after_cycle=1)
            s.approve_question(teacher.id, t, draft.id)
            s.propose_question(coach.id, t, NEVER_APPROVED, after_cycle=1)
        if n == 2:
            s.propose_question(teacher.id, t, REFINED_BY_TEACHER, after_cycle=2)
    s.set_action_point_status(teacher.id, t, points[0], "established")
    s.set_action_point_status(coach.id, t, points[1], "tried")
    s.prepare_final(teacher.id, t, "Ik geef nu bewuster beurten", done=True)
    s.prepare_final(coach.id, t, "Zichtbaar in cycli 2 en 3", done=True)
    if conclude:
        s.conclude_final(
            coach.id,
            t,
            {
                "goal_reached": "partly",
                "how_it_came_about": HOW,
                "yield_per_domain": {
                    "interactie": YIELD_INTERACTIE,
                    "didactiek": YIELD_DIDACTIEK,
                },
                "visible_in_marker_ids": [strengths[3][0], strengths[2][1]],
                "teacher_evaluation": TEACHER_EVALUATION,
                "coach_reflection": COACH_REFLECTION,
                "follow_up": FOLLOW_UP,
            },
        )
    return Completed(traject, strengths, points)


@pytest.fixture
def pair(course: Course, create_user: Callable[..., User]) -> tuple[User, User]:
    return create_user("Sanne de Vries", "coach"), create_user("Jeroen Bakker")


@pytest.fixture
def done(course: Course, pair: tuple[User, User]) -> Completed:
    return complete_traject(course.id, *pair)


def test_report_has_every_section(done: Completed, pair: tuple[User, User]) -> None:
    coach, teacher = pair
    report = r.report_for(teacher.id, done.traject.id)

    # Traject data
    assert report.title == "Rust in groep 5" and report.kind == "teacher"
    assert report.course_title == "Groep 5"
    assert report.started_on == date(2026, 9, 14) == report.intake_on
    assert report.concluded_on == date.today()
    assert [(p.role, p.name) for p in report.participants] == [
        ("teacher", "Jeroen Bakker"),
        ("coach", "Sanne de Vries"),
    ]
    assert report.recording_count == 3 and report.conversation_count == 3
    # The question, quoted as the teacher gave it, and its refinements in order; a coach's
    # wording the teacher never approved is not part of it.
    assert report.help_question == HELP_QUESTION
    assert report.development_question is not None
    assert report.development_question.text == QUESTION
    assert [(q.text, q.after_cycle) for q in report.refinements] == [
        (REFINED_BY_COACH, 1),
        (REFINED_BY_TEACHER, 2),
    ]
    assert [q.version for q in report.questions] == [1, 2, 4]
    # Per cycle: focus, moments, action points
    assert [c.number for c in report.cycles] == [1, 2, 3]
    assert [c.focus for c in report.cycles] == [FOCUS[1], FOCUS[2], FOCUS[3]]
    assert [c.filming_on for c in report.cycles] == [date(2026, 9, 21 + i) for i in range(3)]
    assert all(c.strengths and c.opportunities and c.action_points for c in report.cycles)
    # Conclusions
    assert report.goal_reached == "partly"
    assert report.how_it_came_about == HOW
    assert [m.id for m in report.visible_in] == [done.strength_ids[3][0], done.strength_ids[2][1]]
    assert [(m.cycle_number, m.time_code) for m in report.visible_in] == [
        (3, "0:14–0:21"),
        (2, "1:02"),
    ]
    assert [(y.domain, y.text) for y in report.yields] == [
        ("interactie", YIELD_INTERACTIE),
        ("klassenmanagement", ""),
        ("didactiek", YIELD_DIDACTIEK),
    ]
    assert report.teacher_evaluation == TEACHER_EVALUATION
    assert report.coach_reflection == COACH_REFLECTION
    assert report.follow_up == FOLLOW_UP
    assert report.closed_early_reason is None


def test_strength_moments_come_before_opportunities(
    done: Completed, pair: tuple[User, User]
) -> None:
    report = r.report_for(pair[0].id, done.traject.id)
    for cycle in report.cycles:
        n = cycle.number
        # Strength first, in the order of the footage; then the opportunity (written first
        # and earlier in the footage); the conversation's working questions are left out.
        assert [m.kind for m in cycle.moments] == ["strength", "strength", "opportunity"]
        assert [m.id for m in cycle.strengths] == done.strength_ids[n]
        assert [m.text for m in cycle.moments] == [
            f"Kracht {n}a: knikken naar Daan",
            f"Kracht {n}b: ik wacht tot het stil is",
            f"Kans {n}: Sem wacht lang",
        ]
        first = cycle.strengths[0]
        assert first.time_code == "0:14–0:21" and first.media_kind == "montage"
        assert first.tags == ("Ontvangen: non-verbaal",) and first.domain == "interactie"
        assert first.teacher_words == "Ik zag hem gewoon opkijken"
        assert cycle.strengths[1].time_code == "1:02"
        # No stills exist yet, and none are made up.
        assert all(m.still_url is None for m in cycle.moments)


def test_action_points_carry_whether_they_were_tried(
    done: Completed, pair: tuple[User, User]
) -> None:
    report = r.report_for(pair[1].id, done.traject.id)
    points = [
        (c.number, a.text, a.status, a.was_tried) for c in report.cycles for a in c.action_points
    ]
    assert points == [
        (1, ACTIONS[1], "established", True),
        (2, ACTIONS[2], "tried", True),
        (3, ACTIONS[3], "planned", False),
    ]


def test_report_waits_for_the_concluded_final_conversation(
    course: Course, pair: tuple[User, User]
) -> None:
    coach, teacher = pair
    open_traject = complete_traject(course.id, coach, teacher, conclude=False).traject
    assert open_traject.status == "final"
    assert not r.is_ready(open_traject)
    with pytest.raises(r.ReportNotReady) as info:
        r.report_for(teacher.id, open_traject.id)
    assert info.value.traject.id == open_traject.id
    with pytest.raises(r.ReportNotReady):
        r.gather_report(open_traject)


def test_only_participants_with_the_right_see_the_report(
    done: Completed, course: Course, create_user: Callable[..., User]
) -> None:
    other_teacher = create_user("Andere leerkracht")
    other_coach = create_user("Andere coach", "coach")
    admin = create_user("Beheerder", "admin")
    for outsider in (other_teacher, other_coach, admin):
        with pytest.raises(Forbidden):
            r.report_for(outsider.id, done.traject.id)
    with pytest.raises(Forbidden):  # a guessed id tells nothing either
        r.report_for(other_teacher.id, 999_999)


def test_stills_only_for_those_who_may_see_footage(
    done: Completed,
    pair: tuple[User, User],
    create_user: Callable[..., User],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """School management sees outcomes, not footage: once the media issue fills the still-frame
    hook, management's report still carries none."""
    coach, teacher = pair
    manager = create_user("Directeur")
    # The services put management only in team trajects; the report's own gate is checked
    # here on its own, whatever way a management participant came to be there.
    from lti_tool.cycles.models import Participant

    db.session.add(Participant(traject_id=done.traject.id, user_id=manager.id, role="management"))
    db.session.flush()
    monkeypatch.setattr(r, "_still_url", lambda marker: f"/stills/{marker.id}.jpg")
    seen = r.report_for(teacher.id, done.traject.id).cycles[0].strengths[0]
    assert seen.still_url == f"/stills/{seen.id}.jpg"
    managed = r.report_for(manager.id, done.traject.id)
    assert managed.goal_reached == "partly"
    assert all(m.still_url is None for c in managed.cycles for m in c.moments)
    assert ("management", "Directeur") in [(p.role, p.name) for p in managed.participants]


def test_a_traject_closed_early_says_why(course: Course, pair: tuple[User, User]) -> None:
    coach, teacher = pair
    traject = s.create_traject(course.id, coach.id, "teacher", "Kort traject", teacher.id)
    s.save_intake(coach.id, traject.id, {"help_question": "Hulpvraag"})
    s.propose_question(teacher.id, traject.id, "Mijn vraag")
    s.complete_intake(coach.id, traject.id)
    s.close_early(coach.id, traject.id, "Leerkracht gaat met verlof")
    s.prepare_final(teacher.id, traject.id, "Terugblik", done=True)
    s.prepare_final(coach.id, traject.id, "Terugblik", done=True)
    s.conclude_final(coach.id, traject.id, {"goal_reached": "no", "how_it_came_about": "Te kort"})
    report = r.report_for(teacher.id, traject.id)
    assert report.closed_early_reason == "Leerkracht gaat met verlof"
    assert report.recording_count == 0 and report.conversation_count == 0
    assert all(not c.moments and not c.action_points for c in report.cycles)
    assert [y.text for y in report.yields] == ["", "", ""]


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (None, None, None),
        (0, None, "0:00"),
        (14_500, None, "0:14"),
        (14_500, 21_000, "0:14–0:21"),
        (14_100, 14_900, "0:14"),  # a segment within one second reads as a point
        (3_723_000, None, "1:02:03"),
    ],
)
def test_time_codes_read_as_a_clock(
    start: int | None, end: int | None, expected: str | None
) -> None:
    assert r.time_code(start, end) == expected
