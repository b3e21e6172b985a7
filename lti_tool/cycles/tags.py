"""The editable set of marker tags: the interaction principles of video interaction guidance."""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from lti_tool.cycles.models import MarkerTag
from lti_tool.db import db

# DOMAIN.md's starter set (Dutch: the words the method uses); a school may edit it.
STARTER_TAGS = (
    "Initiatief",
    "Ontvangen: verbaal",
    "Ontvangen: non-verbaal",
    "Volgen, toewenden, aankijken",
    "Instemmend benoemen",
    "Beurt geven, beurtverdeling",
    "Leiding geven, sturen",
)


class TagRefused(ValueError):
    def __init__(self, message: object) -> None:
        super().__init__(str(message))
        self.message = message


def active_tags(platform_id: int) -> list[str]:
    """The school's tags; the starter set until the school edits it."""
    rows = db.session.scalars(
        sa.select(MarkerTag).where(MarkerTag.platform_id == platform_id).order_by(MarkerTag.id)
    ).all()
    if not rows:
        return list(STARTER_TAGS)
    return [row.label for row in rows if row.is_active]


def save_tags(platform_id: int, labels: list[str]) -> list[str]:
    """Replace the school's active set (the caller checks the admin role). Old labels stay as
    inactive rows, so markers that carry them keep their meaning."""
    clean: list[str] = []
    for label in labels:
        text = label.strip() if isinstance(label, str) else ""
        if text and text not in clean:
            clean.append(text[:120])
    if not clean:
        raise TagRefused(_l("Keep at least one tag."))
    existing = {
        row.label: row
        for row in db.session.scalars(
            sa.select(MarkerTag).where(MarkerTag.platform_id == platform_id)
        )
    }
    if not existing:
        for label in STARTER_TAGS:
            existing[label] = MarkerTag(platform_id=platform_id, label=label)
            db.session.add(existing[label])
    for label, row in existing.items():
        row.is_active = label in clean
    for label in clean:
        if label not in existing:
            db.session.add(MarkerTag(platform_id=platform_id, label=label, is_active=True))
    db.session.flush()
    return active_tags(platform_id)
