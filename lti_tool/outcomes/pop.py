"""The POP contribution's content: built from a traject and the teacher's edits, and exported as
JSON and CSV (the PDF is rendered by lti_tool.web.pop from the same content).

Content schema ("beeldcoach.pop-contribution/1"), also the JSON export:
    goal, competence_domains, method_domains, development_question{help_question, wordings},
    activities[{kind, cycle, on}], evidence{strengths[{ref, cycle, media_kind, time_code, text,
    teacher_words, domain}], action_points[{ref, cycle, text, status}]}, reflection{teacher,
    coach}, result{goal_reached, explanation, yielded}, follow_up, traject{title, kind, course,
    started_on, completed_on, coaches}, teacher.
No footage goes in: a moment is text with its time code, and `ref` ("M12", "A7") names a marker or
action point that only Beeldcoach can resolve, and only while it exists.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from lti_tool.cycles.models import (
    P_COACH,
    ActionPoint,
    Marker,
    Participant,
    Traject,
)
from lti_tool.cycles.report import time_code
from lti_tool.cycles.services import current_question
from lti_tool.db import db
from lti_tool.outcomes.models import COMPETENCE_DOMAINS, METHOD_DOMAINS
from lti_tool.people.models import Course, User

SCHEMA = "beeldcoach.pop-contribution/1"
TEXT_LIMIT = 10_000
#: Which competence domain a method domain usually serves: the default the teacher adjusts.
COMPETENCE_FOR = {
    "interactie": "pedagogisch",
    "klassenmanagement": "pedagogisch",
    "didactiek": "vakdidactisch",
}
#: The fields a teacher edits, with the kind of value each holds.
EDITABLE = (
    "goal",
    "competence_domains",
    "method_domains",
    "teacher_reflection",
    "include_coach_reflection",
    "yielded",
    "follow_up",
    "evidence",
)


def _day(value: date | datetime | None) -> str | None:
    if value is None:
        return None
    return (value.date() if isinstance(value, datetime) else value).isoformat()


def build_content(traject: Traject, teacher: User, edits: dict[str, Any]) -> dict[str, Any]:
    """The contribution as it stands: the traject's facts merged with the teacher's edits."""
    intake = traject.intake
    review = traject.final_review
    concluded = review is not None and review.concluded_at is not None
    question = current_question(traject)
    cycles = {c.id: c for c in traject.cycles}
    markers = list(
        db.session.scalars(
            sa.select(Marker)
            .where(Marker.cycle_id.in_(list(cycles) or [0]), Marker.kind == "strength")
            .order_by(Marker.start_ms.is_(None), Marker.start_ms, Marker.id)
        )
    )
    markers.sort(key=lambda m: cycles[m.cycle_id].number)
    points = list(
        db.session.scalars(
            sa.select(ActionPoint)
            .where(ActionPoint.traject_id == traject.id)
            .order_by(ActionPoint.id)
        )
    )
    texts = edits.get("evidence") if isinstance(edits.get("evidence"), dict) else {}
    assert isinstance(texts, dict)

    def evidence_text(ref: str, default: str) -> str | None:
        """The teacher's wording of an item; an emptied text leaves the item out."""
        if ref not in texts:
            return default
        value = texts[ref]
        return value if isinstance(value, str) and value.strip() else None

    strengths = []
    for marker in markers:
        ref = f"M{marker.id}"
        text = evidence_text(ref, marker.text)
        if text is None:
            continue
        strengths.append(
            {
                "ref": ref,
                "cycle": cycles[marker.cycle_id].number,
                "media_kind": marker.media_kind,
                "time_code": time_code(marker.start_ms, marker.end_ms),
                "text": text,
                "teacher_words": marker.teacher_words or "",
                "domain": marker.domain,
            }
        )
    action_points = []
    for point in points:
        ref = f"A{point.id}"
        text = evidence_text(ref, point.text)
        if text is None or point.cycle_id not in cycles:
            continue
        action_points.append(
            {
                "ref": ref,
                "cycle": cycles[point.cycle_id].number,
                "text": text,
                "status": point.status,
            }
        )

    yields = (review.yield_per_domain or {}) if concluded and review is not None else {}
    derived_domains = [
        d for d in METHOD_DOMAINS if yields.get(d) or any(m.domain == d for m in markers)
    ]
    method_domains = _choice(edits.get("method_domains"), METHOD_DOMAINS, derived_domains)
    competence_default = [
        c for c in COMPETENCE_DOMAINS if any(COMPETENCE_FOR[d] == c for d in method_domains)
    ]
    activities: list[dict[str, Any]] = []
    if intake is not None and (intake.intake_on or intake.completed_at):
        activities.append(
            {"kind": "intake", "cycle": None, "on": _day(intake.intake_on or intake.completed_at)}
        )
    for cycle in traject.cycles:
        if cycle.recorded_at is not None:
            activities.append(
                {
                    "kind": "recording",
                    "cycle": cycle.number,
                    "on": _day(cycle.filming_on or cycle.recorded_at),
                }
            )
        if cycle.discussed_at is not None:
            activities.append(
                {
                    "kind": "coaching_conversation",
                    "cycle": cycle.number,
                    "on": _day(cycle.conversation_on or cycle.discussed_at),
                }
            )
    if concluded and review is not None:
        activities.append(
            {"kind": "final_conversation", "cycle": None, "on": _day(review.concluded_at)}
        )

    default_yield = "\n".join(f"{d}: {yields[d]}" for d in METHOD_DOMAINS if yields.get(d))
    coaches = _names(traject, P_COACH)
    course = db.session.get(Course, traject.course_id)
    include_coach = edits.get("include_coach_reflection", True) is not False
    return {
        "schema": SCHEMA,
        "teacher": teacher.display_name,
        "traject": {
            "title": traject.title,
            "kind": traject.kind,
            "course": course.title if course is not None else None,
            "started_on": _day(
                (intake.intake_on if intake is not None else None) or traject.created_at
            ),
            "completed_on": _day(traject.completed_at),
            "coaches": coaches,
        },
        "development_question": {
            "help_question": intake.help_question if intake is not None else "",
            "wordings": [
                q.text
                for q in sorted(traject.questions, key=lambda q: q.version)
                if q.approved_at is not None
            ],
        },
        "goal": _edited(edits, "goal", question.text if question is not None else ""),
        "competence_domains": _choice(
            edits.get("competence_domains"), COMPETENCE_DOMAINS, competence_default
        ),
        "method_domains": method_domains,
        "activities": activities,
        "evidence": {"strengths": strengths, "action_points": action_points},
        "reflection": {
            "teacher": _edited(
                edits,
                "teacher_reflection",
                review.teacher_evaluation if concluded and review is not None else "",
            ),
            "coach": (review.coach_reflection if concluded and review is not None else "")
            if include_coach
            else "",
        },
        "result": {
            "goal_reached": review.goal_reached if concluded and review is not None else None,
            "explanation": review.how_it_came_about if concluded and review is not None else "",
            "yielded": _edited(edits, "yielded", default_yield),
        },
        "follow_up": _edited(
            edits, "follow_up", review.follow_up if concluded and review is not None else ""
        ),
    }


def _edited(edits: dict[str, Any], key: str, default: str) -> str:
    value = edits.get(key)
    return value if isinstance(value, str) else default


def _choice(value: object, allowed: tuple[str, ...], default: list[str]) -> list[str]:
    if not isinstance(value, list):
        return list(default)
    return [a for a in allowed if a in value]


def _names(traject: Traject, role: str) -> list[str]:
    ids = sa.select(Participant.user_id).where(
        Participant.traject_id == traject.id, Participant.role == role
    )
    users = db.session.scalars(sa.select(User).where(User.id.in_(ids))).all()
    return sorted(u.display_name for u in users)


def clean_edits(form: dict[str, Any], refs: set[str]) -> dict[str, Any]:
    """The teacher's edits from a form, limited to known fields, choices and evidence refs."""
    edits: dict[str, Any] = {}
    for key in ("goal", "teacher_reflection", "yielded", "follow_up"):
        value = form.get(key)
        if isinstance(value, str):
            edits[key] = value.strip()[:TEXT_LIMIT]
    for key, allowed in (
        ("competence_domains", COMPETENCE_DOMAINS),
        ("method_domains", METHOD_DOMAINS),
    ):
        value = form.get(key)
        if isinstance(value, list):
            edits[key] = [a for a in allowed if a in value]
    edits["include_coach_reflection"] = bool(form.get("include_coach_reflection"))
    evidence = form.get("evidence")
    if isinstance(evidence, dict):
        edits["evidence"] = {
            ref: text.strip()[:TEXT_LIMIT]
            for ref, text in evidence.items()
            if ref in refs and isinstance(text, str)
        }
    return edits


# --- exports ----------------------------------------------------------------------------------


def as_json(content: dict[str, Any], meta: dict[str, Any]) -> str:
    """The contribution as a JSON document: the content with its version and approval."""
    return json.dumps({**meta, **content}, ensure_ascii=False, indent=2, sort_keys=False)


def as_csv(content: dict[str, Any], meta: dict[str, Any], labels: dict[str, str]) -> str:
    """One row per item: section, field, cycle, date, status, text. Semicolon separated with
    a byte order mark: Dutch Excel opens such a file straight into columns, and HR systems read
    it as ordinary CSV with `;` as delimiter."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, delimiter=";", quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow(["section", "field", "cycle", "date", "status", "text"])

    def row(section: str, field: str, text: object = "", cycle: object = "", on: object = "",
            status: object = "") -> None:  # fmt: skip
        writer.writerow([section, field, cycle or "", on or "", status or "", text or ""])

    row("meta", "schema", content.get("schema"))
    row("meta", "version", meta.get("version"))
    row("meta", "status", status=meta.get("status"))
    row("meta", "approved_at", on=meta.get("approved_at"))
    row("meta", "teacher", content.get("teacher"))
    traject = content.get("traject") or {}
    row("traject", "title", traject.get("title"))
    row("traject", "course", traject.get("course"))
    row(
        "traject",
        "period",
        on=f"{traject.get('started_on') or ''}/{traject.get('completed_on') or ''}",
    )
    row("traject", "coaches", ", ".join(traject.get("coaches") or []))
    question = content.get("development_question") or {}
    row("question", "help_question", question.get("help_question"))
    for wording in question.get("wordings") or []:
        row("question", "wording", wording)
    row("goal", "goal", content.get("goal"))
    # Every section has at least one row, also when empty: importers look for its fields.
    for domain in content.get("competence_domains") or [""]:
        row("domains", "competence_domain", labels.get(domain, domain))
    for domain in content.get("method_domains") or [""]:
        row("domains", "method_domain", labels.get(domain, domain))
    if not content.get("activities"):
        row("activities", "")
    for activity in content.get("activities") or []:
        kind = activity.get("kind")
        row("activities", kind, labels.get(kind, kind), activity.get("cycle"), activity.get("on"))
    evidence = content.get("evidence") or {}
    if not evidence.get("strengths"):
        row("evidence", "strength_moment")
    if not evidence.get("action_points"):
        row("evidence", "action_point")
    for moment in evidence.get("strengths") or []:
        where = " ".join(
            str(p)
            for p in (labels.get(moment.get("media_kind") or "", ""), moment.get("time_code"))
            if p
        )
        text = moment.get("text")
        if moment.get("teacher_words"):
            text = f"{text} — “{moment['teacher_words']}”"
        row("evidence", "strength_moment", f"{text} ({where})" if where else text,
            moment.get("cycle"))  # fmt: skip
    for point in evidence.get("action_points") or []:
        row("evidence", "action_point", point.get("text"), point.get("cycle"),
            status=point.get("status"))  # fmt: skip
    reflection = content.get("reflection") or {}
    row("reflection", "teacher", reflection.get("teacher"))
    row("reflection", "coach", reflection.get("coach"))
    result = content.get("result") or {}
    row("result", "goal_reached", status=result.get("goal_reached"))
    row("result", "explanation", result.get("explanation"))
    row("result", "yielded", result.get("yielded"))
    row("follow_up", "follow_up", content.get("follow_up"))
    return out.getvalue()
