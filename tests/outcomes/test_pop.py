"""The teacher's POP contribution: a draft during the traject, the teacher's edits and approval,
versions that never change afterwards, who may see it, the PDF / JSON / CSV exports, and the
teacher's removal of a contribution kept after its traject."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from lti_tool.cycles.services import StepRefused, conclude_final
from lti_tool.db import db
from lti_tool.media.models import Montage
from lti_tool.outcomes import services
from lti_tool.outcomes.models import PopContribution, PopVersion
from lti_tool.privacy.models import AuditEvent
from lti_tool.web.pop import HEADINGS
from tests.cycles.test_report import FOLLOW_UP, HOW, QUESTION, TEACHER_EVALUATION, complete_traject
from tests.lti_platform import INSTITUTION_ADMIN, INSTRUCTOR, LEARNER, Person, browser
from tests.outcomes.conftest import School, Someone, form_token, launch, nl
from tests.web.test_api_trajects import check_schema

CONCLUSIONS = {
    "goal_reached": "partly",
    "how_it_came_about": HOW,
    "yield_per_domain": {"interactie": "Meer non-verbaal ontvangen."},
    "teacher_evaluation": TEACHER_EVALUATION,
    "coach_reflection": "Jeroen nam zelf de leiding.",
    "follow_up": FOLLOW_UP,
}


def contribution_of(traject_id: int) -> PopContribution:
    db.session.rollback()
    contribution = db.session.scalar(
        sa.select(PopContribution).where(PopContribution.traject_id == traject_id)
    )
    assert contribution is not None
    return contribution


def url(school: School, contribution_id: int, suffix: str = "") -> str:
    return f"{school.platform.tool_base}/pop/{contribution_id}{suffix}"


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture
def open_traject(school: School) -> int:
    """A teacher traject in its final conversation (its POP draft exists since the start)."""
    traject = complete_traject(
        school.course_id, school.coach.user, school.teacher.user, conclude=False
    ).traject
    db.session.commit()
    return traject.id


def approve_form(page: requests.Response, **fields: object) -> dict[str, object]:
    return {"launch_token": form_token(page), "include_coach_reflection": "1", **fields}


def test_the_draft_follows_the_traject_and_is_approved_by_the_teacher(
    school: School, open_traject: int
) -> None:
    contribution = contribution_of(open_traject)
    assert contribution.teacher_id == school.teacher.user_id
    assert [v.number for v in contribution.versions] == [1]
    draft = services.content_of(contribution, contribution.latest)
    assert draft["goal"] == "Hoe houd ik de stille kinderen erbij, ook bij zelfstandig werken?"
    assert QUESTION in draft["development_question"]["wordings"]
    kinds = [a["kind"] for a in draft["activities"]]
    assert kinds == ["intake"] + ["recording", "coaching_conversation"] * 3
    assert draft["result"]["goal_reached"] is None
    assert len(draft["evidence"]["strengths"]) == 6  # strength only: no opportunities
    assert [a["status"] for a in draft["evidence"]["action_points"]] == [
        "established", "tried", "planned"]  # fmt: skip

    base = school.platform.tool_base
    page = school.teacher.session.get(url(school, contribution.id), timeout=10)
    assert page.status_code == 200
    assert 'data-testid="approve-later"' in page.text and 'data-testid="approve"' not in page.text
    with pytest.raises(StepRefused):
        services.approve(school.teacher.user_id, contribution.id, base)
    db.session.rollback()

    conclude_final(school.coach.user_id, open_traject, CONCLUSIONS)
    db.session.commit()
    page = school.teacher.session.get(url(school, contribution.id), timeout=10)
    assert 'data-testid="approve"' in page.text
    strengths = services.content_of(contribution, contribution.latest)["evidence"]["strengths"]
    first, second = strengths[0]["ref"], strengths[1]["ref"]
    assert "Daan" in strengths[0]["text"]
    # The teacher words the goal, leaves a pupil's name out of one moment and drops another.
    answer = school.teacher.session.post(
        url(school, contribution.id),
        data=approve_form(
            page, action="approve", goal="Ik betrek de stille kinderen bij de instructie.",
            competence_domains=["pedagogisch", "vakdidactisch"], method_domains=["interactie"],
            teacher_reflection="Ik zie nu zelf wat werkt.", yielded="Rust en beurten.",
            follow_up="Instructie in drie niveaus.",
            **{f"evidence-{first}": "Knikken naar een leerling die opkijkt",
               f"evidence-{second}": "  "},
        ),
        timeout=60,
    )  # fmt: skip
    assert answer.status_code == 200, answer.text[:800]
    approved = contribution_of(open_traject).latest
    assert approved.approved_at is not None and approved.approved_by_id == school.teacher.user_id
    content = approved.content
    assert content is not None
    assert content["goal"] == "Ik betrek de stille kinderen bij de instructie."
    assert content["competence_domains"] == ["pedagogisch", "vakdidactisch"]
    assert content["method_domains"] == ["interactie"]
    assert content["evidence"]["strengths"][0]["text"] == "Knikken naar een leerling die opkijkt"
    assert second not in [s["ref"] for s in content["evidence"]["strengths"]]
    assert content["result"] == {"goal_reached": "partly", "explanation": HOW,
                                 "yielded": "Rust en beurten."}  # fmt: skip
    assert content["reflection"]["coach"] == "Jeroen nam zelf de leiding."
    assert content["activities"][-1]["kind"] == "final_conversation"

    # Approved means frozen: a save is refused, a revision is a new version.
    again = school.teacher.session.post(
        url(school, contribution.id), data=approve_form(page, action="save", goal="Anders"),
        timeout=10,
    )  # fmt: skip
    assert again.status_code == 409
    page = school.teacher.session.get(url(school, contribution.id), timeout=10)
    revised = school.teacher.session.post(
        url(school, contribution.id, "/revise"), data={"launch_token": form_token(page)},
        timeout=10,
    )  # fmt: skip
    assert revised.status_code == 200 and 'data-testid="pop-form"' in revised.text
    current = contribution_of(open_traject)
    assert [(v.number, v.approved_at is not None) for v in current.versions] == [
        (1, True), (2, False)]  # fmt: skip
    assert current.versions[0].content == content  # untouched
    assert current.versions[1].edits["goal"] == content["goal"]  # the revision starts from it


def test_only_the_teacher_and_the_manager_they_choose_see_it(
    school: School, open_traject: int
) -> None:
    platform = school.platform
    manager = launch(platform, "manager-1", [LEARNER], "Directeur Mieke")
    other = launch(platform, "teacher-2", [LEARNER], "Fatima El Amrani")
    admin = launch(platform, "admin-1", [INSTITUTION_ADMIN], "Beheerder Bas")
    conclude_final(school.coach.user_id, open_traject, CONCLUSIONS)
    db.session.commit()
    contribution = contribution_of(open_traject)
    page = school.teacher.session.get(url(school, contribution.id), timeout=10)
    school.teacher.session.post(
        url(school, contribution.id), data=approve_form(page, action="approve", goal="Doel"),
        timeout=60,
    )  # fmt: skip

    def status(someone: Someone, suffix: str = "") -> int:
        return someone.session.get(url(school, contribution.id, suffix), timeout=30).status_code

    # Before the teacher allows it: nobody else, whatever their role.
    for someone in (manager, other, admin, school.coach):
        for suffix in ("", "/export.pdf", "/export.json", "/export.csv"):
            assert status(someone, suffix) == 403, (someone.sub, suffix)
    assert browser().get(url(school, contribution.id), timeout=10).status_code == 401

    page = school.teacher.session.get(url(school, contribution.id), timeout=10)
    assert f'value="{manager.user_id}"' in page.text
    chosen = school.teacher.session.post(
        url(school, contribution.id, "/manager"),
        data={"launch_token": form_token(page), "manager_id": manager.user_id}, timeout=10,
    )  # fmt: skip
    assert chosen.status_code == 200
    assert status(manager) == 200 and status(manager, "/export.json") == 200
    shared = manager.session.get(f"{platform.tool_base}/pop/", timeout=10)
    assert f'data-contribution="{contribution.id}"' in shared.text
    for someone in (other, admin, school.coach):
        assert status(someone) == 403
    # The manager sees approved versions only, never a draft.
    school.teacher.session.post(
        url(school, contribution.id, "/revise"), data={"launch_token": form_token(page)},
        timeout=10,
    )  # fmt: skip
    assert status(manager, "?v=2") == 403 and status(manager, "?v=1") == 200
    seen = manager.session.get(url(school, contribution.id), timeout=10)
    assert 'data-state="approved"' in seen.text and 'data-testid="pop-form"' not in seen.text
    assert 'data-testid="manager"' not in seen.text  # only the teacher decides
    # A teacher cannot choose someone outside the course.
    refused = school.teacher.session.post(
        url(school, contribution.id, "/manager"),
        data={"launch_token": form_token(page), "manager_id": 999_999}, timeout=10,
    )  # fmt: skip
    assert refused.status_code == 422
    # Taking the permission back ends the manager's view.
    school.teacher.session.post(
        url(school, contribution.id, "/manager"),
        data={"launch_token": form_token(page), "manager_id": ""}, timeout=10,
    )  # fmt: skip
    assert status(manager) == 403


def test_exports_carry_every_section_and_no_footage(
    school: School, open_traject: int, tmp_path: Path, artifacts: Path
) -> None:
    conclude_final(school.coach.user_id, open_traject, CONCLUSIONS)
    db.session.commit()
    contribution = contribution_of(open_traject)
    session = school.teacher.session
    page = session.get(url(school, contribution.id), timeout=10)
    session.post(url(school, contribution.id),
                 data=approve_form(page, action="approve", goal="Ik betrek de stille kinderen."),
                 timeout=60)  # fmt: skip

    # Inside the tool, a moment links to its footage while that exists.
    page = session.get(url(school, contribution.id), timeout=10)
    links = re.findall(r'class="p-link" href="([^"]+)" data-testid="evidence-link"', page.text)
    assert links and all(link.startswith(f"/trajects/{open_traject}#cycle-") for link in links)

    # The PDF: A4, every section, the teacher's words, no link and no footage reference.
    pdf = session.get(url(school, contribution.id, "/export.pdf"), timeout=60)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    assert pdf.headers["Cache-Control"] == "no-store"
    assert pdf.headers["Content-Disposition"].startswith("attachment;")
    path = tmp_path / "pop.pdf"
    path.write_bytes(pdf.content)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True)
    assert re.search(r"Page size:\s+595\.\d+ x 841\.\d+ pts \(A4\)", info.stdout)
    text = flat(subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"],
                               capture_output=True, text=True, check=True).stdout)  # fmt: skip
    positions = []
    for key, heading in HEADINGS.items():
        dutch = nl(school.app, heading._args[0])  # type: ignore[attr-defined]
        assert dutch in text, (key, dutch, text[:2000])
        positions.append(text.index(dutch))
    assert positions == sorted(positions)
    assert "Ik betrek de stille kinderen." in text and FOLLOW_UP in text
    assert TEACHER_EVALUATION in text and "Rust in groep 5" in text
    assert "0:14–0:21" in text  # a moment as text with its time code
    assert "http" not in text and "/trajects/" not in text and "/media/" not in text
    urls = subprocess.run(["pdfinfo", "-url", str(path)], capture_output=True, text=True).stdout
    assert not re.search(r"\w+://", urls), urls
    target = artifacts / "pop-page1"
    subprocess.run(["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile",
                    str(path), str(target)], check=True)  # fmt: skip
    png = target.with_suffix(".png")
    assert png.read_bytes().startswith(b"\x89PNG") and png.stat().st_size > 20_000

    # JSON: the content's schema, the version and its approval, no URL anywhere.
    exported = session.get(url(school, contribution.id, "/export.json"), timeout=10)
    assert exported.headers["Content-Type"].startswith("application/json")
    data = json.loads(exported.content)
    assert data["schema"] == "beeldcoach.pop-contribution/1"
    assert data["version"] == 1 and data["status"] == "approved" and data["approved_at"]
    for key in (
        "goal",
        "competence_domains",
        "method_domains",
        "activities",
        "evidence",
        "reflection",
        "result",
        "follow_up",
        "traject",
        "development_question",
    ):
        assert key in data, key  # fmt: skip
    assert all(re.fullmatch(r"M\d+", s["ref"]) for s in data["evidence"]["strengths"])
    assert "://" not in exported.text and "/trajects/" not in exported.text

    # CSV: semicolons and a byte order mark (Dutch Excel), one row per item.
    table = session.get(url(school, contribution.id, "/export.csv"), timeout=10)
    assert table.headers["Content-Type"].startswith("text/csv")
    assert table.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(table.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["section", "field", "cycle", "date", "status", "text"]
    sections = {row[0] for row in rows[1:]}
    assert {"goal", "domains", "activities", "evidence", "reflection", "result",
            "follow_up"} <= sections  # fmt: skip
    assert ["goal", "goal", "", "", "", "Ik betrek de stille kinderen."] in rows
    assert any(r[:2] == ["evidence", "action_point"] and r[4] == "established" for r in rows)
    assert "://" not in table.text

    # The footage is deleted: the moments stay as text, the link inside the tool goes.
    db.session.execute(sa.delete(Montage))
    db.session.commit()
    page = session.get(url(school, contribution.id), timeout=10)
    assert 'data-testid="evidence-link"' not in page.text
    assert "0:14–0:21" in page.text


def test_the_pop_page_gathers_every_contribution(school: School, open_traject: int) -> None:
    second = complete_traject(school.course_id, school.coach.user, school.teacher.user).traject
    db.session.commit()
    page = school.teacher.session.get(f"{school.platform.tool_base}/pop/", timeout=10)
    assert page.status_code == 200
    ids = re.findall(r'<li data-contribution="(\d+)"', page.text)
    assert len(ids) == 2
    assert {contribution_of(open_traject).id, contribution_of(second.id).id} == set(map(int, ids))
    # A coach's own POP page is empty: coaching others puts nothing in their POP.
    coach_page = school.coach.session.get(f"{school.platform.tool_base}/pop/", timeout=10)
    assert "data-contribution" not in coach_page.text


def test_placed_my_pop_and_coach_dashboard_links_open_their_pages(school: School) -> None:
    platform = school.platform

    def open_placed(sub: str, roles: list[str], page: str) -> str:
        custom = {"https://purl.imsglobal.org/spec/lti/claim/custom": {"beeldcoach_page": page}}
        result = platform.launch(
            Person(sub=sub, roles=roles, name=sub), mutate=lambda body: body.update(custom)
        )
        start = browser().get(result.response.headers["Location"], timeout=10)
        assert start.status_code == 200, start.text[:500]
        return start.text

    assert 'data-testid="pop-page"' in open_placed("teacher-1", [LEARNER], "my_pop")
    assert 'data-testid="coach-dashboard"' in open_placed(
        "coach-1", [INSTRUCTOR], "coach_dashboard"
    )
    # A teacher who follows the coach's dashboard link lands on their own overview instead.
    teacher_view = open_placed("teacher-1", [LEARNER], "coach_dashboard")
    assert 'data-testid="coach-dashboard"' not in teacher_view


# --- the teacher removes a contribution kept after its traject -----------------------------------

REFUSED_IN_TRAJECT = (
    "This POP contribution still belongs to its traject: it goes with the traject when you "
    "remove that, unless you choose to keep it then. A contribution you kept can be removed on "
    "its own afterwards."
)
ONLY_THE_TEACHER = "Only the teacher whose POP contribution this is can remove it."


def approve_over_http(school: School, contribution_id: int) -> None:
    page = school.teacher.session.get(url(school, contribution_id), timeout=10)
    answer = school.teacher.session.post(
        url(school, contribution_id), data=approve_form(page, action="approve", goal="Doel"),
        timeout=60,
    )  # fmt: skip
    assert answer.status_code == 200, answer.text[:800]


def keep_after_removing_traject(school: School, traject_id: int) -> int:
    """The teacher approves their contribution, removes the ended traject and keeps it; then
    starts a new draft version of it. Its id (its traject is gone)."""
    conclude_final(school.coach.user_id, traject_id, CONCLUSIONS)
    db.session.commit()
    contribution_id = contribution_of(traject_id).id
    approve_over_http(school, contribution_id)
    base = school.platform.tool_base
    page = school.teacher.session.get(f"{base}/privacy/trajects/{traject_id}/remove", timeout=10)
    removed = school.teacher.session.post(
        f"{base}/privacy/trajects/{traject_id}/remove",
        data={"launch_token": form_token(page), "keep_pop": "1", "confirm": "1"}, timeout=30,
    )  # fmt: skip
    assert removed.status_code == 200 and 'data-testid="removed"' in removed.text
    page = school.teacher.session.get(url(school, contribution_id), timeout=10)
    revised = school.teacher.session.post(
        url(school, contribution_id, "/revise"), data={"launch_token": form_token(page)},
        timeout=10,
    )  # fmt: skip
    assert revised.status_code == 200
    db.session.rollback()
    kept = db.session.get(PopContribution, contribution_id)
    assert kept is not None and kept.traject_id is None
    assert [(v.number, v.approved_at is not None) for v in kept.versions] == [
        (1, True), (2, False)]  # fmt: skip
    return contribution_id


def last_event() -> int:
    """The audit log's newest id: the log outlives each test, and SQLite gives a new
    contribution the id of a removed one, so a test counts only the events after this."""
    db.session.rollback()
    return int(db.session.scalar(sa.select(sa.func.max(AuditEvent.id))) or 0)


def rows_of(contribution_id: int, after: int) -> tuple[bool, int, int]:
    """Whether the contribution exists, how many versions it has, how many removal events."""
    db.session.rollback()
    versions = db.session.scalar(
        sa.select(sa.func.count(PopVersion.id)).where(PopVersion.contribution_id == contribution_id)
    )
    events = db.session.scalar(
        sa.select(sa.func.count(AuditEvent.id)).where(
            AuditEvent.event == "pop.remove",
            AuditEvent.item_id == contribution_id,
            AuditEvent.id > after,
        )
    )
    exists = db.session.get(PopContribution, contribution_id) is not None
    return exists, int(versions or 0), int(events or 0)


def test_the_teacher_removes_a_contribution_kept_after_its_traject(
    school: School, open_traject: int
) -> None:
    after = last_event()
    contribution_id = keep_after_removing_traject(school, open_traject)
    session = school.teacher.session
    mine = session.get(f"{school.platform.tool_base}/pop/", timeout=10)
    link = f'href="/pop/{contribution_id}/remove" data-testid="remove-{contribution_id}"'
    assert link in mine.text

    # The confirmation: what goes (every version, each with its PDF first), and the form.
    page = session.get(url(school, contribution_id, "/remove"), timeout=10)
    assert page.status_code == 200
    assert 'data-testid="pop-removal-form"' in page.text
    assert re.findall(r'<li data-version="(\d)"', page.text) == ["1", "2"]
    pdf = re.search(r'href="([^"]+)" data-testid="pop-pdf-1"', page.text)
    assert pdf is not None and pdf.group(1) == f"/pop/{contribution_id}/export.pdf?v=1"
    assert session.get(school.platform.tool_base + pdf.group(1), timeout=60).content[:5] == (
        b"%PDF-"
    )

    # Not confirmed: nothing goes.
    token = form_token(page)
    unconfirmed = session.post(
        url(school, contribution_id, "/remove"), data={"launch_token": token}, timeout=10
    )
    assert unconfirmed.status_code == 422 and 'data-field="confirm"' in unconfirmed.text
    assert rows_of(contribution_id, after) == (True, 2, 0)

    done = session.post(
        url(school, contribution_id, "/remove"), data={"launch_token": token, "confirm": "1"},
        timeout=10,
    )  # fmt: skip
    assert done.status_code == 200 and 'data-testid="pop-removed"' in done.text
    assert f'data-contribution="{contribution_id}"' not in done.text
    assert rows_of(contribution_id, after) == (False, 0, 1)
    event = db.session.scalar(
        sa.select(AuditEvent).where(AuditEvent.event == "pop.remove", AuditEvent.id > after)
    )
    assert event is not None
    assert event.actor_id == event.owner_id == school.teacher.user_id
    assert (event.item_kind, event.item_id) == ("pop_contribution", contribution_id)
    assert event.traject_id is None
    assert event.platform_id == school.course.platform_id
    assert event.detail == {"versions": 2, "approved_versions": 1}
    # Gone means gone: the page and the exports answer as for any unknown id.
    assert session.get(url(school, contribution_id), timeout=10).status_code == 403
    assert session.get(url(school, contribution_id, "/remove"), timeout=10).status_code == 403


def test_a_contribution_that_still_belongs_to_its_traject_is_refused(
    school: School, open_traject: int
) -> None:
    after = last_event()
    conclude_final(school.coach.user_id, open_traject, CONCLUSIONS)
    db.session.commit()
    contribution_id = contribution_of(open_traject).id
    approve_over_http(school, contribution_id)
    session = school.teacher.session
    mine = session.get(f"{school.platform.tool_base}/pop/", timeout=10)
    assert f'data-testid="remove-{contribution_id}"' not in mine.text

    traject_removal = f'href="/privacy/trajects/{open_traject}/remove"'
    page = session.get(url(school, contribution_id, "/remove"), timeout=10)
    assert page.status_code == 200
    assert 'data-testid="pop-removal-refused"' in page.text and traject_removal in page.text
    assert 'data-testid="pop-removal-form"' not in page.text

    refused = session.post(
        url(school, contribution_id, "/remove"),
        data={"launch_token": school.teacher.token, "confirm": "1"}, timeout=10,
    )  # fmt: skip
    assert refused.status_code == 409
    assert nl(school.app, REFUSED_IN_TRAJECT) in refused.text and traject_removal in refused.text
    api = requests.post(
        f"{school.platform.tool_base}/api/pop/{contribution_id}/remove", json={"confirm": True},
        headers={"Authorization": f"Bearer {school.teacher.token}"}, timeout=10,
    )  # fmt: skip
    assert api.status_code == 409 and api.json()["error"] == "order"
    assert rows_of(contribution_id, after) == (True, 1, 0)
    assert contribution_of(open_traject).id == contribution_id


def test_only_the_teacher_removes_a_kept_contribution(school: School, open_traject: int) -> None:
    after = last_event()
    platform = school.platform
    manager = launch(platform, "manager-1", [LEARNER], "Directeur Mieke")
    other = launch(platform, "teacher-2", [LEARNER], "Fatima El Amrani")
    admin = launch(platform, "admin-1", [INSTITUTION_ADMIN], "Beheerder Bas")
    contribution_id = contribution_of(open_traject).id
    # The teacher lets the manager see it while the traject still runs, then keeps it.
    page = school.teacher.session.get(url(school, contribution_id), timeout=10)
    chosen = school.teacher.session.post(
        url(school, contribution_id, "/manager"),
        data={"launch_token": form_token(page), "manager_id": manager.user_id}, timeout=10,
    )  # fmt: skip
    assert chosen.status_code == 200
    keep_after_removing_traject(school, open_traject)
    assert manager.session.get(url(school, contribution_id), timeout=10).status_code == 200

    api = f"{platform.tool_base}/api/pop/{contribution_id}/remove"
    for someone in (manager, other, admin, school.coach):
        page = someone.session.get(url(school, contribution_id, "/remove"), timeout=10)
        assert page.status_code == 403, someone.sub
        form = someone.session.post(
            url(school, contribution_id, "/remove"),
            data={"launch_token": someone.token, "confirm": "1"}, timeout=10,
        )  # fmt: skip
        assert form.status_code == 403, someone.sub
        answer = requests.post(
            api, json={"confirm": True}, headers={"Authorization": f"Bearer {someone.token}"},
            timeout=10,
        )  # fmt: skip
        assert answer.status_code == 403, someone.sub
        assert answer.json()["error"] == "forbidden"
    # The manager, who may know it exists, is told why.
    refused = manager.session.post(
        url(school, contribution_id, "/remove"),
        data={"launch_token": manager.token, "confirm": "1"}, timeout=10,
    )  # fmt: skip
    assert nl(school.app, ONLY_THE_TEACHER) in refused.text
    assert rows_of(contribution_id, after) == (True, 2, 0)

    # The teacher can (through the API): the refusals above were about who asked.
    done = requests.post(
        api, json={"confirm": True}, headers={"Authorization": f"Bearer {school.teacher.token}"},
        timeout=10,
    )  # fmt: skip
    assert done.status_code == 200, done.text[:400]
    assert done.json() == {
        "contribution_id": contribution_id,
        "removed": {"pop_contributions": 1, "pop_versions": 2},
    }
    spec = requests.get(f"{platform.tool_base}/api/openapi.json", timeout=10).json()
    check_schema(spec, {"$ref": "#/components/schemas/PopRemoved"}, done.json())
    check_schema(spec, {"$ref": "#/components/schemas/Error"}, answer.json())
    assert rows_of(contribution_id, after) == (False, 0, 1)
