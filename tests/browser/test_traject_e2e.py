"""Whole trajects in a real browser: the demo platform embeds the tool in a cross-site iframe,
coach Sanne and teacher Jeroen (or Fatima) work in separate browser contexts, every step goes
through the pages' own forms. Screenshots of each main state go to tests/artifacts/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 360, "height": 740}


@pytest.fixture
def new_page(chromium: Any) -> Iterator[Any]:
    contexts: list[Any] = []

    def make(viewport: dict[str, int] = DESKTOP) -> Any:
        phone = viewport["width"] < 500
        context = chromium.new_context(viewport=viewport, is_mobile=phone, has_touch=phone)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        return page

    yield make
    for context in contexts:
        context.close()


class Person:
    """One person in their own browser context, with the tool in the demo platform's iframe."""

    def __init__(self, page: Any, demo_base: str, key: str, artifacts: Path) -> None:
        self.page, self.demo_base, self.key, self.artifacts = page, demo_base, key, artifacts
        self.f = page.frame_locator("#tool-frame")

    def launch(self) -> Person:
        self.page.goto(f"{self.demo_base}/demo/")
        self.page.get_by_test_id(f"open-{self.key}").click()
        try:
            self.f.locator("[data-testid=api-status].ok").wait_for()
        except Exception as exc:  # say what the frame shows instead
            shown = self.frame.evaluate("document.body ? document.body.innerText : ''")
            raise AssertionError(f"{self.key} not launched: {self.frame.url}\n{shown}") from exc
        tool = urlsplit(self.frame.url)
        # The tool really is another site than the platform page around it.
        assert tool.hostname == "localhost" and urlsplit(self.page.url).hostname == "127.0.0.1"
        return self

    @property
    def frame(self) -> Any:
        return self.page.frame(name="tool-frame")

    @property
    def tool_base(self) -> str:
        parts = urlsplit(self.frame.url)
        return f"{parts.scheme}://{parts.netloc}"

    def open(self, path: str) -> None:
        """Follow a link inside the iframe (a GET on the tool's partitioned session cookie)."""
        self.frame.goto(self.tool_base + path)

    def traject(self, t: int) -> None:
        self.open(f"/trajects/{t}")
        self.f.locator(f"[data-traject='{t}']").first.wait_for()

    def submit(self, form: str, then: str) -> None:
        """Press the form's (first) submit button and wait for the page that follows."""
        self.f.locator(f"[data-testid={form}] button[type=submit]").first.click()
        self.f.locator(then).first.wait_for()

    def fill(self, form: str, values: dict[str, str]) -> None:
        for name, value in values.items():
            self.f.locator(f"[data-testid={form}] [name={name}]").fill(value)

    def step_of(self, n: int) -> str:
        return self.f.locator(f"[data-testid=cycle-{n}]").get_attribute("data-step")

    def check_page(self) -> None:
        """Every visible input has a label, and nothing scrolls sideways."""
        unlabelled = self.frame.evaluate(
            """() => [...document.querySelectorAll('input, select, textarea')]
                .filter(el => el.type !== 'hidden' && !(el.labels && el.labels.length))
                .map(el => el.name)"""
        )
        assert unlabelled == [], unlabelled
        duplicates = self.frame.evaluate(
            """() => { const seen = {}; return [...document.querySelectorAll('[id]')]
                .map(el => el.id).filter(id => seen[id] ? true : (seen[id] = 1, false)); }"""
        )
        assert duplicates == [], duplicates
        overflow = self.frame.evaluate(
            "document.scrollingElement.scrollWidth - document.scrollingElement.clientWidth"
        )
        assert overflow <= 0, f"{self.key}: the page scrolls sideways by {overflow}px"

    def shot(self, name: str) -> None:
        """The platform page with the iframe stretched to the tool page's height and a window
        tall enough for both, so the whole tool page is in the picture (a full-page capture
        does not repaint a cross-site iframe beyond the window)."""
        self.check_page()
        viewport = self.page.viewport_size
        height = self.frame.evaluate("document.documentElement.scrollHeight")
        self.page.evaluate(
            "h => { document.getElementById('tool-frame').style.height = h + 'px'; }", height
        )
        total = self.page.evaluate("document.documentElement.scrollHeight")
        self.page.set_viewport_size({"width": viewport["width"], "height": max(total, 200)})
        self.frame.evaluate(
            "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"
        )
        self.page.screenshot(path=str(self.artifacts / f"{name}.png"))
        self.page.set_viewport_size(viewport)
        self.page.evaluate("() => { document.getElementById('tool-frame').style.height = ''; }")


def traject_id(person: Person) -> int:
    match = re.search(r"/trajects/(\d+)", person.frame.url)
    assert match is not None, person.frame.url
    return int(match.group(1))


def create_traject(coach: Person, kind: str, title: str, teacher: str | None, **extra: str) -> int:
    coach.open("/trajects/")
    coach.f.get_by_test_id("new-traject").click()
    form = "new-traject-form"
    coach.f.locator(f"[data-testid={form}] input[name=kind][value={kind}]").check()
    coach.fill(form, {"title": title})
    if teacher:
        coach.f.locator(f"[data-testid={form}] select[name=teacher_id]").select_option(
            label=teacher
        )
    for name, value in extra.items():
        field = coach.f.locator(f"[data-testid={form}] [name={name}]")
        if name == "section":
            field.select_option(value)
        else:
            field.fill(value)
    coach.submit(form, "[data-testid=next-step]")
    return traject_id(coach)


GUIDE_TEXT = {
    "q2_time": "0:12",
    "q2_text": "Daan steekt zijn vinger op; ik kijk hem aan.",
    "q3_time": "1:35",
    "q3_text": "Ik knik naar Daan en hij gaat rechtop zitten.",
    "q4": "Drie initiatieven; ik ontvang ze vooral non-verbaal.",
    "q6": "Vaker benoemen wat goed gaat.",
}


def fill_guide(teacher: Person, draft_first: bool = False) -> None:
    form = teacher.f.locator("[data-testid=guide-form]")
    form.wait_for()
    teacher.fill("guide-form", {"q2_time": GUIDE_TEXT["q2_time"], "q2_text": GUIDE_TEXT["q2_text"]})
    if draft_first:
        teacher.f.get_by_test_id("guide-draft").click()
        teacher.f.get_by_test_id("draft-saved").wait_for()
        assert teacher.f.locator("[name=q2_time]").input_value() == "0:12"
    teacher.fill("guide-form", GUIDE_TEXT)
    form.locator("input[name=q5][value='4']").check()
    form.locator("input[name=q7]").first.check()


FILMING = ("2026-11-09", "2026-11-30", "2027-01-11")


def run_cycle(coach: Person, teacher: Person, t: int, n: int, last: bool, shots: bool) -> None:
    """One video cycle through its forms, coach and teacher each in their own browser."""
    coach.traject(t)
    coach.fill(f"recorded-form-{n}", {"focus": "Beurtverdeling tijdens de instructie"})
    coach.fill(f"recorded-form-{n}", {"filming_on": FILMING[n - 1]})
    coach.submit(f"recorded-form-{n}", f"[data-testid=analysed-form-{n}]")
    coach.fill(f"analysed-form-{n}", {"analysis_notes": "Drie momenten van kracht gevonden."})
    coach.submit(f"analysed-form-{n}", f"[data-testid=share-form-{n}]")
    if shots:
        coach.shot(f"traject-teacher-04-cycle{n}-share-coach")
    coach.submit(f"share-form-{n}", f"[data-testid=cycle-{n}][data-step=shared]")

    # The teacher finds the kijkwijzer as their next step on the overview.
    teacher.open("/trajects/")
    teacher.f.get_by_test_id(f"next-step-{t}").click()
    fill_guide(teacher, draft_first=shots)
    if shots:
        teacher.shot(f"traject-teacher-05-cycle{n}-kijkwijzer-teacher")
    teacher.f.get_by_test_id("guide-submit").click()
    teacher.f.locator(f"[data-testid=cycle-{n}][data-step=prepared]").wait_for()

    teacher.fill(f"conversation-form-{n}", {"conversation_notes": "Samen micro-gekeken bij 1:35."})
    teacher.submit(f"conversation-form-{n}", f"[data-testid=cycle-{n}][data-step=discussed]")

    coach.traject(t)
    assert coach.f.locator(f"[data-testid=read-guide-{n}]").count() == 1
    marker = f"marker-form-{n}"
    coach.f.locator(f"[data-testid={marker}] input[name=kind][value=strength]").check()
    coach.fill(marker, {"text": f"Knikken naar Daan (cyclus {n})", "start": "1:35", "end": "1:41"})
    coach.fill(marker, {"teacher_words": "Ik zag hem opleven."})
    coach.f.locator(f"[data-testid={marker}] input[name=tags]").first.check()
    coach.f.locator(f"[data-testid={marker}] select[name=domain]").select_option("interactie")
    coach.submit(marker, f"[data-testid=strengths-{n}]")

    teacher.traject(t)
    if n > 1:
        # The action point of the previous cycle is shown here, with its status to update.
        earlier = teacher.f.locator(f"[data-testid=earlier-points-{n}] li[data-point]").last
        point = earlier.get_attribute("data-point")
        assert earlier.get_attribute("data-status") == "planned"
        earlier.locator("select[name=status]").select_option("tried")
        earlier.locator("button[type=submit]").click()
        teacher.f.locator(f"#point-{point}[data-status=tried]").wait_for()
    teacher.fill(
        f"action-point-form-{n}", {"action_point": f"Actiepunt {n}: drie kinderen aankijken"}
    )
    teacher.submit(f"action-point-form-{n}", f"[data-testid=points-{n}]")
    if shots:
        teacher.shot(f"traject-teacher-06-cycle{n}-conversation-teacher")

    coach.traject(t)
    if not last:
        coach.fill(f"close-form-{n}", {"next_filming_on": FILMING[n]})
    coach.submit(f"close-form-{n}", f"[data-testid=cycle-{n}][data-step=closed]")


@pytest.mark.browser
def test_whole_teacher_traject_from_launch_to_the_final_conversation(
    new_page: Any, demo_base: str, artifacts: Path
) -> None:
    teacher = Person(new_page(), demo_base, "teacher1", artifacts).launch()
    phone = Person(new_page(PHONE), demo_base, "teacher1", artifacts).launch()
    coach = Person(new_page(), demo_base, "coach", artifacts).launch()
    coach.shot("traject-teacher-00-overview-coach")

    t = create_traject(coach, "teacher", "Rust en aandacht in groep 5 (e2e)", "Jeroen Bakker")
    coach.shot("traject-teacher-01-created-coach")

    # Intake: the coach writes it down and proposes a wording of the development question.
    coach.fill(
        "intake-form",
        {
            "help_question": "Hoe krijg ik meer rust in de groep tijdens de instructie?",
            "arrangements": "Drie opnames van een rekenles, elk gevolgd door een gesprek.",
            "intake_on": "2026-11-02",
        },
    )
    coach.submit("intake-form", "[data-testid=help-question]")
    coach.fill(
        "question-form", {"development_question": "Hoe geef ik beurten zodat iedereen meedoet?"}
    )
    coach.submit("question-form", "[data-testid=pending-question]")
    # Finishing the intake is refused while the teacher has not approved: the message shows.
    coach.submit("complete-intake-form", "[data-testid=error-summary]")
    coach.shot("traject-teacher-02-intake-refused-coach")

    # The teacher sees the approval as their next step, first, and approves on a phone.
    phone.open("/trajects/")
    assert phone.f.locator(f"[data-traject='{t}']").get_attribute("data-step") == "approve_question"
    phone.shot("traject-teacher-03-overview-teacher-phone")
    phone.f.get_by_test_id(f"next-step-{t}").click()
    phone.submit("approve-form", "[data-testid=development-question]")
    phone.shot("traject-teacher-03-approved-teacher-phone")
    assert "iedereen meedoet" in phone.f.get_by_test_id("development-question").inner_text()

    coach.traject(t)
    coach.submit("complete-intake-form", "[data-testid=cycle-1][data-step=planned]")
    assert coach.f.locator("[data-testid=cycle-3]").count() == 1

    run_cycle(coach, teacher, t, 1, last=False, shots=True)
    # After the first conversation the teacher refines the question; the history stays.
    teacher.traject(t)
    teacher.f.locator("#question details.step-form > summary").click()
    teacher.fill("question-form", {"development_question": "Hoe betrek ik de stille kinderen?"})
    teacher.submit("question-form", "[data-testid=development-question]:has-text('stille')")
    assert teacher.f.locator("[data-testid=question-history] li").count() == 2
    run_cycle(coach, teacher, t, 2, last=False, shots=False)
    run_cycle(coach, teacher, t, 3, last=True, shots=False)

    # Final conversation: separate preparations, the other's hidden until both are ready.
    teacher.traject(t)
    assert teacher.f.get_by_test_id("next-step").get_attribute("data-step") == "prepare_final"
    teacher.fill("preparation-form", {"preparation": "Ik geef nu bewuster beurten."})
    teacher.f.locator("[data-testid=preparation-form] button[value=done]").click()
    teacher.f.locator("[data-testid=preparation-form] .ok").wait_for()
    coach.traject(t)
    other = coach.f.get_by_test_id("other-preparation").inner_text()
    assert "bewuster beurten" not in other
    coach.fill("preparation-form", {"preparation": "Zichtbaar in cyclus 2 en 3: stille kinderen."})
    coach.f.locator("[data-testid=preparation-form] button[value=done]").click()
    coach.f.get_by_test_id("conclusions-form").wait_for()
    assert "bewuster beurten" in coach.f.get_by_test_id("other-preparation").inner_text()
    coach.shot("traject-teacher-07-final-prepared-coach")

    form = "conclusions-form"
    coach.f.locator(f"[data-testid={form}] input[name=goal_reached][value=partly]").check()
    coach.fill(
        form,
        {
            "how_it_came_about": "Door het micro-kijken zag Jeroen zijn eigen knikje.",
            "yield_interactie": "Meer non-verbaal ontvangen.",
            "yield_klassenmanagement": "Beurten ook achterin de klas.",
            "teacher_evaluation": "Ik kijk nu anders naar mijn instructie.",
            "coach_reflection": "Jeroen leidde zelf; ik hoefde weinig te sturen.",
            "follow_up": "Nieuwe leerwens: instructie in drie niveaus.",
        },
    )
    coach.f.locator(f"[data-testid={form}] input[name=visible_in_marker_ids]").first.check()
    coach.submit(form, "[data-testid=conclusions]")
    coach.shot("traject-teacher-08-completed-coach")
    assert coach.f.locator("[data-status=completed]").count() == 1

    phone.traject(t)
    assert phone.f.get_by_test_id("next-step").get_attribute("data-step") == "done"
    assert "Meer non-verbaal ontvangen." in phone.f.get_by_test_id("conclusions").inner_text()
    phone.shot("traject-teacher-09-completed-teacher-phone")


@pytest.mark.browser
def test_team_traject_through_intake_and_a_first_step(
    new_page: Any, demo_base: str, artifacts: Path
) -> None:
    jeroen = Person(new_page(), demo_base, "teacher1", artifacts).launch()
    fatima = Person(new_page(PHONE), demo_base, "teacher2", artifacts).launch()
    coach = Person(new_page(), demo_base, "coach", artifacts).launch()
    t = create_traject(
        coach, "team", "Eén klimaat in de middenbouw (e2e)", None, section="middenbouw"
    )

    # The coach adds school management and a team member from the course.
    for role, name in (("management", "Jeroen Bakker"), ("team_member", "Fatima El Amrani")):
        coach.f.locator("#participants details.step-form > summary").click()
        coach.f.locator("[data-testid=participant-form] select[name=role]").select_option(role)
        coach.f.locator("[data-testid=participant-form] select[name=user_id]").select_option(
            label=name
        )
        coach.submit("participant-form", f"[data-testid=participants] >> text={name}")
    coach.shot("traject-team-01-participants-coach")

    # School management states the help question and the development question, in its words.
    jeroen.traject(t)
    assert jeroen.f.get_by_test_id("next-step").get_attribute("data-step") == "question"
    jeroen.fill("intake-form", {"help_question": "Hoe komen we tot één aanpak bij de overgangen?"})
    jeroen.submit("intake-form", "[data-testid=help-question]")
    jeroen.fill("question-form", {"development_question": "Hoe bouwen we samen één klimaat?"})
    jeroen.submit("question-form", "[data-testid=development-question]")
    jeroen.shot("traject-team-02-intake-management")

    coach.traject(t)
    coach.submit("complete-intake-form", "[data-testid=recorded-form-1]")
    coach.fill("recorded-form-1", {"focus": "De overgang van instructie naar zelfstandig werken"})
    coach.submit("recorded-form-1", "[data-testid=cycle-1][data-step=recorded]")
    coach.shot("traject-team-03-first-recording-coach")

    # A team member sees the traject and its step, but no coach's form.
    fatima.traject(t)
    assert fatima.step_of(1) == "recorded"
    assert fatima.f.locator("[data-testid=analysed-form-1]").count() == 0
    fatima.shot("traject-team-04-team-member-phone")


@pytest.mark.browser
def test_child_traject_created_with_a_pupil_code(
    new_page: Any, demo_base: str, artifacts: Path
) -> None:
    Person(new_page(), demo_base, "teacher2", artifacts).launch()
    coach = Person(new_page(), demo_base, "coach", artifacts).launch()

    # Without a pupil code the form is refused, and what was typed stays.
    coach.open("/trajects/new")
    form = "new-traject-form"
    coach.f.locator(f"[data-testid={form}] input[name=kind][value=child]").check()
    assert coach.f.locator(f"[data-testid={form}] [name=pupil_code]").is_visible()
    assert not coach.f.locator(f"[data-testid={form}] [name=section]").is_visible()
    coach.fill(form, {"title": "Concentratie bij zelfstandig werken (e2e)"})
    coach.f.locator(f"[data-testid={form}] select[name=teacher_id]").select_option(
        label="Fatima El Amrani"
    )
    coach.submit(form, "[data-testid=field-error][data-field=pupil_code]")
    title = coach.f.locator(f"[data-testid={form}] [name=title]").input_value()
    assert title == "Concentratie bij zelfstandig werken (e2e)"
    coach.shot("traject-child-01-refused-without-code")

    coach.fill(form, {"pupil_code": "L-12"})
    coach.submit(form, "[data-testid=next-step]")
    t = traject_id(coach)
    assert "L-12" in coach.f.locator(f"[data-traject='{t}']").first.inner_text()
    # By keyboard only: open the form, choose the role, type the name, press Enter.
    coach.f.locator("#participants details.step-form > summary").focus()
    coach.page.keyboard.press("Enter")
    role = coach.f.locator("[data-testid=participant-form] select[name=role]")
    role.focus()
    role.select_option("parent")
    coach.page.keyboard.press("Tab")  # to the course member list
    coach.page.keyboard.press("Tab")  # to the name
    coach.page.keyboard.type("Ouders van L-12")
    coach.page.keyboard.press("Enter")
    coach.f.locator("[data-testid=participants] >> text=Ouders van L-12").wait_for()
    coach.shot("traject-child-02-created-coach")
