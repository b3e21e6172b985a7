"""Steps of a coaching traject in a real browser, shared by the E2E tests of the three kinds.

Each `Person` is one person in their own browser context, with the tool in the demo platform's
cross-site iframe; the steps press the pages' own forms and wait for the page that follows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 360, "height": 740}


class Person:
    """One person in their own browser context, with the tool in the demo platform's iframe.

    `label` names them in screenshots ("coach", "teacher-phone", "management", ...)."""

    def __init__(
        self, page: Any, demo_base: str, key: str, artifacts: Path, label: str = ""
    ) -> None:
        self.page, self.demo_base, self.key, self.artifacts = page, demo_base, key, artifacts
        self.label = label or key
        self.f = page.frame_locator("#tool-frame")

    def launch(self) -> Person:
        """Log in: open the tool from the demo course as this person (an LTI launch)."""
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

    def open(self, path: str) -> Any:
        """Follow a link inside the iframe (a GET on the tool's partitioned session cookie)."""
        return self.frame.goto(self.tool_base + path)

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

    def next_step(self) -> str:
        """The code of the "your next step" banner on the traject page."""
        return self.f.get_by_test_id("next-step").get_attribute("data-step")

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

    def shot(self, name: str, whole: bool = True) -> None:
        """The platform page with the iframe stretched to the tool page's height and a window
        tall enough for both, so the whole tool page is in the picture (a full-page capture
        does not repaint a cross-site iframe beyond the window). With whole=False: just what
        the window shows, at its own size."""
        self.check_page()
        if not whole:
            self.page.screenshot(path=str(self.artifacts / f"{name}.png"))
            return
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


# --- creating a traject and its participants --------------------------------------------------


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


def add_participant(coach: Person, role: str, member: str = "", name: str = "") -> None:
    """The coach adds someone from the course (`member`, as listed) or, for a parent or an
    external professional, by `name`; the traject page then lists them."""
    coach.f.locator("#participants details.step-form > summary").click()
    form = "[data-testid=participant-form]"
    coach.f.locator(f"{form} select[name=role]").select_option(role)
    if member:
        coach.f.locator(f"{form} select[name=user_id]").select_option(label=member)
    if name:
        coach.f.locator(f"{form} [name=name]").fill(name)
    listed = member or name
    coach.submit("participant-form", f"[data-testid=participants] li:has-text('{listed}')")


def word_question(person: Person, question: str) -> None:
    """The one who leads (teacher, or school management) words the question: it counts at once."""
    person.fill("question-form", {"development_question": question})
    person.submit("question-form", f"[data-testid=development-question]:has-text('{question}')")


# --- one video cycle ----------------------------------------------------------------------------

GUIDE_TEXT = {
    "q2_time": "0:12",
    "q2_text": "Daan steekt zijn vinger op; ik kijk hem aan.",
    "q3_time": "1:35",
    "q3_text": "Ik knik naar Daan en hij gaat rechtop zitten.",
    "q4": "Drie initiatieven; ik ontvang ze vooral non-verbaal.",
    "q6": "Vaker benoemen wat goed gaat.",
}
FILMING = ("2026-11-09", "2026-11-30", "2027-01-11")


def fill_guide(person: Person, draft_first: bool = False) -> None:
    form = person.f.locator("[data-testid=guide-form]")
    form.wait_for()
    person.fill("guide-form", {"q2_time": GUIDE_TEXT["q2_time"], "q2_text": GUIDE_TEXT["q2_text"]})
    if draft_first:
        person.f.get_by_test_id("guide-draft").click()
        person.f.get_by_test_id("draft-saved").wait_for()
        assert person.f.locator("[name=q2_time]").input_value() == "0:12"
    person.fill("guide-form", GUIDE_TEXT)
    form.locator("input[name=q5][value='4']").check()
    form.locator("input[name=q7]").first.check()


@dataclass
class Cycle:
    """Who does what in cycle `n` of traject `t`: the coach records, analyses, shares, marks a
    moment of strength and closes; `watcher` fills in the kijkwijzer and `talker` records the
    conversation and agrees the action point (the teacher, or a team member)."""

    t: int
    n: int
    coach: Person
    watcher: Person
    talker: Person
    last: bool = False
    shots: str = ""  # a screenshot name prefix ("traject-teacher"), or none

    def shot(self, person: Person, number: str, what: str) -> None:
        if self.shots:
            person.shot(f"{self.shots}-{number}-cycle{self.n}-{what}-{person.label}")


def strength_text(n: int) -> str:
    return f"Knikken naar Daan (cyclus {n})"


def point_text(n: int) -> str:
    return f"Actiepunt {n}: drie kinderen aankijken"


def run_cycle(c: Cycle) -> None:
    """One video cycle through its forms, each person in their own browser."""
    coach, watcher, talker, t, n = c.coach, c.watcher, c.talker, c.t, c.n
    coach.traject(t)
    coach.fill(f"recorded-form-{n}", {"focus": "Beurtverdeling tijdens de instructie"})
    coach.fill(f"recorded-form-{n}", {"filming_on": FILMING[n - 1]})
    coach.submit(f"recorded-form-{n}", f"[data-testid=analysed-form-{n}]")
    coach.fill(f"analysed-form-{n}", {"analysis_notes": "Drie momenten van kracht gevonden."})
    coach.submit(f"analysed-form-{n}", f"[data-testid=share-form-{n}]")
    c.shot(coach, "04", "share")
    coach.submit(f"share-form-{n}", f"[data-testid=cycle-{n}][data-step=shared]")

    # The watcher finds the kijkwijzer as their next step on their overview.
    watcher.open("/trajects/")
    watcher.f.get_by_test_id(f"next-step-{t}").click()
    fill_guide(watcher, draft_first=bool(c.shots))
    c.shot(watcher, "05", "kijkwijzer")
    watcher.f.get_by_test_id("guide-submit").click()
    watcher.f.locator(f"[data-testid=cycle-{n}][data-step=prepared]").wait_for()

    talker.traject(t)
    talker.fill(f"conversation-form-{n}", {"conversation_notes": "Samen micro-gekeken bij 1:35."})
    talker.submit(f"conversation-form-{n}", f"[data-testid=cycle-{n}][data-step=discussed]")

    coach.traject(t)
    assert coach.f.locator(f"[data-testid=read-guide-{n}]").count() == 1
    marker = f"marker-form-{n}"
    coach.f.locator(f"[data-testid={marker}] input[name=kind][value=strength]").check()
    coach.fill(marker, {"text": strength_text(n), "start": "1:35", "end": "1:41"})
    coach.fill(marker, {"teacher_words": "Ik zag hem opleven."})
    coach.f.locator(f"[data-testid={marker}] input[name=tags]").first.check()
    coach.f.locator(f"[data-testid={marker}] select[name=domain]").select_option("interactie")
    coach.submit(marker, f"[data-testid=strengths-{n}]")

    talker.traject(t)
    if n > 1:
        # The action point of the previous cycle is shown here, with its status to update.
        earlier = talker.f.locator(f"[data-testid=earlier-points-{n}] li[data-point]").last
        point = earlier.get_attribute("data-point")
        assert earlier.get_attribute("data-status") == "planned"
        earlier.locator("select[name=status]").select_option("tried")
        earlier.locator("button[type=submit]").click()
        talker.f.locator(f"#point-{point}[data-status=tried]").wait_for()
    talker.fill(f"action-point-form-{n}", {"action_point": point_text(n)})
    talker.submit(f"action-point-form-{n}", f"[data-testid=points-{n}]:has-text('{point_text(n)}')")
    c.shot(talker, "06", "conversation")

    coach.traject(t)
    if not c.last:
        coach.fill(f"close-form-{n}", {"next_filming_on": FILMING[n]})
    coach.submit(f"close-form-{n}", f"[data-testid=cycle-{n}][data-step=closed]")


def run_cycles(t: int, coach: Person, turns: list[tuple[Person, Person]], shots: str = "") -> None:
    """All cycles of the traject, one (watcher, talker) pair per cycle; screenshots of the
    first cycle only."""
    for n, (watcher, talker) in enumerate(turns, start=1):
        last = n == len(turns)
        run_cycle(Cycle(t, n, coach, watcher, talker, last, shots if n == 1 else ""))


# --- the final conversation and the report ------------------------------------------------------


def prepare_final(person: Person, t: int, text: str, hidden: str = "") -> None:
    """Prepare the final conversation and mark it ready. `hidden`, a phrase of the other's
    (ready) preparation, is not shown before this one is ready too, and is shown after."""
    person.traject(t)
    assert person.next_step() == "prepare_final", person.next_step()
    if hidden:
        assert hidden not in person.f.get_by_test_id("other-preparation").inner_text()
    person.fill("preparation-form", {"preparation": text})
    person.f.locator("[data-testid=preparation-form] button[value=done]").click()
    person.f.locator("[data-testid=preparation-form] .prepared-mark").wait_for()
    if hidden:  # now both are ready: each sees the other's preparation
        assert hidden in person.f.get_by_test_id("other-preparation").inner_text()


def conclude(coach: Person, goal: str, values: dict[str, str]) -> None:
    """The coach records the joint conclusions (with the first moment as where it is visible);
    the traject is then completed."""
    form = "conclusions-form"
    coach.f.locator(f"[data-testid={form}] input[name=goal_reached][value={goal}]").check()
    coach.fill(form, values)
    coach.f.locator(f"[data-testid={form}] input[name=visible_in_marker_ids]").first.check()
    coach.submit(form, "[data-testid=conclusions]")
    assert coach.f.locator("[data-traject][data-status=completed]").count() == 1


def open_report(person: Person, t: int) -> Any:
    """From the completed traject's page, follow its "Eindverslag" link to the report."""
    person.traject(t)
    assert person.next_step() == "done"
    person.f.get_by_role("link", name="Eindverslag").click()
    report = person.f.get_by_test_id("final-report")
    report.wait_for()
    assert urlsplit(person.frame.url).path == f"/trajects/{t}/report"
    return report


def check_report(report: Any, help_question: str, cycles: int) -> None:
    """The quoted help question, and per cycle its "Momenten van kracht" with the moment."""
    quoted = report.get_by_test_id("help-question").inner_text().strip()
    assert quoted == f"“{help_question}”", quoted
    assert report.locator("section.r-cycle").count() == cycles
    for n in range(1, cycles + 1):
        cycle = report.locator(f"section.r-cycle[data-cycle='{n}']")
        headings = [h.strip() for h in cycle.locator("h4").all_inner_texts()]
        assert "Momenten van kracht" in headings, headings
        strengths = cycle.locator(".r-moment-strength .r-moment-text").all_inner_texts()
        assert strengths == [strength_text(n)], strengths
        assert point_text(n) in cycle.locator(".r-actions").inner_text()


def download_pdf(person: Person) -> tuple[str, bytes]:
    """Press the report page's PDF link; the browser downloads the file."""
    with person.page.expect_download() as download_info:
        person.f.get_by_test_id("report-pdf").click()
    download = download_info.value
    assert download.failure() is None, download.failure()
    return download.suggested_filename, Path(download.path()).read_bytes()
