"""A person's roles in a traject, and the checks the views call (rules: privacy.access)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from lti_tool.cycles.models import Participant, Traject
from lti_tool.db import db
from lti_tool.privacy.access import Forbidden, is_allowed, viewing_roles


def roles_in(traject_id: int, user_id: int) -> set[str]:
    return set(
        db.session.scalars(
            sa.select(Participant.role).where(
                Participant.traject_id == traject_id, Participant.user_id == user_id
            )
        )
    )


def can(user_id: int | None, traject: Traject | None, action: str) -> bool:
    if user_id is None or traject is None:
        return False
    return is_allowed(roles_in(traject.id, user_id), traject.kind, action)


def require(user_id: int | None, traject_id: int, action: str) -> Traject:
    """The traject if allowed; Forbidden otherwise, also when it does not exist, so that
    guessing ids tells nothing."""
    traject = db.session.get(Traject, traject_id)
    if traject is None or not can(user_id, traject, action):
        raise Forbidden(action)
    return traject


def visible_trajects(user_id: int) -> sa.Select[Any]:
    """The trajects a person takes part in with a role that may view them, newest first."""
    return (
        sa.select(Traject)
        .where(
            Traject.id.in_(
                sa.select(Participant.traject_id).where(
                    Participant.user_id == user_id, Participant.role.in_(viewing_roles())
                )
            )
        )
        .order_by(Traject.id.desc())
    )
