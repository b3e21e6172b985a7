"""The course roster (NRPS) over real HTTP: three pages with mixed-case `Link` URLs, people who
never launched become choosable, people who left are marked and kept, refresh on demand and on
launch when stale."""

from __future__ import annotations

import sqlalchemy as sa

from lti_tool.cycles.models import Participant, Traject
from lti_tool.db import db
from lti_tool.launch.services import parse_links
from lti_tool.outcomes import services, tasks
from lti_tool.outcomes.models import CourseRoster, RosterMember
from lti_tool.people.models import Membership, User
from lti_tool.people.services import course_members
from tests.lti_platform import INSTRUCTOR, LEARNER
from tests.outcomes.conftest import School, form_token, launch, member, nl

TEAM = [
    member("team-a", [LEARNER], "Anouk Jansen"),
    member("team-b", [LEARNER], "Bram de Boer"),
    member("team-c", [LEARNER], "Chantal Visser"),
    member("gone-d", [LEARNER], "Daan Mulder", status="Inactive"),
]


def sync(course_id: int) -> str:
    status = tasks.sync_roster.run(course_id)
    db.session.rollback()  # read what the task committed
    return status


def user_of(school: School, sub: str) -> User:
    user = db.session.scalar(
        sa.select(User).where(User.issuer == school.platform.issuer, User.sub == sub)
    )
    assert user is not None, sub
    return user


def test_link_headers_are_parsed_with_their_case() -> None:
    base = "https://lms.example/NRPS/Ctx/Members?Page=1"
    header = (
        '<https://LMS.example/NRPS/Ctx/Members?Page=3&Sig=AbC>; rel="last", '
        '</NRPS/Ctx/Members?Page=2&Sig=AbC>; title="Page 2, of 3"; REL="Next prev"'
    )
    links = parse_links(header, base)
    assert links["next"] == "https://lms.example/NRPS/Ctx/Members?Page=2&Sig=AbC"
    assert links["prev"] == links["next"]
    assert links["last"] == "https://LMS.example/NRPS/Ctx/Members?Page=3&Sig=AbC"
    assert parse_links("", base) == {}
    assert parse_links("<https://x/a>; rel=next", base) == {"next": "https://x/a"}
    assert parse_links('<https://x/a,b>; rel="next"') == {"next": "https://x/a,b"}


def test_the_roster_is_read_over_three_pages_with_mixed_case_links(school: School) -> None:
    platform = school.platform
    platform.members["course-1"] += TEAM
    assert sync(school.course_id) == "ready"

    # Page 1 from the claim, page 2 from an absolute link, page 3 from a relative one with
    # rel="Next": every URL kept its case (a lower-cased one answers 404 or 400).
    assert len(platform.nrps_requests) == 3
    for n, url in enumerate(platform.nrps_requests, start=1):
        assert "/NRPS/COURSE-1/Members?" in url and "Sig=AbC" in url
        assert (f"Page={n}" in url) == (n > 1)

    roster = db.session.scalar(
        sa.select(CourseRoster).where(CourseRoster.course_id == school.course_id)
    )
    assert roster is not None and roster.status == "ready" and roster.member_count == 5
    names = {u.display_name for u in course_members(school.course_id)}
    assert {"Anouk Jansen", "Bram de Boer", "Chantal Visser"} <= names
    # Roles come from the platform: learners are teachers who can be chosen as such.
    assert "Anouk Jansen" in {u.display_name for u in course_members(school.course_id, "teacher")}
    # Inactive in the course: on the roster, marked as having left, never offered.
    gone = user_of(school, "gone-d")
    assert gone.display_name not in names
    entry = db.session.scalar(sa.select(RosterMember).where(RosterMember.user_id == gone.id))
    assert entry is not None and entry.left_at is not None


def test_team_members_come_from_the_roster_and_those_who_left_are_marked(school: School) -> None:
    platform, base = school.platform, school.platform.tool_base
    platform.members["course-1"] += TEAM
    coach = school.coach
    page = coach.session.get(f"{base}/coach/dashboard", timeout=10)
    assert page.status_code == 200
    refresh = coach.session.post(
        f"{base}/coach/roster/refresh", data={"launch_token": form_token(page)}, timeout=10
    )
    assert refresh.status_code == 200
    db.session.rollback()
    assert services.roster_of(school.course_id).status == "queued"  # type: ignore[union-attr]
    assert sync(school.course_id) == "ready"

    # The coach makes a team traject and picks team members nobody had to launch first.
    new = coach.session.get(f"{base}/trajects/new", timeout=10)
    created = coach.session.post(
        f"{base}/trajects/new",
        data={"launch_token": form_token(new), "kind": "team", "title": "Lezen in de bovenbouw",
              "section": "bovenbouw"},
        timeout=10,
    )  # fmt: skip
    assert created.status_code == 200, created.text[:500]
    db.session.rollback()
    traject = db.session.scalar(
        sa.select(Traject).where(Traject.course_id == school.course_id, Traject.kind == "team")
    )
    assert traject is not None
    anouk, bram = user_of(school, "team-a"), user_of(school, "team-b")
    assert anouk.last_launch_at is None  # never launched
    show = coach.session.get(f"{base}/trajects/{traject.id}", timeout=10)
    assert f'value="{anouk.id}"' in show.text and "Anouk Jansen" in show.text
    for person in (anouk, bram):
        added = coach.session.post(
            f"{base}/trajects/{traject.id}/participants",
            data={"launch_token": form_token(show), "role": "team_member", "user_id": person.id},
            timeout=10,
        )
        assert added.status_code == 200, added.text[:500]
    db.session.rollback()
    members = set(
        db.session.scalars(
            sa.select(Participant.user_id).where(
                Participant.traject_id == traject.id, Participant.role == "team_member"
            )
        )
    )
    assert members == {anouk.id, bram.id}

    # Bram leaves the course: marked on the next refresh, not deleted anywhere.
    platform.members["course-1"] = [m for m in platform.members["course-1"]
                                    if m["user_id"] != "team-b"]  # fmt: skip
    assert sync(school.course_id) == "ready"
    assert bram.id not in {u.id for u in course_members(school.course_id)}
    assert db.session.get(User, bram.id) is not None
    assert db.session.scalar(
        sa.select(Membership.id).where(
            Membership.user_id == bram.id, Membership.course_id == school.course_id
        )
    )
    assert bram.id in {
        p for p in db.session.scalars(
            sa.select(Participant.user_id).where(Participant.traject_id == traject.id))
    }  # fmt: skip
    dashboard = coach.session.get(f"{base}/coach/dashboard", timeout=10).text
    row = dashboard[dashboard.index(f'data-user="{bram.id}"') :]
    assert row.startswith(f'data-user="{bram.id}" data-left="1"')
    left_text = nl(school.app, "left the course on %(date)s", date="")
    assert left_text.split("%")[0].strip() in row[:400]
    # He cannot be chosen for a traject any more.
    other = coach.session.post(
        f"{base}/trajects/{traject.id}/participants",
        data={"launch_token": form_token(show), "role": "management", "user_id": bram.id},
        timeout=10,
    )
    assert other.status_code == 422

    # Back in the course and launching: no longer marked, before any refresh.
    launch(platform, "team-b", [LEARNER], "Bram de Boer")
    assert bram.id in {u.id for u in course_members(school.course_id)}


def test_a_stale_roster_is_refreshed_on_launch(school: School) -> None:
    """The school fixture's launches carried the NRPS claim: a refresh was asked for once."""
    roster = services.roster_of(school.course_id)
    assert roster is not None and roster.status == "queued" and roster.requested_at is not None
    assert sync(school.course_id) == "ready"
    synced = services.roster_of(school.course_id)
    assert synced is not None and synced.synced_at is not None
    launch(school.platform, "coach-1", [INSTRUCTOR], "Sanne de Vries")
    # Fresh: a launch does not ask again.
    fresh = services.roster_of(school.course_id)
    assert fresh is not None and fresh.status == "ready"
