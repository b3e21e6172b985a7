"""The footage permission matrix, over real HTTP with real launches: every footage path (player
page, footage listing API, stream, poster, thumbnail index, still, download, export) x role
(coach, filmed teacher, other teacher, team member before and after release, management,
parent, external with and without consent, administrator) x traject kind, asserting allow or
deny, and an audit entry (with the person's launch) for each allowed view.

The expected policy is written out here on its own, not derived from the rules it checks."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
import requests
from flask import Flask

from lti_tool.db import db
from lti_tool.privacy import services as privacy
from lti_tool.privacy import subject
from lti_tool.web import footage as web_footage
from tests.privacy.conftest import Footage, School, launch_ids, make_traject, views_of

PATHS = ("page", "api", "stream", "poster", "thumbnails", "still", "download", "export")
# Paths where a signed URL is issued to the person: each allowed one leaves an audit row.
AUDITED = {"page", "api", "still", "download"}
EVERYONE = ("coach", "teacher", "other_teacher", "member_a", "member_b", "management",
            "parent", "external", "admin")  # fmt: skip

# (kind, phase) -> who sees which items ("R" the recording, "M" the montage). Anyone not
# listed sees nothing.
EXPECTED: dict[tuple[str, str], dict[str, set[str]]] = {
    ("teacher", "shared"): {"coach": {"R", "M"}, "teacher": {"R", "M"}},
    # member_a is the filmed team member (named by the coach); member_b a colleague.
    ("team", "before release"): {"coach": {"R", "M"}, "member_a": {"R", "M"}},
    ("team", "M released to the team"): {
        "coach": {"R", "M"},
        "member_a": {"R", "M"},
        "member_b": {"M"},
    },  # fmt: skip
    # Filming and teacher consent on file; the parent takes part; the external is not added.
    ("child", "no consent for parents or externals"): {"coach": {"R", "M"}, "teacher": {"R", "M"}},
    ("child", "consent, M released to parents and external"): {
        "coach": {"R", "M"},
        "teacher": {"R", "M"},
        "parent": {"M"},
        "external": {"M"},
    },  # fmt: skip
    ("child", "that consent withdrawn"): {"coach": {"R", "M"}, "teacher": {"R", "M"}},
}
# Whose footage it is (the export carries it): the filmed teacher.
OWNER = {"teacher": "teacher", "team": "member_a", "child": "teacher"}
tally: Counter[str] = Counter()


def _expected(kind: str, phase: str, who: str, item: str, path: str) -> bool:
    sees = item in EXPECTED[(kind, phase)].get(who, set())
    if path == "download":  # the school allows downloads here: for coaches only
        return sees and who == "coach"
    if path == "export":
        return who == OWNER[kind]
    return sees


def _probe(app: Flask, school: School, f: Footage, who: str, item: str, path: str) -> bool:  # noqa: PLR0911
    """Try one path as this person; True when it gave them the footage."""
    person = school.people[who]
    kind = "recording" if item == "R" else "montage"
    item_id = f.recording_id if item == "R" else f.montage_id
    base = f"/trajects/{f.traject_id}/cycles/1"
    api = f"/api/trajects/{f.traject_id}/cycles/1"

    def get(url: str, **headers: str) -> requests.Response:
        return requests.get(school.base + url, headers=headers, timeout=30, allow_redirects=False)

    if path == "page":
        answer = get(f"{base}/{kind}/{item_id}", **person.bearer)
        assert answer.status_code in (200, 403), answer.text[:200]
        return answer.status_code == 200
    if path == "api":
        answer = get(f"{api}/footage", **person.bearer)
        assert answer.status_code in (200, 403)
        if answer.status_code == 403:
            return False
        listed = answer.json()["recordings" if item == "R" else "montages"]
        return any(x["id"] == item_id and x["mp4"] for x in listed)
    if path == "still":
        answer = get(f"{api}/{kind}s/{item_id}/stills/0", **person.bearer)
        assert answer.status_code in (200, 403), answer.text[:200]
        if answer.status_code == 200:  # the still itself, through its signed URL
            assert get(answer.json()["url"]).status_code == 200
        return answer.status_code == 200
    if path == "download":
        answer = get(f"{api}/{kind}s/{item_id}/download", **person.bearer)
        assert answer.status_code in (200, 403)
        if answer.status_code == 200:
            got = get(answer.json()["url"], Range="bytes=0-9")
            assert got.status_code == 206 and "attachment" in got.headers["Content-Disposition"]
        return answer.status_code == 200
    if path == "export":
        with app.app_context():
            listed = subject.person_data(person.user_id)["footage"]
        return any(x["kind"] == kind and x["id"] == item_id for x in listed)
    # A signed URL minted for this person as if it had been passed to them: the stream
    # endpoint decides on its own, on every request.
    with app.test_request_context():
        from lti_tool.media.models import Montage, Recording

        row = db.session.get(Recording if item == "R" else Montage, item_id)
        assert row is not None
        if path == "stream":
            url = web_footage._signed(row.rendition_key, person.user_id, kind, item_id)
        elif path == "poster":
            url = web_footage._signed(row.poster_key, person.user_id, kind, item_id)
        else:  # thumbnails: the index behind its own signed URL (recordings have one)
            url = web_footage._indirect(
                "footage.thumbnails", person.user_id, kind, item_id, "thumbs.vtt"
            )
        db.session.rollback()
    assert url is not None
    answer = get(url, Range="bytes=0-0")
    assert answer.status_code in (200, 206, 403), (path, answer.status_code)
    if answer.status_code != 403 and path == "thumbnails":
        sheet = answer.text.split("\n")[3].split("#")[0]
        assert get(sheet).status_code == 200  # the sheet behind its signed URL
    return answer.status_code != 403


def _check_phase(app: Flask, school: School, f: Footage, kind: str, phase: str) -> None:
    failures = []
    for who in EVERYONE:
        launches = launch_ids(app, school.uid(who))
        for item in ("R", "M"):
            for path in PATHS:
                if path == "thumbnails" and item == "M":
                    continue  # montages have no thumbnail index
                expected = _expected(kind, phase, who, item, path)
                actual = _probe(app, school, f, who, item, path)
                tally["cells"] += 1
                tally["allowed" if expected else "denied"] += 1
                if actual != expected:
                    failures.append(f"{kind}/{phase}: {who} {path} {item}: got {actual}")
                    continue
                item_kind = "recording" if item == "R" else "montage"
                item_id = f.recording_id if item == "R" else f.montage_id
                views = views_of(app, school.uid(who), item_kind, item_id)
                if expected and path in AUDITED:
                    event = "footage.download" if path == "download" else "footage.view"
                    mine = [v for v in views if v.event == event and v.launch_id in launches]
                    if not mine:
                        failures.append(f"{kind}/{phase}: {who} {path} {item}: no audit row")
                    tally["audited"] += 1
                if (
                    not any(item in EXPECTED[k].get(who, set()) for k in EXPECTED if k[0] == kind)
                    and views
                ):
                    failures.append(f"{kind}/{phase}: {who} {item}: audited without access")
    assert not failures, "\n".join(failures)


@pytest.fixture(scope="module")
def downloads_on(app: Flask, school: School) -> None:
    with app.app_context():
        privacy.save_policy(school.platform_id, school.uid("admin"), {
            "raw_days_after_share": "30", "footage_days_after_final": "30",
            "coach_downloads": "1",
        })  # fmt: skip
        db.session.commit()


def test_teacher_traject(app: Flask, school: School, clip: Any, downloads_on: None) -> None:
    with app.app_context():
        f = make_traject(school, "teacher", clip)
        db.session.commit()
    _check_phase(app, school, f, "teacher", "shared")


def test_team_traject_before_and_after_release(
    app: Flask, school: School, clip: Any, downloads_on: None
) -> None:
    with app.app_context():
        f = make_traject(school, "team", clip)
        db.session.commit()
    t = f"/api/trajects/{f.traject_id}"
    # The coach names the filmed team member of both items; only they may release.
    for kind, item_id in (("recording", f.recording_id), ("montage", f.montage_id)):
        school.call("coach", "PUT", f"{t}/footage/{kind}/{item_id}",
                    {"filmed_user_id": school.uid("member_a")}, 200)  # fmt: skip
    _check_phase(app, school, f, "team", "before release")
    release = {"item_kind": "montage", "item_id": f.montage_id, "audience": "team", "days": 7}
    school.call("member_b", "POST", f"{t}/releases", release, 403)  # not theirs to give
    school.call("coach", "POST", f"{t}/releases", release, 403)  # the coach does not own it
    made = school.call("member_a", "POST", f"{t}/releases", release, 201).json()
    assert made["active"] and made["audience"] == "team"
    _check_phase(app, school, f, "team", "M released to the team")
    # Revoked: the very next request of the colleague is refused.
    school.call("member_a", "POST", f"{t}/releases/{made['id']}/revoke", None, 200)
    page = f"/trajects/{f.traject_id}/cycles/1/montage/{f.montage_id}"
    assert school.call("member_b", "GET", page).status_code == 403


def test_child_traject_consent_release_and_withdrawal(
    app: Flask, school: School, clip: Any, downloads_on: None
) -> None:
    with app.app_context():
        f = make_traject(school, "child", clip)
        db.session.commit()
    t = f"/api/trajects/{f.traject_id}"
    consent = {"given_by": "parent", "given_by_name": "Moeder van L-07", "given_on": "2026-09-01",
               "scopes": ["filming", "teacher"]}  # fmt: skip
    school.call("coach", "POST", f"{t}/consents", consent, 201)
    school.call("coach", "POST", f"{t}/participants",
                {"role": "parent", "user_id": school.uid("parent")}, 201)  # fmt: skip
    # No consent covering externals: they cannot be added.
    refused = school.call("coach", "POST", f"{t}/participants",
                          {"role": "external", "user_id": school.uid("external")})  # fmt: skip
    assert refused.status_code in (409, 422) and refused.json()["error"] == "consent"
    to_parents = {"item_kind": "montage", "item_id": f.montage_id, "audience": "parents",
                  "days": 14}  # fmt: skip
    no = school.call("teacher", "POST", f"{t}/releases", to_parents, 422).json()
    assert no["error"] == "consent"
    _check_phase(app, school, f, "child", "no consent for parents or externals")

    wider = {**consent, "scopes": ["parents", "external"]}
    second = school.call("coach", "POST", f"{t}/consents", wider, 201).json()
    external = school.call(
        "coach",
        "POST",
        f"{t}/participants",
        {"role": "external", "user_id": school.uid("external")},
        201,
    ).json()
    school.call("teacher", "POST", f"{t}/releases", to_parents, 201)
    school.call("teacher", "POST", f"{t}/releases", {**to_parents, "audience": "external",
                "participant_id": external["id"]}, 201)  # fmt: skip
    _check_phase(app, school, f, "child", "consent, M released to parents and external")

    # Withdrawal cuts access in the same request that records it: the next request is refused.
    page = f"/trajects/{f.traject_id}/cycles/1/montage/{f.montage_id}"
    assert school.call("parent", "GET", page).status_code == 200
    gone = school.call("coach", "POST", f"{t}/consents/{second['id']}/withdraw",
                       {"note": "per mail"}, 200).json()  # fmt: skip
    assert set(gone["lost_scopes"]) == {"parents", "external"}
    assert school.call("parent", "GET", page).status_code == 403
    assert school.call("external", "GET", page).status_code == 403
    state = school.call("teacher", "GET", f"{t}/privacy", None, 200).json()
    assert all(not r["active"] for r in state["releases"])
    _check_phase(app, school, f, "child", "that consent withdrawn")


def test_matrix_size() -> None:
    """Runs last in this module: the size, for the closing note."""
    if tally["cells"]:
        print(f"\nfootage matrix: {dict(tally)}")  # noqa: T201
        assert tally["cells"] >= 9 * 15 * 6
