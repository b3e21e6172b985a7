"""The final report's page and PDF, and the administrator's kijkwijzer and tag pages, over real
HTTP after real launches (Dutch by default: the launches carry no locale)."""

from __future__ import annotations

import html
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from flask import Flask
from flask_babel import force_locale, format_date

from lti_tool.cycles.models import Traject
from lti_tool.cycles.tags import STARTER_TAGS, active_tags
from lti_tool.cycles.viewing_guides import STARTER_TEMPLATE, school_template
from lti_tool.db import db
from lti_tool.launch.models import Platform
from lti_tool.people.models import Membership, User
from lti_tool.web.report import HEADINGS
from tests.cycles.test_report import FOLLOW_UP, HELP_QUESTION, complete_traject
from tests.lti_platform import INSTITUTION_ADMIN, INSTRUCTOR, LEARNER, Person, TestPlatform, browser

ORDERED_SECTIONS = (
    "traject",
    "question",
    "cycles",
    "goal",
    "yields",
    "teacher_evaluation",
    "coach_reflection",
    "follow_up",
)


@dataclass
class Someone:
    user_id: int
    session: requests.Session  # carries the session cookie, as a browser would
    token: str  # the launch token the person's pages put in their forms


def sign_in(platform: TestPlatform, sub: str, roles: list[str], name: str) -> Someone:
    """A real launch (no locale claim: Dutch), then the start page that opens the session."""
    person = Person(sub=f"{sub}-{platform.client_id}", roles=roles, name=name)
    result = platform.launch(person)
    assert result.status == 303, result.response.text[:400]
    session = browser()
    start = session.get(result.response.headers["Location"], timeout=10)
    assert start.status_code == 200
    user_id = db.session.scalar(
        sa.select(User.id).where(User.issuer == platform.issuer, User.sub == person.sub)
    )
    token = re.search(r'data-api-token="([^"]+)"', start.text)
    assert user_id is not None and token is not None
    return Someone(user_id, session, token.group(1))


def form_token(page: requests.Response) -> str:
    match = re.search(r'name="launch_token" value="([^"]+)"', page.text)
    assert match is not None, page.text[:1000]
    return match.group(1)


def textareas(page: requests.Response) -> list[str]:
    return [
        html.unescape(t) for t in re.findall(r"<textarea[^>]*>(.*?)</textarea>", page.text, re.S)
    ]


def headings_in_dutch(app: Flask) -> dict[str, str]:
    with app.test_request_context(), force_locale("nl"):
        return {key: str(text) for key, text in HEADINGS.items()}


def flat(text: str) -> str:
    return " ".join(text.split())


@dataclass
class Cast:
    platform: TestPlatform
    coach: Someone
    teacher: Someone
    other_teacher: Someone
    admin: Someone
    done_id: int
    open_id: int


@pytest.fixture
def cast(platform: TestPlatform, app_ctx: Flask) -> Iterator[Cast]:
    """Four people launched into one course; a completed traject and one still in its final
    conversation, committed so that the tool's server sees them."""
    coach = sign_in(platform, "coach", [INSTRUCTOR], "Sanne de Vries")
    teacher = sign_in(platform, "teacher", [LEARNER], "Jeroen Bakker")
    other = sign_in(platform, "other", [LEARNER], "Fatima El Amrani")
    admin = sign_in(platform, "admin", [INSTITUTION_ADMIN], "Beheerder Bas")
    course_id = db.session.scalar(
        sa.select(Membership.course_id).where(Membership.user_id == coach.user_id)
    )
    assert course_id is not None
    coach_user, teacher_user = (
        db.session.get(User, coach.user_id),
        db.session.get(User, teacher.user_id),
    )
    assert coach_user is not None and teacher_user is not None
    done = complete_traject(course_id, coach_user, teacher_user).traject.id
    still_open = complete_traject(course_id, coach_user, teacher_user, conclude=False).traject.id
    db.session.commit()
    yield Cast(platform, coach, teacher, other, admin, done, still_open)
    db.session.rollback()
    db.session.execute(sa.delete(Traject).where(Traject.id.in_([done, still_open])))
    db.session.commit()


def url(cast: Cast, traject_id: int, suffix: str = "") -> str:
    return f"{cast.platform.tool_base}/trajects/{traject_id}/report{suffix}"


# --- the report page --------------------------------------------------------------------------


def test_report_page_shows_every_section_in_order(cast: Cast, app: Flask) -> None:
    page = cast.teacher.session.get(url(cast, cast.done_id), timeout=10)
    assert page.status_code == 200, page.text[:600]
    assert '<html lang="nl">' in page.text
    text = html.unescape(page.text)
    headings = headings_in_dutch(app)
    for key, heading in headings.items():
        assert heading in text, key
    positions = [text.index(f">{headings[key]}</h2>") for key in ORDERED_SECTIONS]
    assert positions == sorted(positions)
    assert f"“{HELP_QUESTION}”" in text
    assert FOLLOW_UP in text
    # Strength first: in cycle 1 both moments of strength come before the opportunity.
    cycle1 = text[text.index('data-cycle="1"') : text.index('data-cycle="2"')]
    kinds = re.findall(r'data-moment-kind="(\w+)"', cycle1)
    assert kinds == ["strength", "strength", "opportunity"]
    assert cycle1.index("Kracht 1a") < cycle1.index("Kracht 1b") < cycle1.index("Kans 1")
    assert re.findall(r'<li data-status="(\w+)"', text) == ["established", "tried", "planned"]
    # Dates in Dutch, and a way to the PDF.
    with app.test_request_context(), force_locale("nl"):
        assert format_date(date(2026, 9, 14), "long") in text  # 14 september 2026
    assert f'href="/trajects/{cast.done_id}/report.pdf"' in page.text
    assert cast.coach.session.get(url(cast, cast.done_id), timeout=10).status_code == 200


def test_report_is_refused_to_people_outside_the_traject(cast: Cast) -> None:
    for someone in (cast.other_teacher, cast.admin):
        for suffix in ("", ".pdf"):
            response = someone.session.get(url(cast, cast.done_id, suffix), timeout=10)
            assert response.status_code == 403, (suffix, response.text[:300])
            assert 'data-refusal="forbidden"' in response.text
            assert HELP_QUESTION not in response.text
    # A guessed id looks the same as a traject one may not see.
    assert cast.teacher.session.get(url(cast, 999_999), timeout=10).status_code == 403
    # Without a session: no report at all.
    anonymous = browser().get(url(cast, cast.done_id), timeout=10)
    assert anonymous.status_code == 401 and HELP_QUESTION not in anonymous.text


def test_report_before_the_final_conversation_is_concluded(cast: Cast) -> None:
    for suffix in ("", ".pdf"):
        response = cast.teacher.session.get(url(cast, cast.open_id, suffix), timeout=10)
        assert response.status_code == 409, response.text[:300]
        assert response.headers["Content-Type"].startswith("text/html")
        assert 'data-testid="report-not-ready"' in response.text
        assert "Rust in groep 5" in html.unescape(response.text)
        assert HELP_QUESTION not in html.unescape(response.text)
    # An outsider learns nothing, not even that the traject exists.
    refused = cast.other_teacher.session.get(url(cast, cast.open_id), timeout=10)
    assert refused.status_code == 403 and "report-not-ready" not in refused.text


# --- the PDF ----------------------------------------------------------------------------------


def test_report_pdf_is_a4_with_every_section(
    cast: Cast, app: Flask, tmp_path: Path, artifacts: Path
) -> None:
    response = cast.teacher.session.get(url(cast, cast.done_id, ".pdf"), timeout=60)
    assert response.status_code == 200, response.text[:600]
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["Cache-Control"] == "no-store"
    assert response.content.startswith(b"%PDF-")
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(response.content)

    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"Page size:\s+595\.\d+ x 841\.\d+ pts \(A4\)", info), info
    text = flat(
        subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True,
                       text=True, check=True).stdout
    )  # fmt: skip
    headings = headings_in_dutch(app)
    for key, heading in headings.items():
        assert heading in text, (key, heading, text[:3000])
    positions = [text.index(headings[key]) for key in ORDERED_SECTIONS]
    assert positions == sorted(positions), positions
    assert f"“{HELP_QUESTION}”" in text
    assert "Rust in groep 5" in text and FOLLOW_UP in text
    assert text.index("Kracht 1a") < text.index("Kracht 1b") < text.index("Kans 1")
    with app.test_request_context(), force_locale("nl"):
        assert format_date(date(2026, 9, 14), "long") in text
    # No footage reference that resolves outside the tool: no URL in the text or the objects.
    assert "http" not in text and "/trajects/" not in text
    urls = subprocess.run(["pdfinfo", "-url", str(pdf)], capture_output=True, text=True).stdout
    assert not re.search(r"\w+://", urls), urls

    # Page 1 as a picture, for people (and CI artifacts) to look at.
    target = artifacts / "report-page1"
    subprocess.run(
        [
            "pdftoppm",
            "-png",
            "-r",
            "80",
            "-f",
            "1",
            "-l",
            "1",
            "-singlefile",
            str(pdf),
            str(target),
        ],
        check=True,
    )
    png = target.with_suffix(".png")
    assert png.read_bytes().startswith(b"\x89PNG") and png.stat().st_size > 20_000


# --- the administrator's pages ----------------------------------------------------------------


def school_of(cast: Cast) -> int:
    platform_id = db.session.scalar(
        sa.select(Platform.id).where(Platform.issuer == cast.platform.issuer)
    )
    assert platform_id is not None
    return int(platform_id)


def admin_url(cast: Cast, page: str) -> str:
    return f"{cast.platform.tool_base}/admin/{page}"


def kijkwijzer_form(token: str, rows: list[dict[str, str]]) -> dict[str, str]:
    form = {"launch_token": token, "count": str(len(rows))}
    for i, row in enumerate(rows):
        form.update({f"q-{i}-{field}": value for field, value in row.items()})
    return form


def test_admin_saves_the_school_kijkwijzer(cast: Cast) -> None:
    page = cast.admin.session.get(admin_url(cast, "kijkwijzer"), timeout=10)
    assert page.status_code == 200, page.text[:500]
    assert STARTER_TEMPLATE[1]["label"] in textareas(page)
    rows = [
        {"key": "q1", "kind": "development_question", "label": "Mijn ontwikkelvraag",
         "position": "1"},
        {"key": "q2", "kind": "text", "label": "Weg ermee", "remove": "1", "position": "2"},
        # A new scale, typed third but placed last.
        {"key": "", "kind": "scale", "label": "Hoe rustig was de instructie?", "scale_low": "1",
         "scale_high": "4", "scale_label_low": "onrustig", "scale_label_high": "heel rustig",
         "position": "9"},
        {"key": "", "kind": "checklist", "label": "Waar kijken we samen naar?",
         "options": "Het begin\r\n\r\nDe overgang\r\n", "position": "2"},
        {"key": "", "kind": "text", "label": "", "options": "", "position": ""},  # blank: ignored
    ]  # fmt: skip
    saved = cast.admin.session.post(
        admin_url(cast, "kijkwijzer"), data=kijkwijzer_form(form_token(page), rows), timeout=10
    )
    assert saved.status_code == 200, saved.text[:800]
    assert 'data-testid="saved"' in saved.text
    db.session.rollback()  # see the server's commit
    assert school_template(school_of(cast)) == [
        {"key": "q1", "kind": "development_question", "label": "Mijn ontwikkelvraag"},
        {"key": "q3", "kind": "checklist", "label": "Waar kijken we samen naar?",
         "options": ["Het begin", "De overgang"]},
        {"key": "q4", "kind": "scale", "label": "Hoe rustig was de instructie?", "scale": [1, 4],
         "scale_labels": ["onrustig", "heel rustig"]},
    ]  # fmt: skip
    again = cast.admin.session.get(admin_url(cast, "kijkwijzer"), timeout=10)
    assert "Weg ermee" not in again.text and "Hoe rustig was de instructie?" in textareas(again)


def test_a_refused_kijkwijzer_keeps_what_was_typed(cast: Cast) -> None:
    page = cast.admin.session.get(admin_url(cast, "kijkwijzer"), timeout=10)
    rows = [
        {"key": "q1", "kind": "text", "label": "Wat zie ik, in mijn eigen woorden?"},
        {"key": "", "kind": "checklist", "label": "Een lijst zonder keuzes", "options": ""},
        {
            "key": "",
            "kind": "scale",
            "label": "Mijn schaal",
            "scale_low": "laag",
            "scale_high": "5",
        },
    ]
    refused = cast.admin.session.post(
        admin_url(cast, "kijkwijzer"), data=kijkwijzer_form(form_token(page), rows), timeout=10
    )
    assert refused.status_code == 422, refused.text[:800]
    assert 'data-testid="form-error"' in refused.text
    typed = textareas(refused)
    for label in ("Wat zie ik, in mijn eigen woorden?", "Een lijst zonder keuzes", "Mijn schaal"):
        assert label in typed
    assert 'value="laag"' in refused.text
    # The refused question is marked, and nothing was saved.
    invalid = re.search(r'<fieldset class="question invalid" data-row="(\d+)"', refused.text)
    assert invalid is not None and invalid.group(1) == "1"
    db.session.rollback()
    assert school_template(school_of(cast)) == STARTER_TEMPLATE


def test_admin_saves_the_tags(cast: Cast) -> None:
    page = cast.admin.session.get(admin_url(cast, "tags"), timeout=10)
    assert page.status_code == 200
    assert textareas(page) == ["\n".join(STARTER_TAGS)]
    typed = "Initiatief\r\nSamen lachen\r\n\r\nInitiatief\r\n"
    saved = cast.admin.session.post(
        admin_url(cast, "tags"), data={"launch_token": form_token(page), "tags": typed}, timeout=10
    )
    assert saved.status_code == 200 and 'data-testid="saved"' in saved.text
    db.session.rollback()
    assert active_tags(school_of(cast)) == ["Initiatief", "Samen lachen"]

    refused = cast.admin.session.post(
        admin_url(cast, "tags"),
        data={"launch_token": form_token(page), "tags": " \r\n  "},
        timeout=10,
    )
    assert refused.status_code == 422 and 'data-testid="form-error"' in refused.text
    assert textareas(refused) == [" \r\n  "]  # exactly as typed
    db.session.rollback()
    assert active_tags(school_of(cast)) == ["Initiatief", "Samen lachen"]


@pytest.mark.parametrize("page", ["kijkwijzer", "tags"])
def test_only_administrators_edit_school_settings(cast: Cast, page: str) -> None:
    data = {"tags": "Overgenomen", "count": "1", "q-0-kind": "text", "q-0-label": "Overgenomen"}
    for someone in (cast.coach, cast.teacher):
        assert someone.session.get(admin_url(cast, page), timeout=10).status_code == 403
        # A form posted with the person's own valid launch token is refused too.
        response = requests.post(
            admin_url(cast, page), data={**data, "launch_token": someone.token}, timeout=10
        )
        assert response.status_code == 403, response.text[:300]
    # The session cookie alone never authenticates a change.
    cookie_only = cast.admin.session.post(admin_url(cast, page), data=data, timeout=10)
    assert cookie_only.status_code == 401
    db.session.rollback()
    assert active_tags(school_of(cast)) == list(STARTER_TAGS)
    assert school_template(school_of(cast)) == STARTER_TEMPLATE
