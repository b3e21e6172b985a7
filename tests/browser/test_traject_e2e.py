"""Whole trajects in a real browser, from a launch to the final report: the demo platform embeds
the tool in a cross-site iframe, and every person (coach Sanne, teachers Jeroen and Fatima, school
management Ingrid) works in their own browser context through the pages' own forms. Screenshots
of each main state go to tests/artifacts/."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.traject_steps import (
    DESKTOP,
    PHONE,
    Cycle,
    Person,
    add_participant,
    check_report,
    conclude,
    create_traject,
    download_pdf,
    open_report,
    prepare_final,
    run_cycle,
    run_cycles,
    traject_id,
    word_question,
)

Launch = Callable[..., Person]


@pytest.fixture
def launch(chromium: Any, demo_base: str, artifacts: Path) -> Iterator[Launch]:
    """Log in as a demo person in a new browser context: launch("coach"), or
    launch("teacher2", "teacher-phone", PHONE)."""
    contexts: list[Any] = []

    def make(key: str, label: str = "", viewport: dict[str, int] = DESKTOP) -> Person:
        phone = viewport["width"] < 500
        context = chromium.new_context(viewport=viewport, is_mobile=phone, has_touch=phone)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        return Person(page, demo_base, key, artifacts, label).launch()

    yield make
    for context in contexts:
        context.close()


def report_participants(report: Any) -> str:
    return report.locator("[data-section=traject]").inner_text()


# --- the teacher traject ------------------------------------------------------------------------

TEACHER_HELP = "Hoe krijg ik meer rust in de groep tijdens de instructie?"


@pytest.mark.browser
def test_whole_teacher_traject_from_launch_to_the_final_report(launch: Launch) -> None:
    teacher = launch("teacher1", "teacher")
    phone = launch("teacher1", "teacher-phone", PHONE)
    coach = launch("coach")
    coach.shot("traject-teacher-00-overview-coach")

    t = create_traject(coach, "teacher", "Rust en aandacht in groep 5 (e2e)", "Jeroen Bakker")
    coach.shot("traject-teacher-01-created-coach")

    # Intake: the coach writes it down and proposes a wording of the development question.
    coach.fill(
        "intake-form",
        {
            "help_question": TEACHER_HELP,
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

    run_cycle(Cycle(t, 1, coach, teacher, teacher, shots="traject-teacher"))
    # After the first conversation the teacher refines the question; the history stays.
    teacher.traject(t)
    teacher.f.locator("#question details.step-form > summary").click()
    word_question(teacher, "Hoe betrek ik de stille kinderen?")
    assert teacher.f.locator("[data-testid=question-history] li").count() == 2
    run_cycle(Cycle(t, 2, coach, teacher, teacher))
    run_cycle(Cycle(t, 3, coach, teacher, teacher, last=True))

    # Final conversation: the last action point gets its status; then separate preparations,
    # the other's hidden until both are ready.
    teacher.traject(t)
    last_point = teacher.f.locator("[data-testid=final-points] li[data-point]").last
    point = last_point.get_attribute("data-point")
    last_point.locator("select[name=status]").select_option("established")
    last_point.locator("button[type=submit]").click()
    teacher.f.locator(f"#point-{point}[data-status=established]").wait_for()
    prepare_final(teacher, t, "Ik geef nu bewuster beurten.")
    prepare_final(coach, t, "Zichtbaar in cyclus 2 en 3: stille kinderen.", "bewuster beurten")
    coach.shot("traject-teacher-07-final-prepared-coach")
    conclude(
        coach,
        "partly",
        {
            "how_it_came_about": "Door het micro-kijken zag Jeroen zijn eigen knikje.",
            "yield_interactie": "Meer non-verbaal ontvangen.",
            "yield_klassenmanagement": "Beurten ook achterin de klas.",
            "teacher_evaluation": "Ik kijk nu anders naar mijn instructie.",
            "coach_reflection": "Jeroen leidde zelf; ik hoefde weinig te sturen.",
            "follow_up": "Nieuwe leerwens: instructie in drie niveaus.",
        },
    )
    coach.shot("traject-teacher-08-completed-coach")

    phone.traject(t)
    assert phone.next_step() == "done"
    assert "Meer non-verbaal ontvangen." in phone.f.get_by_test_id("conclusions").inner_text()
    phone.shot("traject-teacher-09-completed-teacher-phone")

    # The final report, in the coach's browser and in the teacher's (on the phone).
    for person in (coach, phone):
        report = open_report(person, t)
        check_report(report, TEACHER_HELP, cycles=3)
        wordings = report.get_by_test_id("wordings").locator("li").all_inner_texts()
        assert len(wordings) == 2 and "stille kinderen" in wordings[1], wordings
        assert report.get_by_test_id("goal").inner_text().strip() == "Deels bereikt"
        statuses = report.locator(".r-actions li").evaluate_all(
            "items => items.map(li => li.dataset.status)"
        )
        assert statuses == ["tried", "tried", "established"], statuses
        person.shot(f"traject-teacher-10-report-{person.label}")

    # The teacher downloads it as a PDF from the report page.
    name, pdf = download_pdf(phone)
    assert pdf.startswith(b"%PDF-"), pdf[:20]
    assert name.endswith(f"-{t}.pdf"), name


# --- the team traject ---------------------------------------------------------------------------

TEAM_HELP = "Hoe komen we tot één aanpak bij de overgangen?"


@pytest.mark.browser
def test_whole_team_traject_from_launch_to_the_final_report(launch: Launch) -> None:
    # Everyone launches once first: that makes them members of the course the coach picks from.
    management = launch("admin", "management")
    jeroen = launch("teacher1", "team-member")
    fatima = launch("teacher2", "team-member-phone", PHONE)
    coach = launch("coach")
    t = create_traject(
        coach, "team", "Eén klimaat in de middenbouw (e2e)", None, section="middenbouw"
    )
    add_participant(coach, "management", "Ingrid Visser")
    add_participant(coach, "team_member", "Jeroen Bakker")
    add_participant(coach, "team_member", "Fatima El Amrani")
    listed = coach.f.get_by_test_id("participants").inner_text()
    assert "Directie" in listed and listed.count("Teamlid") == 2, listed
    coach.shot("traject-team-01-participants-coach")

    # School management states the help question and the development question, in its words;
    # a team member does not.
    jeroen.traject(t)
    assert jeroen.f.locator("[data-testid=intake-form], [data-testid=question-form]").count() == 0
    management.traject(t)
    assert management.next_step() == "question"
    management.fill(
        "intake-form",
        {"help_question": TEAM_HELP, "arrangements": "Drie opnames in drie groepen."},
    )
    management.submit("intake-form", "[data-testid=help-question]")
    word_question(management, "Hoe bouwen we samen één klimaat?")
    management.shot("traject-team-02-intake-management")

    coach.traject(t)
    coach.submit("complete-intake-form", "[data-testid=cycle-1][data-step=planned]")
    coach.shot("traject-team-03-cycles-started-coach")

    # Each cycle a team member watches and fills in the kijkwijzer in their own browser, and
    # holds the conversation with the coach; Fatima's turn is on a phone.
    run_cycle(Cycle(t, 1, coach, jeroen, jeroen, shots="traject-team"))
    run_cycle(Cycle(t, 2, coach, fatima, fatima, shots="traject-team"))
    run_cycle(Cycle(t, 3, coach, jeroen, jeroen, last=True))

    # School management and the coach prepare the final conversation; team members do not.
    jeroen.traject(t)
    assert jeroen.f.locator("[data-testid=preparation-form]").count() == 0
    prepare_final(management, t, "Het team noemt de overgangen nu rustiger.")
    prepare_final(coach, t, "In alle drie groepen dezelfde signalen.", "overgangen nu rustiger")
    conclude(
        coach,
        "yes",
        {
            "how_it_came_about": "Samen kijken naar elkaars overgangen.",
            "yield_klassenmanagement": "Eén signaal voor de overgang in de hele middenbouw.",
            "coach_reflection": "Het team nam het gesprek snel over.",
        },
    )
    coach.shot("traject-team-07-completed-coach")

    report = open_report(management, t)
    check_report(report, TEAM_HELP, cycles=3)
    people = report_participants(report)
    for name in ("Ingrid Visser", "Jeroen Bakker", "Fatima El Amrani", "Sanne de Vries"):
        assert name in people, people
    management.shot("traject-team-08-report-management")

    # A team member sees the completed traject (here on a phone, as the window shows it), but
    # the report is for school management, the coach and the teacher: their request is refused.
    fatima.traject(t)
    assert fatima.next_step() == "done"
    fatima.shot("traject-team-09-completed-team-member-phone", whole=False)
    assert fatima.f.get_by_test_id("report-link").count() == 0  # no link to a refused page
    answer = fatima.open(f"/trajects/{t}/report")
    assert answer is not None and answer.status == 403, answer and answer.status


# --- the child traject --------------------------------------------------------------------------

CHILD_HELP = "Hoe help ik L-12 om langer geconcentreerd zelfstandig te werken?"


@pytest.mark.browser
def test_whole_child_traject_from_launch_to_the_final_report(launch: Launch) -> None:
    teacher = launch("teacher2", "teacher")
    coach = launch("coach")

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
    # A parent, by name, by keyboard only: open the form, choose the role, type, press Enter.
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

    # The coach writes down the intake; the teacher words the question herself.
    coach.fill("intake-form", {"help_question": CHILD_HELP, "intake_on": "2026-11-03"})
    coach.submit("intake-form", "[data-testid=help-question]")
    teacher.traject(t)
    assert teacher.next_step() == "question"
    word_question(teacher, "Hoe geef ik L-12 houvast zonder steeds in te grijpen?")
    teacher.shot("traject-child-03-question-teacher")
    coach.traject(t)
    coach.submit("complete-intake-form", "[data-testid=cycle-1][data-step=planned]")

    run_cycles(t, coach, [(teacher, teacher)] * 3, shots="traject-child")

    prepare_final(teacher, t, "L-12 werkt nu tien minuten zelfstandig.")
    prepare_final(coach, t, "Houvast met een timer werkt.", "tien minuten zelfstandig")
    conclude(
        coach,
        "yes",
        {
            "how_it_came_about": "Fatima zag op beeld wanneer L-12 afhaakte.",
            "yield_didactiek": "Opdrachten in kleine stappen met een timer.",
            "teacher_evaluation": "Ik grijp minder vaak in.",
        },
    )
    coach.shot("traject-child-07-completed-coach")

    report = open_report(teacher, t)
    check_report(report, CHILD_HELP, cycles=3)
    people = report_participants(report)
    assert "L-12" in people and "Ouders van L-12" in people, people
    teacher.shot("traject-child-08-report-teacher")
