"""The traject pages over real HTTP, after real launches: every step through its form, refusals
that keep what was typed, and the access rules as the pages apply them.

GETs ride on the session cookie; every POST carries the `launch_token` field (the cookie alone
never authenticates a change)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
import requests
import sqlalchemy as sa
from flask import Flask
from flask_babel import force_locale, gettext

from lti_tool.cycles.models import ActionPoint, Participant, Traject, ViewingGuide
from lti_tool.db import db
from lti_tool.outcomes import tasks
from lti_tool.people.models import Membership, User
from tests.lti_platform import (
    INSTITUTION_ADMIN,
    INSTRUCTOR,
    LEARNER,
    Person,
    TestPlatform,
    browser,
)

CUSTOM = "https://purl.imsglobal.org/spec/lti/claim/custom"


@dataclass
class Client:
    """One person's browser: their session cookie and the launch token the page handed out."""

    session: requests.Session
    base: str
    token: str
    start: requests.Response

    def get(self, path: str) -> requests.Response:
        return self.session.get(self.base + path, timeout=10)

    def post(self, path: str, data: dict[str, Any] | None = None, token: bool = True) -> Any:
        body = dict(data or {})
        if token:
            body["launch_token"] = self.token
        return self.session.post(self.base + path, data=body, allow_redirects=False, timeout=10)

    def step(self, path: str, data: dict[str, Any] | None = None) -> requests.Response:
        """A form that should succeed: 303 back to the traject page, which then loads."""
        answer = self.post(path, data)
        assert answer.status_code == 303, (path, answer.status_code, errors(answer.text))
        page = self.session.get(self.base + answer.headers["Location"].split("#")[0], timeout=10)
        assert page.status_code == 200
        return page


def launch(platform: TestPlatform, person: Person, **kwargs: Any) -> Client:
    session = browser()
    result = platform.launch(person, session=session, **kwargs)
    assert result.status == 303, result.response.text[:400]
    start = session.get(result.response.headers["Location"], timeout=10)
    assert start.status_code == 200, start.text[:400]
    token = re.search(r'data-api-token="([^"]+)"', start.text)
    assert token is not None
    return Client(session, platform.tool_base, token.group(1), start)


class _Forms(HTMLParser):
    """Every POST form on a page, and whether it carries the launch token."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form" and (a.get("method") or "").lower() == "post":
            self.forms.append({"action": a.get("action"), "token": False})
        if tag == "input" and a.get("name") == "launch_token" and self.forms and a.get("value"):
            self.forms[-1]["token"] = True


def post_forms(html: str) -> list[dict[str, Any]]:
    parser = _Forms()
    parser.feed(html)
    return parser.forms


def errors(html: str) -> list[str]:
    """The refusal messages on a page: the summary at the top and those at the forms."""
    found = re.findall(r'class="(?:field|form)-error"[^>]*>(.*?)</p>', html, re.S)
    found += re.findall(r'data-testid="error-summary">\s*<h2>.*?</h2>\s*<p>(.*?)</p>', html, re.S)
    return [re.sub(r"<[^>]+>", "", e).strip(" ⚠\n") for e in found]


def field_error(html: str, field: str) -> str | None:
    match = re.search(r'data-field="' + re.escape(field) + r'">(.*?)</p>', html, re.S)
    return re.sub(r"<[^>]+>", "", match.group(1)).strip(" ⚠\n") if match else None


def traject_id_of(response: requests.Response) -> int:
    location = response.headers["Location"]
    match = re.search(r"/trajects/(\d+)", location)
    assert match is not None, location
    return int(match.group(1))


def by_testid(html: str, name: str) -> str:
    """The text of the element with this data-testid (its first text before a child tag)."""
    match = re.search(r'data-testid="' + re.escape(name) + r'"[^>]*>(.*?)</', html, re.S)
    assert match is not None, f"no {name} on the page"
    return match.group(1).strip()


def block(html: str, name: str, end: str) -> str:
    """The markup from the element with this data-testid up to the first `end` after it."""
    start = html.index(f'data-testid="{name}"')
    return html[start : html.index(end, start)]


@pytest.fixture
def school(make_platform: Callable[..., TestPlatform]) -> TestPlatform:
    return make_platform()


@pytest.fixture
def coach(school: TestPlatform) -> Client:
    return launch(school, Person("coach-sanne", [INSTRUCTOR], "Sanne de Vries"))


@pytest.fixture
def teacher(school: TestPlatform) -> Client:
    return launch(school, Person("teacher-jeroen", [LEARNER], "Jeroen Bakker"))


def user_id(client: Client, name: str) -> int:
    """A course member's id as the new-traject form offers it."""
    page = client.get("/trajects/new")
    match = re.search(r'<option value="(\d+)"[^>]*>' + re.escape(name) + "</option>", page.text)
    assert match is not None, f"{name} is not offered"
    return int(match.group(1))


def create(coach: Client, kind: str, title: str, teacher: str | None = None, **extra: str) -> int:
    data = {"kind": kind, "title": title, **extra}
    if teacher:
        data["teacher_id"] = str(user_id(coach, teacher))
    answer = coach.post("/trajects/new", data)
    assert answer.status_code == 303, errors(answer.text)
    return traject_id_of(answer)


def through_intake(coach: Client, teacher: Client, t: int) -> None:
    coach.step(f"/trajects/{t}/intake", {"help_question": "Meer rust tijdens de instructie"})
    teacher.step(f"/trajects/{t}/question", {"development_question": "Hoe houd ik iedereen erbij?"})
    coach.step(f"/trajects/{t}/intake/complete")


GUIDE = {
    "q2_time": "0:12",
    "q2_text": "Daan steekt zijn vinger op",
    "q3_time": "1:35",
    "q3_text": "Ik knik; Daan gaat rechtop zitten",
    "q4": "Drie initiatieven, vooral non-verbaal ontvangen",
    "q5": "3",
    "q6": "Vaker benoemen wat goed gaat",
    "q7": ["De beurtverdeling"],
}


def run_cycle(coach: Client, teacher: Client, t: int, n: int, last: bool = False) -> None:
    coach.step(f"/trajects/{t}/cycles/{n}/recorded", {"focus": "Beurtverdeling"})
    coach.step(f"/trajects/{t}/cycles/{n}/analysed", {"analysis_notes": "Drie sterke momenten"})
    coach.step(f"/trajects/{t}/cycles/{n}/share")
    teacher.step(f"/trajects/{t}/cycles/{n}/kijkwijzer", {**GUIDE, "action": "submit"})
    teacher.step(f"/trajects/{t}/cycles/{n}/conversation", {"conversation_notes": "Micro-kijken"})
    coach.step(f"/trajects/{t}/cycles/{n}/markers", {"kind": "strength", "text": f"Knik {n}"})
    teacher.step(f"/trajects/{t}/cycles/{n}/action-points", {"action_point": f"Actie {n}"})
    coach.step(f"/trajects/{t}/cycles/{n}/close", {} if last else {"next_filming_on": "2027-01-11"})


# --- the whole teacher traject through its forms ----------------------------------------------


def test_whole_teacher_traject_through_the_forms(
    school: TestPlatform, coach: Client, teacher: Client, app_ctx: Any
) -> None:
    # The landing page of a coach is the overview with the button for a new traject.
    assert 'data-testid="new-traject"' in coach.start.text
    assert 'data-testid="new-traject"' not in teacher.start.text
    t = create(coach, "teacher", "Rust in groep 5", teacher="Jeroen Bakker")

    # Intake: the coach proposes a wording; it waits for the teacher, who approves it.
    page = coach.step(
        f"/trajects/{t}/intake",
        {
            "help_question": "Hoe krijg ik meer rust tijdens de instructie?",
            "arrangements": "Drie opnames van een rekenles",
            "intake_on": "2026-11-02",
        },
    )
    assert "Hoe krijg ik meer rust tijdens de instructie?" in page.text
    page = coach.step(f"/trajects/{t}/question", {"development_question": "Hoe geef ik beurten?"})
    assert 'data-testid="pending-question"' in page.text
    assert 'data-testid="approve-form"' not in page.text  # the coach cannot approve
    refused = coach.post(f"/trajects/{t}/intake/complete")
    assert refused.status_code == 422
    assert errors(refused.text) and 'data-status="intake"' in refused.text

    page = teacher.get(f"/trajects/{t}")
    assert 'data-step="approve_question"' in page.text  # the teacher's next step, first
    qid = re.search(r"/question/(\d+)/approve", page.text).group(1)  # type: ignore[union-attr]
    page = teacher.step(f"/trajects/{t}/question/{qid}/approve")
    assert by_testid(page.text, "development-question") == "Hoe geef ik beurten?"
    coach.step(f"/trajects/{t}/intake/complete")

    # Cycle 1, one form after the other, each offered only to whom it belongs.
    page = teacher.get(f"/trajects/{t}")
    assert 'data-testid="recorded-form-1"' not in page.text
    page = coach.get(f"/trajects/{t}")
    assert 'data-testid="recorded-form-1"' in page.text
    assert all(f["token"] for f in post_forms(page.text)), post_forms(page.text)
    coach.step(f"/trajects/{t}/cycles/1/recorded", {"focus": "Start van de les"})
    coach.step(f"/trajects/{t}/cycles/1/analysed", {"analysis_notes": "Drie momenten"})
    page = coach.step(f"/trajects/{t}/cycles/1/share")
    assert 'data-testid="fill-guide-1"' not in page.text

    # The kijkwijzer: every kind of question, a draft first, time codes as mm:ss.
    page = teacher.get(f"/trajects/{t}")
    assert 'data-step="viewing_guide"' in page.text
    form = teacher.get(f"/trajects/{t}/cycles/1/kijkwijzer")
    for kind in ("development_question", "text", "timecode", "scale", "checklist"):
        assert f'data-kind="{kind}"' in form.text
    assert "Hoe geef ik beurten?" in form.text  # the development question, read-only
    draft = teacher.post(
        f"/trajects/{t}/cycles/1/kijkwijzer", {"q2_time": "0:12", "q2_text": "Daan"}
    )
    assert draft.status_code == 303 and "saved=1" in draft.headers["Location"]
    form = teacher.get(f"/trajects/{t}/cycles/1/kijkwijzer?saved=1")
    assert 'value="0:12"' in form.text and 'data-testid="draft-saved"' in form.text
    teacher.step(f"/trajects/{t}/cycles/1/kijkwijzer", {**GUIDE, "action": "submit"})
    guide = db.session.scalar(sa.select(ViewingGuide).order_by(ViewingGuide.id.desc()))
    assert guide is not None and guide.answers["q3"] == {
        "text": "Ik knik; Daan gaat rechtop zitten",
        "ms": 95_000,
    }
    assert guide.answers["q7"] == ["De beurtverdeling"] and guide.answers["q5"] == 3
    read = coach.get(f"/trajects/{t}/cycles/1/kijkwijzer")
    assert 'data-testid="guide-answers"' in read.text and "1:35" in read.text

    # The conversation: notes, a moment of strength with tags and a time code, action points.
    teacher.step(f"/trajects/{t}/cycles/1/conversation", {"conversation_notes": "Samen gekeken"})
    page = coach.step(
        f"/trajects/{t}/cycles/1/markers",
        {
            "kind": "strength",
            "text": "Knikken naar Daan",
            "teacher_words": "Ik zag hem opleven",
            "start": "1:35",
            "end": "1:41",
            "tags": ["Ontvangen: non-verbaal", "Instemmend benoemen"],
            "domain": "interactie",
        },
    )
    coach.step(
        f"/trajects/{t}/cycles/1/markers", {"kind": "opportunity", "text": "Achterin geen beurt"}
    )
    page = coach.get(f"/trajects/{t}")
    strengths = page.text.index('data-testid="strengths-1"')
    assert strengths < page.text.index("Achterin geen beurt")  # strength first
    assert "1:35–1:41" in page.text and "Ik zag hem opleven" in page.text
    teacher.step(
        f"/trajects/{t}/cycles/1/action-points", {"action_point": "Drie kinderen aankijken"}
    )
    refused = coach.post(f"/trajects/{t}/cycles/1/close", {})
    assert refused.status_code == 422 and field_error(refused.text, "next_filming_on")
    coach.step(f"/trajects/{t}/cycles/1/close", {"next_filming_on": "2026-11-23"})

    # Cycle 2 shows the action point of cycle 1 with its status, which can change there.
    page = teacher.get(f"/trajects/{t}")
    assert 'data-testid="earlier-points-2"' in page.text
    point = db.session.scalar(sa.select(ActionPoint).where(ActionPoint.traject_id == t))
    assert point is not None
    teacher.step(f"/trajects/{t}/action-points/{point.id}/status", {"status": "tried"})
    db.session.refresh(point)
    assert point.status == "tried"
    # The teacher refines the question after the first conversation; the history stays.
    page = teacher.step(
        f"/trajects/{t}/question",
        {"development_question": "Hoe betrek ik de stille kinderen?", "after_cycle": "1"},
    )
    assert by_testid(page.text, "development-question") == "Hoe betrek ik de stille kinderen?"
    assert 'data-testid="question-history"' in page.text and "Hoe geef ik beurten?" in page.text

    run_cycle(coach, teacher, t, 2)
    run_cycle(coach, teacher, t, 3, last=True)

    # Final conversation: each prepares; the other's stays hidden until both are ready.
    page = teacher.get(f"/trajects/{t}")
    assert 'data-step="prepare_final"' in page.text
    teacher.step(
        f"/trajects/{t}/final/preparation",
        {"preparation": "Ik kijk bewuster rond", "action": "done"},
    )
    coach.step(f"/trajects/{t}/final/preparation", {"preparation": "Concept", "action": "draft"})
    page = teacher.get(f"/trajects/{t}")
    assert "Concept" not in page.text
    assert 'data-testid="conclusions-form"' not in coach.get(f"/trajects/{t}").text
    coach.step(
        f"/trajects/{t}/final/preparation",
        {"preparation": "Zichtbaar in cycli 2 en 3", "action": "done"},
    )
    assert "Zichtbaar in cycli 2 en 3" in teacher.get(f"/trajects/{t}").text
    assert "Ik kijk bewuster rond" in coach.get(f"/trajects/{t}").text
    assert (
        teacher.post(f"/trajects/{t}/final/conclusions", {"goal_reached": "yes"}).status_code == 403
    )

    page = coach.get(f"/trajects/{t}")
    marker_id = re.search(r'name="visible_in_marker_ids" value="(\d+)"', page.text).group(1)  # type: ignore[union-attr]
    page = coach.step(
        f"/trajects/{t}/final/conclusions",
        {
            "goal_reached": "partly",
            "how_it_came_about": "Door het micro-kijken",
            "yield_interactie": "Meer non-verbaal ontvangen",
            "yield_didactiek": "Instructie korter",
            "visible_in_marker_ids": [marker_id],
            "teacher_evaluation": "Ik ben trots",
            "coach_reflection": "Jeroen leidde zelf",
            "follow_up": "Nieuwe leerwens: instructie in drie niveaus",
        },
    )
    assert 'data-status="completed"' in page.text
    assert 'data-testid="conclusions"' in page.text and "Meer non-verbaal ontvangen" in page.text
    assert "Knikken naar Daan" in block(page.text, "conclusions", "</dl>")
    traject = db.session.get(Traject, t)
    assert traject is not None and traject.status == "completed"
    assert traject.final_review is not None
    assert traject.final_review.visible_in_marker_ids == [int(marker_id)]
    assert 'data-step="done"' in teacher.get(f"/trajects/{t}").text
    # School management sees outcomes: the moments chosen as where it is visible too, although
    # the cycles' markers are not theirs to read. (The services put management in team
    # trajects only; the page's own rule is checked here on its own.)
    director = launch(school, Person("director-els", [LEARNER], "Els Directeur"))
    director_id = db.session.scalar(sa.select(User.id).where(User.sub == "director-els"))
    db.session.add(Participant(traject_id=t, user_id=director_id, role="management"))
    db.session.commit()
    page = director.get(f"/trajects/{t}")
    assert "Knikken naar Daan" in block(page.text, "conclusions", "</dl>")


# --- the overview -----------------------------------------------------------------------------


def test_overview_shows_attention_first_and_the_teachers_next_step(
    coach: Client, teacher: Client
) -> None:
    waiting = create(coach, "teacher", "Wacht op de leerkracht", teacher="Jeroen Bakker")
    coach.step(f"/trajects/{waiting}/intake", {"help_question": "Hulpvraag"})
    coach.step(f"/trajects/{waiting}/question", {"development_question": "Voorstel van de coach"})
    mine = create(coach, "teacher", "Klaar voor de cycli", teacher="Jeroen Bakker")
    coach.step(f"/trajects/{mine}/intake", {"help_question": "Hulpvraag"})
    teacher.step(f"/trajects/{mine}/question", {"development_question": "Mijn eigen vraag"})

    overview = coach.get("/trajects/")
    attention = overview.text.index('data-testid="attention"')
    others = overview.text.index('data-testid="waiting"')
    assert attention < overview.text.index(f'data-traject="{mine}"') < others
    assert overview.text.index(f'data-traject="{waiting}"') > others
    assert f'data-testid="next-step-{mine}"' in overview.text

    start = teacher.get("/start")  # a reload of the landing page: the session cookie
    assert start.status_code == 200
    attention = start.text.index('data-testid="attention"')
    assert attention < start.text.index(f'data-traject="{waiting}"')
    assert 'data-step="approve_question"' in start.text
    assert f'data-testid="next-step-{waiting}"' in start.text  # a button to the step itself
    assert f'data-testid="next-step-{mine}"' not in start.text  # the coach's turn there


def test_admin_without_a_traject_reads_that_administering_gives_no_access(
    school: TestPlatform, coach: Client, teacher: Client
) -> None:
    create(coach, "teacher", "Niet voor de beheerder", teacher="Jeroen Bakker")
    admin = launch(school, Person("admin-ingrid", [INSTITUTION_ADMIN], "Ingrid Visser"))
    assert 'data-testid="admin-note"' in admin.start.text
    assert "Niet voor de beheerder" not in admin.start.text


# --- refusals: typed values kept, the message next to its field --------------------------------


def test_refused_forms_keep_what_was_typed(coach: Client, teacher: Client) -> None:
    # A child traject without a pupil code: refused, the title and choices stay.
    answer = coach.post(
        "/trajects/new",
        {
            "kind": "child",
            "title": "Concentratie van L",
            "teacher_id": str(user_id(coach, "Jeroen Bakker")),
        },
    )
    assert answer.status_code == 422
    assert field_error(answer.text, "pupil_code")
    assert 'value="Concentratie van L"' in answer.text
    assert re.search(r'value="child"[^>]*checked', answer.text)
    assert 'name="launch_token"' in answer.text

    t = create(coach, "teacher", "Weigeringen", teacher="Jeroen Bakker")
    # The intake without its help question: the other fields keep their text.
    answer = coach.post(
        f"/trajects/{t}/intake",
        {"help_question": "  ", "arrangements": "Elke week filmen", "intake_on": "2026-11-02"},
    )
    assert answer.status_code == 422
    assert field_error(answer.text, "help_question")
    assert "Elke week filmen</textarea>" in answer.text and 'value="2026-11-02"' in answer.text
    answer = coach.post(
        f"/trajects/{t}/intake", {"help_question": "Rust", "intake_on": "31-02-2026"}
    )
    assert answer.status_code == 422 and field_error(answer.text, "intake_on")
    assert 'value="31-02-2026"' in answer.text

    through_intake(coach, teacher, t)
    coach.step(f"/trajects/{t}/cycles/1/recorded", {"focus": "x"})
    # A marker with a time code that is not one: message at the field, the text kept.
    answer = coach.post(
        f"/trajects/{t}/cycles/1/markers",
        {"kind": "strength", "text": "Hand op tafel", "start": "1:75", "tags": ["Initiatief"]},
    )
    assert answer.status_code == 422
    assert field_error(answer.text, "start")
    assert "Hand op tafel</textarea>" in answer.text and 'value="1:75"' in answer.text
    assert re.search(r'value="Initiatief"[^>]*checked', answer.text)
    answer = coach.post(
        f"/trajects/{t}/cycles/1/markers", {"kind": "strength", "text": "x", "tags": ["Verzonnen"]}
    )
    assert answer.status_code == 422 and field_error(answer.text, "tags")

    # Out of order: sharing before the analysis; a message on the form, nothing changes.
    answer = coach.post(f"/trajects/{t}/cycles/1/share")
    assert answer.status_code == 422
    assert errors(answer.text) and 'data-step="recorded"' in answer.text

    coach.step(f"/trajects/{t}/cycles/1/analysed", {"analysis_notes": "a"})
    coach.step(f"/trajects/{t}/cycles/1/share")
    # An incomplete kijkwijzer cannot be submitted; what was typed stays, with the message.
    answer = teacher.post(
        f"/trajects/{t}/cycles/1/kijkwijzer",
        {
            "q2_time": "0:12",
            "q2_text": "Ik zie Daan",
            "q4": "Initiatieven",
            "q7": ["De beurtverdeling"],
            "action": "submit",
        },
    )
    assert answer.status_code == 422
    assert field_error(answer.text, "q3")
    assert 'value="0:12"' in answer.text and "Ik zie Daan</textarea>" in answer.text
    assert "Initiatieven</textarea>" in answer.text
    assert re.search(r'value="De beurtverdeling"[^>]*checked', answer.text)
    answer = teacher.post(
        f"/trajects/{t}/cycles/1/kijkwijzer", {**GUIDE, "q3_time": "abc", "action": "submit"}
    )
    assert answer.status_code == 422 and field_error(answer.text, "q3")
    assert 'value="abc"' in answer.text


def test_coach_wording_waits_and_a_teacher_cannot_take_coach_steps(
    coach: Client, teacher: Client
) -> None:
    t = create(coach, "teacher", "Wie doet wat", teacher="Jeroen Bakker")
    through_intake(coach, teacher, t)
    answer = teacher.post(f"/trajects/{t}/cycles/1/recorded", {"focus": "zelf"})
    assert answer.status_code == 403
    assert 'data-refusal="forbidden"' in answer.text


# --- access -----------------------------------------------------------------------------------


def test_teacher_of_another_traject_gets_403_on_guessing_its_id(
    school: TestPlatform, coach: Client, teacher: Client
) -> None:
    fatima = launch(school, Person("teacher-fatima", [LEARNER], "Fatima El Amrani"))
    t = create(coach, "teacher", "Alleen voor Jeroen", teacher="Jeroen Bakker")
    assert teacher.get(f"/trajects/{t}").status_code == 200
    guessed = fatima.get(f"/trajects/{t}")
    assert guessed.status_code == 403 and 'data-refusal="forbidden"' in guessed.text
    assert "Alleen voor Jeroen" not in guessed.text
    assert fatima.get(f"/trajects/{t}/cycles/1/kijkwijzer").status_code == 403
    assert fatima.post(f"/trajects/{t}/intake", {"help_question": "x"}).status_code == 403
    assert fatima.get("/trajects/999999").status_code == 403  # no difference with "not there"
    assert "Alleen voor Jeroen" not in fatima.get("/trajects/").text
    assert fatima.get("/trajects/new").status_code == 403  # only a coach opens a traject


def test_post_without_launch_token_is_refused(coach: Client, teacher: Client, app_ctx: Any) -> None:
    t = create(coach, "teacher", "Zonder token", teacher="Jeroen Bakker")
    # The session cookie rides along, but it never authenticates a change.
    answer = coach.post(f"/trajects/{t}/intake", {"help_question": "Ingeslopen"}, token=False)
    assert answer.status_code == 401
    forged = coach.post(
        f"/trajects/{t}/intake", {"help_question": "Ingeslopen", "launch_token": "forged"}, False
    )
    assert forged.status_code == 401
    answer = coach.post("/trajects/new", {"kind": "team", "title": "Ingeslopen"}, token=False)
    assert answer.status_code == 401
    db.session.expire_all()
    traject = db.session.get(Traject, t)
    assert traject is not None and traject.intake is not None
    assert traject.intake.help_question == ""
    assert db.session.scalar(sa.select(Traject).where(Traject.title == "Ingeslopen")) is None


# --- team and child trajects ------------------------------------------------------------------


def test_team_traject_management_words_the_question(
    school: TestPlatform, coach: Client, teacher: Client
) -> None:
    fatima = launch(school, Person("teacher-fatima", [LEARNER], "Fatima El Amrani"))
    answer = coach.post("/trajects/new", {"kind": "team", "title": "Klimaat", "section": "zolder"})
    assert answer.status_code == 422 and field_error(answer.text, "section")
    t = create(coach, "team", "Pedagogisch klimaat", section="middenbouw")
    page = coach.get(f"/trajects/{t}")
    member = re.compile(r'<option value="(\d+)"[^>]*>{}</option>')
    jeroen = member.pattern.format("Jeroen Bakker")
    jeroen_id = re.search(jeroen, page.text).group(1)  # type: ignore[union-attr]
    fatima_id = re.search(member.pattern.format("Fatima El Amrani"), page.text).group(1)  # type: ignore[union-attr]
    answer = coach.post(f"/trajects/{t}/participants", {"role": "parent", "name": "Ouder"})
    assert answer.status_code == 422 and field_error(answer.text, "role")
    coach.step(f"/trajects/{t}/participants", {"role": "management", "user_id": jeroen_id})
    page = coach.step(f"/trajects/{t}/participants", {"role": "team_member", "user_id": fatima_id})
    participants = block(page.text, "participants", "</ul>")
    assert "Fatima El Amrani" in participants and "Jeroen Bakker" in participants

    # School management states the help question and the development question.
    teacher.step(f"/trajects/{t}/intake", {"help_question": "Eén aanpak bij overgangen"})
    page = teacher.step(
        f"/trajects/{t}/question", {"development_question": "Hoe bouwen we één klimaat?"}
    )
    assert by_testid(page.text, "development-question") == "Hoe bouwen we één klimaat?"
    coach.step(f"/trajects/{t}/intake/complete")
    coach.step(f"/trajects/{t}/cycles/1/recorded", {"focus": "Overgangen"})
    assert 'data-step="recorded"' in fatima.get(f"/trajects/{t}").text


def test_child_traject_knows_the_pupil_by_code_and_parents_by_name(
    coach: Client, teacher: Client, app_ctx: Any
) -> None:
    page = coach.get("/trajects/new")
    assert 'name="pupil_code"' in page.text
    t = create(coach, "child", "Concentratie", teacher="Jeroen Bakker", pupil_code="L-07")
    page = coach.step(f"/trajects/{t}/participants", {"role": "parent", "name": "Moeder van L-07"})
    assert "Moeder van L-07" in block(page.text, "participants", "</ul>")
    assert "L-07" in page.text[: page.text.index('data-testid="traject-status"')]
    answer = coach.post(f"/trajects/{t}/participants", {"role": "parent", "name": " "})
    assert answer.status_code == 422 and errors(answer.text)
    traject = db.session.get(Traject, t)
    assert traject is not None and traject.pupil_code == "L-07" and traject.kind == "child"
    assert "Concentratie" in teacher.get("/trajects/").text


# --- coach tools ------------------------------------------------------------------------------


def test_coach_adds_a_cycle_and_closes_early_with_a_reason(coach: Client, teacher: Client) -> None:
    t = create(coach, "teacher", "Vier of minder", teacher="Jeroen Bakker")
    through_intake(coach, teacher, t)
    page = coach.step(f"/trajects/{t}/cycles/add")
    assert 'data-testid="cycle-4"' in page.text
    assert teacher.post(f"/trajects/{t}/cycles/add").status_code == 403
    answer = coach.post(f"/trajects/{t}/close-early", {"reason": ""})
    assert answer.status_code == 422 and field_error(answer.text, "reason")
    page = coach.step(f"/trajects/{t}/close-early", {"reason": "Leerkracht gaat met verlof"})
    assert 'data-status="final"' in page.text and "Leerkracht gaat met verlof" in page.text
    assert 'data-step="prepare_final"' in teacher.get(f"/trajects/{t}").text


def test_coach_adapts_the_kijkwijzer_of_one_traject(coach: Client, teacher: Client) -> None:
    t = create(coach, "teacher", "Eigen kijkwijzer", teacher="Jeroen Bakker")
    page = coach.get(f"/trajects/{t}/kijkwijzer")
    assert page.status_code == 200 and 'name="count" value="7"' in page.text
    assert teacher.get(f"/trajects/{t}/kijkwijzer").status_code == 403
    keep = {
        "count": "2",
        "key-0": "q1",
        "kind-0": "development_question",
        "label-0": "Mijn ontwikkelvraag",
        "key-1": "q2",
        "kind-1": "checklist",
        "label-1": "Wat zag ik?",
        "options-1": "",
        "label-2": "Wat neem ik mee?",
        "kind-2": "text",
    }
    answer = coach.post(f"/trajects/{t}/kijkwijzer", keep)
    assert answer.status_code == 422 and field_error(answer.text, "1")
    assert "Wat neem ik mee?</textarea>" in answer.text
    # A removed row does not count; a refusal of the new row shows at the new row.
    answer = coach.post(
        f"/trajects/{t}/kijkwijzer",
        {**keep, "remove-1": "1", "kind-2": "checklist", "options-1": "Rust"},
    )
    assert answer.status_code == 422 and field_error(answer.text, "2")
    assert re.search(r'name="remove-1" value="1" checked', answer.text)
    coach.step(f"/trajects/{t}/kijkwijzer", {**keep, "options-1": "Rust\nBeurten"})
    through_intake(coach, teacher, t)
    coach.step(f"/trajects/{t}/cycles/1/recorded")
    coach.step(f"/trajects/{t}/cycles/1/analysed", {"analysis_notes": "a"})
    coach.step(f"/trajects/{t}/cycles/1/share")
    form = teacher.get(f"/trajects/{t}/cycles/1/kijkwijzer")
    assert "Wat neem ik mee?" in form.text and 'value="Beurten"' in form.text
    assert 'data-kind="timecode"' not in form.text


def test_a_placed_traject_opens_at_launch(school: TestPlatform, coach: Client) -> None:
    teacher = launch(school, Person("teacher-jeroen", [LEARNER], "Jeroen Bakker"))
    t = create(coach, "teacher", "Geplaatst traject", teacher="Jeroen Bakker")

    def placed(body: dict[str, Any]) -> None:
        body[CUSTOM] = {"beeldcoach_traject": str(t)}

    again = launch(school, Person("teacher-jeroen", [LEARNER], "Jeroen Bakker"), mutate=placed)
    assert (
        f'data-traject="{t}"' in again.start.text
        and "<h1>Geplaatst traject</h1>" in again.start.text
    )
    assert 'data-testid="api-status"' in again.start.text
    other = launch(school, Person("teacher-other", [LEARNER], "Ander"), mutate=placed)
    assert "Geplaatst traject" not in other.start.text  # not a participant: the overview
    assert teacher.start.status_code == 200


def test_teacher_reads_the_coachs_analysis_only_once_shared(coach: Client, teacher: Client) -> None:
    t = create(coach, "teacher", "Analyse pas na delen", teacher="Jeroen Bakker")
    through_intake(coach, teacher, t)
    coach.step(f"/trajects/{t}/cycles/1/recorded", {"focus": "Beurtverdeling"})
    coach.step(f"/trajects/{t}/cycles/1/analysed", {"analysis_notes": "GEHEIME-ANALYSE-1"})
    assert "GEHEIME-ANALYSE-1" in coach.get(f"/trajects/{t}").text
    assert "GEHEIME-ANALYSE-1" not in teacher.get(f"/trajects/{t}").text
    coach.step(f"/trajects/{t}/cycles/1/share")
    assert "GEHEIME-ANALYSE-1" in teacher.get(f"/trajects/{t}").text


def test_odd_digits_and_huge_ids_get_a_clear_answer(coach: Client, teacher: Client) -> None:
    """ "²".isdigit() is True in Python; ids beyond a database integer break PostgreSQL."""
    answer = coach.post("/trajects/new", {"kind": "teacher", "title": "x", "teacher_id": "²"})
    assert answer.status_code == 422
    t = create(coach, "teacher", "Vreemde cijfers", teacher="Jeroen Bakker")
    through_intake(coach, teacher, t)
    coach.step(f"/trajects/{t}/cycles/1/recorded", {"focus": "f"})
    marker = coach.post(
        f"/trajects/{t}/cycles/1/markers", {"kind": "strength", "text": "x", "start": "²"}
    )
    assert marker.status_code == 422
    for path in ("/trajects/99999999999", "/trajects/99999999999/cycles/1/kijkwijzer",
                 "/trajects/99999999999/report"):  # fmt: skip
        assert coach.get(path).status_code == 403, path


# --- whose markers a person sees ----------------------------------------------------------------


def marker_texts(html: str) -> set[str]:
    return set(re.findall(r'<span class="marker-text">(.*?)</span>', html, re.S))


def test_markers_stay_ones_own_until_the_kijkwijzer_is_in(coach: Client, teacher: Client) -> None:
    """The teacher forms their own view first and the coach does not read it beforehand:
    before the kijkwijzer is submitted each sees their side only; from then on both see all."""
    t = create(coach, "teacher", "Eerst een eigen blik", teacher="Jeroen Bakker")
    through_intake(coach, teacher, t)

    def seen(client: Client) -> set[str]:
        return marker_texts(client.get(f"/trajects/{t}").text)

    coach.step(f"/trajects/{t}/cycles/1/recorded", {"focus": "Beurtverdeling"})
    coach.step(f"/trajects/{t}/cycles/1/markers", {"kind": "strength", "text": "COACH-ZAG-DIT"})
    coach.step(f"/trajects/{t}/cycles/1/analysed", {"analysis_notes": "Drie momenten"})
    assert seen(teacher) == set()
    coach.step(f"/trajects/{t}/cycles/1/share")
    teacher.step(f"/trajects/{t}/cycles/1/markers", {"kind": "question", "text": "IK-ZAG-DIT"})

    # Shared: the teacher prepares alone, the coach has their own analysis.
    assert seen(teacher) == {"IK-ZAG-DIT"}
    assert seen(coach) == {"COACH-ZAG-DIT"}

    # Prepared: the kijkwijzer is in, the conversation shows both.
    teacher.step(f"/trajects/{t}/cycles/1/kijkwijzer", {**GUIDE, "action": "submit"})
    assert seen(teacher) == seen(coach) == {"IK-ZAG-DIT", "COACH-ZAG-DIT"}

    # Closed: the record of the cycle, for both.
    teacher.step(f"/trajects/{t}/cycles/1/conversation", {"conversation_notes": "Samen"})
    teacher.step(f"/trajects/{t}/cycles/1/action-points", {"action_point": "Wachten"})
    coach.step(f"/trajects/{t}/cycles/1/close", {"next_filming_on": "2027-01-11"})
    assert seen(teacher) == seen(coach) == {"IK-ZAG-DIT", "COACH-ZAG-DIT"}


# --- participants and privacy -------------------------------------------------------------------


def nl(app: Flask, msgid: str, **values: Any) -> str:
    """The Dutch the page shows for an English source string (whatever the catalogue holds)."""
    with app.test_request_context(), force_locale("nl"):
        return str(gettext(msgid, **values))


def participant_row(html: str, name: str) -> str:
    rows = re.findall(
        r"<li[^>]*data-participant=[^>]*>.*?</li>", block(html, "participants", "</ul>"), re.S
    )
    found = [row for row in rows if f'<span class="name">{name}</span>' in row]
    assert len(found) == 1, (name, rows)
    return found[0]


def test_a_participant_who_left_the_course_is_marked(
    app: Flask, school: TestPlatform, coach: Client, teacher: Client, app_ctx: Any
) -> None:
    t = create(coach, "teacher", "Wie is er nog", teacher="Jeroen Bakker")
    page = coach.get(f"/trajects/{t}").text
    assert 'data-left="1"' not in block(page, "participants", "</ul>")

    # The roster (NRPS), read with the service the coach's launch names: Jeroen left.
    launch(
        school,
        Person("coach-sanne", [INSTRUCTOR], "Sanne de Vries"),
        mutate=lambda body: body.update(school.service_claims()),
    )
    school.members["course-1"] = [
        {"user_id": "coach-sanne", "roles": [INSTRUCTOR], "status": "Active",
         "name": "Sanne de Vries"},
        {"user_id": "teacher-jeroen", "roles": [LEARNER], "status": "Inactive",
         "name": "Jeroen Bakker"},
    ]  # fmt: skip
    db.session.rollback()
    course_id = db.session.scalar(
        sa.select(Membership.course_id)
        .join(User, User.id == Membership.user_id)
        .where(User.issuer == school.issuer, User.sub == "coach-sanne")
    )
    assert course_id is not None
    assert tasks.sync_roster.run(course_id) == "ready"
    db.session.rollback()

    page = coach.get(f"/trajects/{t}").text
    jeroen = participant_row(page, "Jeroen Bakker")
    assert 'data-left="1"' in jeroen
    left = nl(app, "left the course on %(date)s", date="")
    assert left.strip() in re.sub(r"<[^>]+>", "", jeroen)  # in words, not colour only
    assert 'data-left="1"' not in participant_row(page, "Sanne de Vries")


def test_the_traject_page_links_to_the_privacy_pages_for_whoever_may_open_them(
    school: TestPlatform, coach: Client, teacher: Client
) -> None:
    t = create(coach, "teacher", "Privacy in zicht", teacher="Jeroen Bakker")
    team = create(coach, "team", "Klimaat", section="middenbouw")
    jeroen = re.search(
        r'<option value="(\d+)"[^>]*>Jeroen Bakker</option>', coach.get(f"/trajects/{team}").text
    )
    assert jeroen is not None
    coach.step(f"/trajects/{team}/participants", {"role": "management", "user_id": jeroen.group(1)})

    # Coach and teacher, and school management in a team traject (no footage of its own).
    for client, traject in ((coach, t), (teacher, t), (coach, team), (teacher, team)):
        links = block(client.get(f"/trajects/{traject}").text, "privacy-links", "</ul>")
        for testid, path in (
            ("privacy-traject-link", f"/privacy/trajects/{traject}"),
            ("privacy-me-link", "/privacy/me"),
        ):
            href = re.search(r'href="([^"]+)" data-testid="' + testid + '"', links)
            assert href is not None and urlsplit(href.group(1)).path.endswith(path), links
            opened = client.session.get(urljoin(client.base + "/", href.group(1)), timeout=10)
            assert opened.status_code == 200, (testid, traject)

    # Someone outside the traject sees neither page of it.
    fatima = launch(school, Person("teacher-fatima", [LEARNER], "Fatima El Amrani"))
    assert fatima.get(f"/trajects/{t}").status_code == 403
    assert fatima.get(f"/privacy/trajects/{t}").status_code == 403


def test_the_coach_reads_why_a_child_traject_takes_no_recordings_yet(
    app: Flask, coach: Client, teacher: Client
) -> None:
    t = create(coach, "child", "Concentratie", teacher="Jeroen Bakker", pupil_code="L-07")
    through_intake(coach, teacher, t)
    page = coach.get(f"/trajects/{t}").text
    assert 'data-testid="upload-form-1"' not in page
    why = block(page, "upload-waits-for-consent-1", "</p>")
    text = nl(
        app, "There is no consent from the parents to film yet, so no recordings can be added."
    )
    assert text in why
    link = re.search(r'href="([^"]+)" data-testid="consent-link-1"', why)
    assert link is not None and link.group(1).endswith(f"/privacy/trajects/{t}#consent")
    consent_page = coach.session.get(urljoin(coach.base + "/", link.group(1)), timeout=10)
    assert consent_page.status_code == 200 and 'data-testid="consent-form"' in consent_page.text
    # The teacher takes no recordings: nothing to explain there.
    assert "upload-waits-for-consent-1" not in teacher.get(f"/trajects/{t}").text

    # Once the parents' consent for filming is recorded, the upload form takes its place.
    recorded = coach.post(
        f"/privacy/trajects/{t}/consents",
        {"given_by": "parent", "given_by_name": "Moeder van L-07", "given_on": "2026-10-01",
         "scopes": ["filming", "teacher"], "evidence_note": "Formulier op papier"},
    )  # fmt: skip
    assert recorded.status_code == 303, recorded.text[:400]
    page = coach.get(f"/trajects/{t}").text
    assert 'data-testid="upload-form-1"' in page
    assert "upload-waits-for-consent-1" not in page
