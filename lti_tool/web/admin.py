"""Pages for a school's administrators: the school's kijkwijzer and its set of marker tags.

The school is the platform of the administrator's course. Administering the tool gives no access
to any traject or footage: these pages touch the school's templates only.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request
from flask_babel import lazy_gettext as _l

from lti_tool.cycles.tags import TagRefused, active_tags, save_tags
from lti_tool.cycles.viewing_guides import (
    QUESTION_KINDS,
    AnswerRefused,
    save_school_template,
    school_template,
)
from lti_tool.db import db
from lti_tool.people.models import ROLE_ADMIN
from lti_tool.privacy.access import Forbidden
from lti_tool.web.auth import Viewer, require_viewer

bp = Blueprint("admin", __name__, template_folder="templates")

MAX_QUESTIONS = 40
BLANK_ROWS = 2  # empty rows under the questions, to add new ones

KIND_LABELS = {
    "development_question": _l("The development question (shown, not answered)"),
    "text": _l("Free text"),
    "timecode": _l("A time code with a description"),
    "scale": _l("A scale"),
    "checklist": _l("A checklist"),
}
assert set(KIND_LABELS) == set(QUESTION_KINDS)


def require_admin() -> tuple[Viewer, int]:
    """The administrator and their school (the platform of their course); 403 otherwise."""
    viewer = require_viewer()
    if viewer.course is None or ROLE_ADMIN not in viewer.course_roles:
        raise Forbidden("administer")
    return viewer, viewer.course.platform_id


# --- the kijkwijzer ----------------------------------------------------------------------------


@bp.route("/admin/kijkwijzer", methods=["GET", "POST"])
def kijkwijzer() -> tuple[str, int]:
    viewer, platform_id = require_admin()
    if request.method == "GET":
        return _kijkwijzer_page(viewer, rows_from_questions(school_template(platform_id)))
    rows = rows_from_form(request.form)
    try:
        save_school_template(platform_id, questions_from_rows(rows))
    except AnswerRefused as exc:
        db.session.rollback()
        # Keep exactly what was typed, blank rows included, and point at the question.
        return _kijkwijzer_page(viewer, rows, error=exc.message, error_key=exc.key, status=422)
    db.session.commit()
    return _kijkwijzer_page(viewer, rows_from_questions(school_template(platform_id)), saved=True)


def _kijkwijzer_page(
    viewer: Viewer,
    rows: list[dict[str, Any]],
    error: object = None,
    error_key: str | None = None,
    saved: bool = False,
    status: int = 200,
) -> tuple[str, int]:
    filled = [r for r in rows if not _is_blank(r)]
    blanks = [r for r in rows if _is_blank(r)]
    rows = filled + blanks + [_blank_row() for _ in range(max(0, BLANK_ROWS - len(blanks)))]
    return render_template(
        "admin/kijkwijzer.html",
        viewer=viewer,
        rows=rows[:MAX_QUESTIONS],
        kinds=KIND_LABELS,
        error=error,
        error_key=error_key,
        saved=saved,
    ), status


def _blank_row() -> dict[str, Any]:
    return {
        "key": "",
        "kind": "text",
        "label": "",
        "options": "",
        "scale_low": "1",
        "scale_high": "5",
        "scale_label_low": "",
        "scale_label_high": "",
        "position": "",
        "remove": False,
    }


def _is_blank(row: dict[str, Any]) -> bool:
    return not (row["key"] or row["label"].strip() or row["options"].strip())


def rows_from_questions(questions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stored questions as form rows."""
    rows = []
    for index, q in enumerate(questions):
        low, high = (q.get("scale") or [1, 5])[:2]
        labels = list(q.get("scale_labels") or []) + ["", ""]
        rows.append(
            {
                **_blank_row(),
                "key": str(q.get("key") or ""),
                "kind": q.get("kind") or "text",
                "label": str(q.get("label") or ""),
                "options": "\n".join(q.get("options") or []),
                "scale_low": str(low),
                "scale_high": str(high),
                "scale_label_low": labels[0],
                "scale_label_high": labels[1],
                "position": str(index + 1),
            }
        )
    return rows


def rows_from_form(form: Any) -> list[dict[str, Any]]:
    """The rows as typed (every value kept as text, for showing again on a refusal)."""
    try:
        count = min(int(form.get("count", "0")), MAX_QUESTIONS)
    except ValueError:
        count = 0
    rows = []
    for i in range(max(count, 0)):
        row: dict[str, Any] = {
            field: str(form.get(f"q-{i}-{field}", ""))
            for field in _blank_row()
            if field != "remove"
        }
        row["key"] = row["key"].strip()
        row["remove"] = form.get(f"q-{i}-remove") == "1"
        rows.append(row)
    return rows


def questions_from_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows to questions for validate_questions: removed and blank rows dropped, sorted by the
    position typed, new rows given a key no other question uses."""
    kept = [(i, r) for i, r in enumerate(rows) if not r["remove"] and not _is_blank(r)]
    kept.sort(key=lambda item: (_position(item[1]["position"], item[0] + 1), item[0]))
    # Keys of removed questions are not given to new ones: answers already given keep meaning.
    used = {r["key"] for r in rows if r["key"]}
    number = 0
    questions = []
    for _index, row in kept:
        key = row["key"]
        if not key:
            number += 1
            while f"q{number}" in used:
                number += 1
            key = f"q{number}"
            used.add(key)
            row["key"] = key  # a refusal shows the row with the key it was checked under
        question: dict[str, Any] = {"key": key, "kind": row["kind"], "label": row["label"]}
        if row["kind"] == "checklist":
            question["options"] = [o for o in row["options"].splitlines() if o.strip()]
        if row["kind"] == "scale":
            question["scale"] = [_number(row["scale_low"]), _number(row["scale_high"])]
            labels = [row["scale_label_low"].strip(), row["scale_label_high"].strip()]
            if any(labels):
                question["scale_labels"] = labels
        questions.append(question)
    return questions


def _position(text: str, default: int) -> float:
    try:
        return float(text)
    except ValueError:
        return default


def _number(text: str) -> int | str:
    """An int where one was typed; otherwise the text, which validate_questions refuses."""
    try:
        return int(text.strip())
    except ValueError:
        return text


# --- the tags ---------------------------------------------------------------------------------


@bp.route("/admin/tags", methods=["GET", "POST"])
def tags() -> tuple[str, int]:
    viewer, platform_id = require_admin()
    if request.method == "GET":
        return _tags_page(viewer, "\n".join(active_tags(platform_id)))
    typed = request.form.get("tags", "")
    try:
        labels = save_tags(platform_id, typed.splitlines())
    except TagRefused as exc:
        db.session.rollback()
        return _tags_page(viewer, typed, error=exc.message, status=422)
    db.session.commit()
    return _tags_page(viewer, "\n".join(labels), saved=True)


def _tags_page(
    viewer: Viewer, text: str, error: object = None, saved: bool = False, status: int = 200
) -> tuple[str, int]:
    return render_template(
        "admin/tags.html", viewer=viewer, text=text, error=error, saved=saved
    ), status
