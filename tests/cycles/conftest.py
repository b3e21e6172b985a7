"""Paired factories for people, a course and trajects (data rolled back after each test)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from lti_tool.db import db
from lti_tool.launch.models import Deployment, Platform
from lti_tool.people.models import Course, Membership, User


@pytest.fixture
def course(app_ctx: Any) -> Course:
    tag = uuid.uuid4().hex[:8]
    platform = Platform(
        issuer=f"https://school-{tag}.example",
        client_id="c",
        auth_login_url="https://x/auth",
        auth_token_url="https://x/token",
        key_set_url="https://x/jwks",
    )
    db.session.add(platform)
    db.session.flush()
    deployment = Deployment(platform_id=platform.id, deployment_id="1")
    db.session.add(deployment)
    db.session.flush()
    record = Course(
        platform_id=platform.id, deployment_pk=deployment.id, context_id="c1", title="Groep 5"
    )
    db.session.add(record)
    db.session.flush()
    return record


@pytest.fixture
def create_user(course: Course) -> Callable[..., User]:
    def make(name: str, course_role: str = "teacher") -> User:
        user = User(issuer="https://school.example", sub=uuid.uuid4().hex, name=name)
        db.session.add(user)
        db.session.flush()
        db.session.add(Membership(user_id=user.id, course_id=course.id, roles=[course_role]))
        db.session.flush()
        return user

    return make
