"""The demo school: one traject of each kind at a different step; idempotent; never production."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from lti_tool import create_app
from lti_tool.cycles.models import Traject
from lti_tool.cycles.services import next_step
from lti_tool.db import db
from lti_tool.demo.platform import DEMO_ISSUER
from lti_tool.demo.seed import (
    CHILD_TRAJECT,
    TEACHER_TRAJECT,
    TEAM_TRAJECT,
    SeedRefused,
    seed_demo,
)
from lti_tool.people.models import User


def _trajects() -> dict[str, Traject]:
    return {t.title: t for t in db.session.scalars(sa.select(Traject))}


def test_seed_builds_the_demo_school_once(app_ctx: Any, cli: Any) -> None:
    seed_demo()
    db.session.commit()
    first = _trajects()
    teacher = first[TEACHER_TRAJECT]
    assert teacher.kind == "teacher" and teacher.status == "cycles"
    assert [c.step for c in teacher.cycles] == ["closed", "shared", "planned"]
    assert next_step(teacher, {"teacher"})[0] == "viewing_guide"
    team = first[TEAM_TRAJECT]
    assert team.kind == "team" and team.status == "intake" and team.section == "middenbouw"
    child = first[CHILD_TRAJECT]
    assert child.kind == "child" and child.status == "intake" and child.pupil_code == "L-12"
    assert {p.role for p in child.participants} == {"coach", "teacher", "parent"}
    people = db.session.scalars(sa.select(User).where(User.issuer == DEMO_ISSUER)).all()
    assert len(people) == 4

    result = cli("demo", "seed")  # again: nothing new
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    again = db.session.scalars(
        sa.select(sa.func.count())
        .select_from(Traject)
        .where(Traject.title.in_([TEACHER_TRAJECT, TEAM_TRAJECT, CHILD_TRAJECT]))
    ).one()
    assert again == 3


def test_seed_refuses_production(tmp_path: Path) -> None:
    app: Flask = create_app(
        {"instance_path": str(tmp_path), "env": "production", "secret_key": "k" * 40,
         "database_url": f"sqlite:///{tmp_path}/p.db"}
    )  # fmt: skip
    with app.app_context(), pytest.raises(SeedRefused):
        seed_demo()
