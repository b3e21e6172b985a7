"""Kijkwijzers (viewing guides): the Dutch starter template, templates per school and traject,
and validation of a teacher's answers."""

from __future__ import annotations

import copy
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from lti_tool.db import db

QUESTION_KINDS = ("development_question", "text", "timecode", "scale", "checklist")

# The starter kijkwijzer from DOMAIN.md (a synthesis, not an official form). Dutch, as the
# schools use it; a school or coach may edit it.
STARTER_TEMPLATE: list[dict[str, Any]] = [
    {"key": "q1", "kind": "development_question", "label": "Mijn ontwikkelvraag"},
    {
        "key": "q2",
        "kind": "timecode",
        "label": "Wat zie en hoor ik? Beschrijf zonder oordeel, bij een tijdcode.",
    },
    {
        "key": "q3",
        "kind": "timecode",
        "label": "Een moment waarop iets werkt: wat doe ik, en wat is het effect op de "
        "leerling(en)?",
    },
    {
        "key": "q4",
        "kind": "text",
        "label": "Welke initiatieven van leerlingen zie ik, en hoe ontvang ik ze (verbaal, "
        "non-verbaal)?",
    },
    {
        "key": "q5",
        "kind": "scale",
        "label": "Beurten: hoe evenwichtig verdeel ik de beurten?",
        "scale": [1, 5],
        "scale_labels": ["weinig evenwichtig", "heel evenwichtig"],
    },
    {"key": "q6", "kind": "text", "label": "Wat wil ik blijven doen, of vaker doen?"},
    {
        "key": "q7",
        "kind": "checklist",
        "label": "Waar wil ik in het micro-kijken samen naar kijken?",
        "options": [
            "Het begin van de les",
            "Een moment van contact met één leerling",
            "De beurtverdeling",
            "Het moment dat ik zelf koos (tijdcode hierboven)",
        ],
    },
]


def template_for(traject: Any) -> list[dict[str, Any]]:
    """The questions a cycle's kijkwijzer starts from: the traject's own template, else the
    school's, else the starter template (a copy: answers keep the questions they answered)."""
    from lti_tool.cycles.models import ViewingGuideTemplate
    from lti_tool.people.models import Course

    own = db.session.scalar(
        sa.select(ViewingGuideTemplate)
        .where(ViewingGuideTemplate.traject_id == traject.id)
        .order_by(ViewingGuideTemplate.id.desc())
    )
    if own is not None:
        return copy.deepcopy(own.questions)
    course = db.session.get(Course, traject.course_id)
    if course is not None:
        school = db.session.scalar(
            sa.select(ViewingGuideTemplate)
            .where(
                ViewingGuideTemplate.platform_id == course.platform_id,
                ViewingGuideTemplate.traject_id.is_(None),
            )
            .order_by(ViewingGuideTemplate.id.desc())
        )
        if school is not None:
            return copy.deepcopy(school.questions)
    return copy.deepcopy(STARTER_TEMPLATE)


class AnswerRefused(ValueError):
    def __init__(self, key: str, message: object) -> None:
        super().__init__(key)
        self.key = key
        self.message = message


def validate_questions(questions: Any) -> list[dict[str, Any]]:
    """A template as edited by an administrator or coach: well-formed or refused."""
    if not isinstance(questions, list) or not questions:
        raise AnswerRefused("questions", _l("A kijkwijzer needs at least one question."))
    seen: set[str] = set()
    clean = []
    for index, question in enumerate(questions):
        if not isinstance(question, dict):
            raise AnswerRefused(str(index), _l("Every question needs a text."))
        kind = question.get("kind")
        label = str(question.get("label") or "").strip()
        key = str(question.get("key") or f"q{index + 1}")
        if kind not in QUESTION_KINDS or not label or key in seen:
            raise AnswerRefused(key, _l("Every question needs a text and a kind."))
        seen.add(key)
        item: dict[str, Any] = {"key": key, "kind": kind, "label": label[:500]}
        if kind == "checklist":
            options = [
                str(o).strip()[:200] for o in question.get("options") or [] if str(o).strip()
            ]
            if not options:
                raise AnswerRefused(key, _l("A checklist needs options."))
            item["options"] = options
        if kind == "scale":
            low, high = (question.get("scale") or [1, 5])[:2]
            if not (isinstance(low, int) and isinstance(high, int) and low < high <= 10):
                raise AnswerRefused(key, _l("A scale runs from a low to a high number."))
            item["scale"] = [low, high]
            if question.get("scale_labels"):
                item["scale_labels"] = [str(x)[:60] for x in question["scale_labels"][:2]]
        clean.append(item)
    return clean


def validate_answers(
    questions: list[dict[str, Any]], answers: dict[str, Any], complete: bool
) -> dict[str, Any]:
    """Answers keyed by question key; with `complete`, every answerable question is needed."""
    if not isinstance(answers, dict):
        raise AnswerRefused("answers", _l("The answers could not be read."))
    clean: dict[str, Any] = {}
    for question in questions:
        key, kind = question["key"], question["kind"]
        value = answers.get(key)
        if kind == "development_question":
            continue
        if kind == "text":
            text = value.strip() if isinstance(value, str) else ""
            if text:
                clean[key] = text[:4000]
        elif kind == "timecode":
            entry = value if isinstance(value, dict) else {}
            text = str(entry.get("text") or "").strip()
            ms = entry.get("ms")
            if ms is not None and (not isinstance(ms, int) or ms < 0):
                raise AnswerRefused(key, _l("Give a valid time code."))
            if text or ms is not None:
                clean[key] = {"text": text[:4000], "ms": ms}
        elif kind == "scale":
            low, high = question.get("scale", [1, 5])
            if value not in (None, ""):
                try:
                    number = int(value)
                except (TypeError, ValueError):
                    raise AnswerRefused(key, _l("Choose a value on the scale.")) from None
                if not low <= number <= high:
                    raise AnswerRefused(key, _l("Choose a value on the scale."))
                clean[key] = number
        elif kind == "checklist":
            chosen = value if isinstance(value, list) else []
            options = question.get("options", [])
            if any(c not in options for c in chosen):
                raise AnswerRefused(key, _l("Choose from the listed options."))
            if chosen:
                clean[key] = [c for c in options if c in chosen]
        if complete and key not in clean:
            raise AnswerRefused(key, _l("Answer every question before you submit."))
    return clean


# --- editing templates ------------------------------------------------------------------------


def school_template(platform_id: int) -> list[dict[str, Any]]:
    """The school's kijkwijzer (its platform's), or the starter template."""
    from lti_tool.cycles.models import ViewingGuideTemplate

    row = db.session.scalar(
        sa.select(ViewingGuideTemplate)
        .where(
            ViewingGuideTemplate.platform_id == platform_id,
            ViewingGuideTemplate.traject_id.is_(None),
        )
        .order_by(ViewingGuideTemplate.id.desc())
    )
    return copy.deepcopy(row.questions if row is not None else STARTER_TEMPLATE)


def save_school_template(platform_id: int, questions: Any, name: str = "Kijkwijzer") -> None:
    """An administrator edits the school's kijkwijzer (the caller checks the admin role)."""
    from lti_tool.cycles.models import ViewingGuideTemplate

    clean = validate_questions(questions)
    db.session.add(
        ViewingGuideTemplate(platform_id=platform_id, traject_id=None, name=name, questions=clean)
    )
    db.session.flush()


def save_traject_template(actor_id: int, traject_id: int, questions: Any) -> None:
    """A coach adapts the kijkwijzer for one traject; cycles shared later use it."""
    from lti_tool.cycles.access import require
    from lti_tool.cycles.models import ViewingGuideTemplate

    require(actor_id, traject_id, "coach_step")
    clean = validate_questions(questions)
    db.session.add(ViewingGuideTemplate(traject_id=traject_id, name="Kijkwijzer", questions=clean))
    db.session.flush()
