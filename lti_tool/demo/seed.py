"""The demo school: the demo platform's registration, its people and course, and one traject of
each kind at a different step. Idempotent, and refused with production settings."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from flask import current_app

from lti_tool.cycles import services as s
from lti_tool.cycles.models import Traject
from lti_tool.db import db, utcnow
from lti_tool.demo import footage
from lti_tool.demo.platform import (
    CLIENT_ID,
    COURSE,
    DEMO_ISSUER,
    DEPLOYMENT_ID,
    PEOPLE,
)
from lti_tool.launch.claims import map_roles
from lti_tool.launch.keys import ensure_keys
from lti_tool.launch.models import Deployment, Platform
from lti_tool.launch.registration import add_deployment
from lti_tool.people.models import Course, Membership, User

DEFAULT_BASE = "http://127.0.0.1:5000/demo"
TEACHER_TRAJECT = "Rust en aandacht tijdens de instructie"
TEAM_TRAJECT = "Eén pedagogisch klimaat in de middenbouw"
CHILD_TRAJECT = "Concentratie bij zelfstandig werken"


class SeedRefused(RuntimeError):
    pass


def register_demo_platform(base_url: str) -> Platform:
    """The demo platform's registration; its URLs point at where the demo is served."""
    record = db.session.scalar(
        sa.select(Platform).where(Platform.issuer == DEMO_ISSUER, Platform.client_id == CLIENT_ID)
    )
    if record is None:
        record = Platform(issuer=DEMO_ISSUER, client_id=CLIENT_ID, source="demo")
        db.session.add(record)
    record.name = "Beeldcoach demo platform"
    if record.auth_login_url != base_url + "/auth":
        record.auth_login_url = base_url + "/auth"
        record.auth_token_url = base_url + "/token"
        record.key_set_url = base_url + "/jwks"
        record.jwks = None
        record.jwks_fetched_at = None
    db.session.flush()
    return record


def seed_demo(base_url: str = DEFAULT_BASE) -> None:
    """Prepare the demo school (flushes; the caller commits). Running it again changes nothing."""
    settings = current_app.config["BEELDCOACH"]
    if settings.is_production or not settings.demo_enabled:
        raise SeedRefused("demo seeding never runs with production settings")
    ensure_keys()
    platform = db.session.scalar(
        sa.select(Platform).where(Platform.issuer == DEMO_ISSUER, Platform.client_id == CLIENT_ID)
    ) or register_demo_platform(base_url)
    deployment = add_deployment(platform, DEPLOYMENT_ID)
    course = _course(platform, deployment)
    people = {person.key: _person(person, course) for person in PEOPLE}
    existing = set(
        db.session.scalars(sa.select(Traject.title).where(Traject.course_id == course.id))
    )
    coach, jeroen, fatima, ingrid = (people[k] for k in ("coach", "teacher1", "teacher2", "admin"))
    if TEACHER_TRAJECT not in existing:
        _teacher_traject_in_second_cycle(course, coach, jeroen)
    if TEAM_TRAJECT not in existing:
        _team_traject_at_intake(course, coach, ingrid, jeroen, fatima)
    if CHILD_TRAJECT not in existing:
        _child_traject_waiting_for_consent(course, coach, fatima)
    db.session.flush()


def _course(platform: Platform, deployment: Deployment) -> Course:
    course = db.session.scalar(
        sa.select(Course).where(
            Course.deployment_pk == deployment.id, Course.context_id == COURSE["id"]
        )
    )
    if course is None:
        course = Course(
            platform_id=platform.id,
            deployment_pk=deployment.id,
            context_id=str(COURSE["id"]),
            title=str(COURSE["title"]),
            label=str(COURSE["label"]),
        )
        db.session.add(course)
        db.session.flush()
    return course


def _person(person: object, course: Course) -> User:
    from lti_tool.demo.platform import DemoPerson

    assert isinstance(person, DemoPerson)
    user = db.session.scalar(
        sa.select(User).where(User.issuer == DEMO_ISSUER, User.sub == person.sub)
    )
    if user is None:
        user = User(
            issuer=DEMO_ISSUER,
            sub=person.sub,
            name=person.name,
            given_name=person.given_name,
            family_name=person.family_name,
            email=person.email,
        )
        db.session.add(user)
        db.session.flush()
    membership = db.session.scalar(
        sa.select(Membership).where(
            Membership.user_id == user.id, Membership.course_id == course.id
        )
    )
    if membership is None:
        db.session.add(
            Membership(
                user_id=user.id,
                course_id=course.id,
                roles=map_roles(list(person.roles)),
                lti_roles=list(person.roles),
                last_launch_at=utcnow(),
            )
        )
        db.session.flush()
    return user


GUIDE_ANSWERS = {
    "q2": {
        "text": "Tijdens de rekeninstructie kijken de meeste kinderen naar het bord.",
        "ms": 42_000,
    },
    "q3": {
        "text": "Ik loop naar Daan toe en leg mijn hand op zijn tafel; hij pakt zijn schrift.",
        "ms": 95_000,
    },
    "q4": "Sara vraagt twee keer iets; ik knik, de tweede keer geef ik haar de beurt.",
    "q5": 3,
    "q6": "Vaker benoemen wat goed gaat, zoals bij Daan.",
    "q7": ["Een moment van contact met één leerling", "De beurtverdeling"],
}


def _teacher_traject_in_second_cycle(course: Course, coach: User, teacher: User) -> None:
    t = s.create_traject(course.id, coach.id, "teacher", TEACHER_TRAJECT, teacher.id).id
    s.save_intake(
        coach.id,
        t,
        {
            "help_question": "Hoe krijg ik meer rust in de groep tijdens de instructie?",
            "arrangements": "Drie opnames van een rekenles, elk gevolgd door een gesprek.",
            "conditions": "De beelden blijven tussen Jeroen en de beeldbegeleider.",
            "planned_dates": "Opnames in week 46, 48 en 50.",
            "intake_on": date(2026, 11, 2),
        },
    )
    question = s.propose_question(
        coach.id, t, "Hoe zorg ik dat alle kinderen betrokken blijven tijdens de instructie?"
    )
    s.approve_question(teacher.id, t, question.id)
    s.complete_intake(coach.id, t)
    cycles = {c.number: c.id for c in db.session.get(Traject, t).cycles}  # type: ignore[union-attr]
    first = footage.seed_recording(cycles[1], coach.id, "rekenles-9-november.mp4")
    s.mark_recorded(
        coach.id,
        t,
        1,
        {"focus": "Betrokkenheid bij de instructie", "filming_on": date(2026, 11, 9)},
    )
    footage.seed_montage(cycles[1], coach.id, first)
    on_footage = {"media_kind": "recording", "media_id": first.id}
    s.mark_analysed(
        coach.id, t, 1, {"analysis_notes": "Drie momenten van kracht rond non-verbaal ontvangen."}
    )
    s.share(coach.id, t, 1)
    s.save_viewing_guide(teacher.id, t, 1, GUIDE_ANSWERS, submit=True)
    s.record_conversation(
        teacher.id,
        t,
        1,
        {
            "conversation_notes": "Samen stilgezet bij 1:35: Jeroen ziet zelf hoe zijn hand op "
            "tafel Daan helpt beginnen.",
            "conversation_on": date(2026, 11, 12),
        },
    )
    s.add_marker(
        coach.id,
        t,
        1,
        {
            **on_footage,
            "kind": "strength",
            "text": "Hand op tafel: Daan begint",
            "start_ms": 95_000,
            "tags": ["Ontvangen: non-verbaal"],
            "domain": "interactie",
            "teacher_words": "Ik zag dat hij meteen ging schrijven.",
        },
    )
    s.add_marker(
        coach.id,
        t,
        1,
        {
            **on_footage,
            "kind": "strength",
            "text": "Instemmend knikken naar Sara",
            "start_ms": 131_000,
            "end_ms": 136_000,
            "tags": ["Instemmend benoemen"],
            "domain": "interactie",
        },
    )
    s.add_marker(
        teacher.id,
        t,
        1,
        {
            **on_footage,
            "kind": "opportunity",
            "text": "De kinderen achterin krijgen geen beurt",
            "start_ms": 210_000,
            "tags": ["Beurt geven, beurtverdeling"],
            "domain": "klassenmanagement",
        },
    )
    s.add_marker(
        teacher.id,
        t,
        1,
        {**on_footage, "kind": "question", "text": "Wat doet Noor hier?", "start_ms": 250_000},
    )
    s.add_action_point(
        teacher.id, t, 1, "Bij de start van de instructie drie kinderen bewust aankijken."
    )
    s.add_action_point(coach.id, t, 1, "Beurten ook aan de kinderen achterin geven.")
    s.close_cycle(coach.id, t, 1, {"next_filming_on": date(2026, 11, 23)})
    second = footage.seed_recording(cycles[2], coach.id, "rekenles-23-november.mp4")
    s.mark_recorded(coach.id, t, 2, {"focus": "Beurtverdeling", "filming_on": date(2026, 11, 23)})
    footage.seed_montage(cycles[2], coach.id, second)
    s.mark_analysed(coach.id, t, 2, {"analysis_notes": "Beurten gaan nu ook naar achteren."})
    s.share(coach.id, t, 2)  # now the teacher watches and fills in the kijkwijzer


def _team_traject_at_intake(course: Course, coach: User, management: User, *members: User) -> None:
    t = s.create_traject(course.id, coach.id, "team", TEAM_TRAJECT, section="middenbouw").id
    s.add_participant(coach.id, t, "management", management.id)
    for member in members:
        s.add_participant(coach.id, t, "team_member", member.id)
    s.save_intake(
        management.id,
        t,
        {"help_question": "Hoe komen we tot één aanpak bij de overgangen tussen lessen?"},
    )


def _child_traject_waiting_for_consent(course: Course, coach: User, teacher: User) -> None:
    t = s.create_traject(
        course.id, coach.id, "child", CHILD_TRAJECT, teacher.id, pupil_code="L-12"
    ).id
    s.add_participant(coach.id, t, "parent", name="Ouders van L-12")
    s.save_intake(
        teacher.id,
        t,
        {
            "help_question": "L-12 komt bij zelfstandig werken moeilijk op gang. Wat helpt hem?",
            "arrangements": "Filmen in de klas en op het plein, na toestemming van de ouders.",
            "conditions": "Eerst de toestemming van de ouders vastleggen; dan pas filmen.",
        },
    )
