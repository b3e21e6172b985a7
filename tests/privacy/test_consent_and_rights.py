"""Consent rules, "niet filmen" checks, who watched my footage, the administrator's view of the
audit log, and the data subject's export and erasure, over real HTTP."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import requests
import sqlalchemy as sa
from flask import Flask

from lti_tool.cycles.models import Cycle
from lti_tool.db import db
from lti_tool.media.models import Montage, Recording
from lti_tool.people.models import Membership, User
from lti_tool.privacy import subject
from lti_tool.privacy.models import AuditEvent, Consent, DataExport
from tests.privacy.conftest import School, make_traject

TUS = {"Tus-Resumable": "1.0.0"}


def _upload(school: School, who: str, traject_id: int) -> requests.Response:
    import base64

    meta = ",".join(
        f"{k} {base64.b64encode(v.encode()).decode()}"
        for k, v in (("traject", str(traject_id)), ("cycle", "1"), ("filename", "les.mp4"))
    )
    return requests.post(
        school.base + "/api/uploads",
        headers={**school.people[who].bearer, **TUS, "Upload-Length": "10",
                 "Upload-Metadata": meta},
        timeout=10,
    )  # fmt: skip


def test_child_traject_takes_no_recording_before_filming_consent(
    app: Flask, school: School, clip: Any
) -> None:
    with app.app_context():
        f = make_traject(school, "child", clip)
        cycle = db.session.get(Cycle, f.cycle_id)
        assert cycle is not None
        cycle.step, cycle.shared_at = "planned", None
        db.session.commit()
    refused = _upload(school, "coach", f.traject_id)
    assert refused.status_code == 422 and refused.json()["error"] == "consent"
    t = f"/api/trajects/{f.traject_id}"
    # Parents decide under 16, the pupil from 16: the other way round is refused.
    wrong = {"given_by": "pupil", "given_by_name": "L-07", "given_on": "2026-09-01",
             "scopes": ["filming"]}  # fmt: skip
    assert school.call("coach", "POST", f"{t}/consents", wrong, 422).json()["field"] == "given_by"
    ok16 = {**wrong, "pupil_is_16_or_older": True}
    assert school.call("coach", "POST", f"{t}/consents", ok16, 201).json()["given_by"] == "pupil"
    school.call("teacher", "POST", f"{t}/consents", {**ok16}, 403)  # the coach records
    created = _upload(school, "coach", f.traject_id)
    assert created.status_code == 201
    # Withdrawn mid-upload: the next chunk is refused too.
    consent_id = school.call("coach", "GET", f"{t}/privacy", None, 200).json()["consents"][0]["id"]
    school.call("coach", "POST", f"{t}/consents/{consent_id}/withdraw", {}, 200)
    chunk = requests.patch(
        school.base + created.headers["Location"],
        headers={**school.people["coach"].bearer, **TUS, "Upload-Offset": "0",
                 "Content-Type": "application/offset+octet-stream"},
        data=b"0123456789", timeout=10,
    )  # fmt: skip
    assert chunk.status_code == 403 and chunk.json()["error"] == "consent"


def test_niet_filmen_blocks_sharing_until_the_coach_checked(
    app: Flask, school: School, clip: Any
) -> None:
    with app.app_context():
        f = make_traject(school, "team", clip)
        db.session.commit()
    t = f"/api/trajects/{f.traject_id}"
    school.call("coach", "PUT", f"{t}/footage/montage/{f.montage_id}",
                {"filmed_user_id": school.uid("member_a")}, 200)  # fmt: skip
    flag = school.call("coach", "POST", "/api/objections", {"pupil_code": "L-12"}, 201).json()
    school.call("teacher", "POST", "/api/objections", {"pupil_code": "L-13"}, 403)
    release = {"item_kind": "montage", "item_id": f.montage_id, "audience": "team", "days": 3}
    refused = school.call("member_a", "POST", f"{t}/releases", release, 422).json()
    assert refused["error"] == "check"
    school.call("coach", "PUT", f"{t}/footage/montage/{f.montage_id}", {"check": "redact"}, 200)
    school.call("member_a", "POST", f"{t}/releases", release, 422)
    school.call("coach", "PUT", f"{t}/footage/montage/{f.montage_id}", {"check": "clear"}, 200)
    school.call("member_a", "POST", f"{t}/releases", release, 201)
    page = f"/trajects/{f.traject_id}/cycles/1/montage/{f.montage_id}"
    assert school.call("member_b", "GET", page).status_code == 200
    # A new flag suspends the release until the coach checks again.
    second = school.call("coach", "POST", "/api/objections", {"pupil_code": "L-14"}, 201).json()
    assert school.call("member_b", "GET", page).status_code == 403
    assert school.call("member_a", "GET", page).status_code == 200  # the owner still sees it
    school.call("coach", "PUT", f"{t}/footage/montage/{f.montage_id}", {"check": "clear"}, 200)
    assert school.call("member_b", "GET", page).status_code == 200
    shared = school.call("member_b", "GET", "/api/me/shared-footage", None, 200).json()["items"]
    assert [(x["kind"], x["id"]) for x in shared] == [("montage", f.montage_id)]
    for objection in (flag, second):
        school.call("coach", "POST", f"/api/objections/{objection['id']}/lift", None, 200)


def test_teacher_sees_who_watched_and_the_admin_sees_metadata_only(
    app: Flask, school: School, clip: Any
) -> None:
    with app.app_context():
        f = make_traject(school, "teacher", clip)
        db.session.commit()
    page = f"/trajects/{f.traject_id}/cycles/1/montage/{f.montage_id}"
    assert school.call("coach", "GET", page).status_code == 200
    assert school.call("coach", "GET", page).status_code == 200  # the same launch: one row
    views = school.call("teacher", "GET", "/api/me/footage-views", None, 200).json()["views"]
    mine = [v for v in views if v["item_id"] == f.montage_id and v["item_kind"] == "montage"]
    assert len(mine) == 1 and mine[0]["viewer"] == "Coach" and mine[0]["launch_id"]
    # Nobody else learns who watched the teacher's footage.
    other = school.call("other_teacher", "GET", "/api/me/footage-views", None, 200).json()
    assert all(v["owner_id"] == school.uid("other_teacher") for v in other["views"])
    # The administrator: the log's metadata, never footage.
    log = school.call("admin", "GET", "/api/admin/privacy/audit", None, 200).json()["events"]
    assert any(e["event"] == "footage.view" and e["item_id"] == f.montage_id for e in log)
    assert "viewer" not in log[0] and "name" not in json.dumps(log[0]["detail"])
    school.call("admin", "GET", page, None, 403)
    school.call("admin", "GET", f"/api/trajects/{f.traject_id}/cycles/1/footage", None, 403)
    school.call("teacher", "GET", "/api/admin/privacy/audit", None, 403)
    html = school.call("admin", "GET", "/privacy/admin", None, 200).text
    assert "/media/s/" not in html and "retention-plan" in html


def test_policy_and_downloads(app: Flask, school: School, clip: Any) -> None:
    with app.app_context():
        f = make_traject(school, "teacher", clip)
        db.session.commit()
    dl = f"/api/trajects/{f.traject_id}/cycles/1/montages/{f.montage_id}/download"
    off = {"raw_days_after_share": 30, "footage_days_after_final": "", "coach_downloads": False}
    saved = school.call("admin", "PUT", "/api/admin/privacy/policy", off, 200).json()
    assert saved == {**off, "footage_days_after_final": None}
    school.call("coach", "GET", dl, None, 403)  # downloads are off
    school.call("coach", "PUT", "/api/admin/privacy/policy", off, 403)
    school.call("admin", "PUT", "/api/admin/privacy/policy", {**off, "coach_downloads": True}, 200)
    link = school.call("coach", "GET", dl, None, 200).json()["url"]
    school.call("teacher", "GET", dl, None, 403)  # coaches only
    assert requests.get(school.base + link, timeout=10).status_code == 200
    # Switched off again: the link already given stops working too.
    school.call("admin", "PUT", "/api/admin/privacy/policy", off, 200)
    assert requests.get(school.base + link, timeout=10).status_code == 403
    plan = school.call("admin", "GET", "/api/admin/privacy/retention-plan", None, 200).json()
    assert all(not p["held"] or p["traject_id"] for p in plan["items"])


def test_export_holds_my_data_and_my_footage_only(
    app: Flask, school: School, clip: Any, tmp_path: Path
) -> None:
    with app.app_context():
        mine = make_traject(school, "teacher", clip)
        db.session.commit()
    made = school.call("teacher", "POST", "/api/me/exports", None, 202).json()
    assert made["status"] == "queued"
    with app.app_context():
        subject.build_export(made["id"])  # what the worker's task runs
    listed = school.call("teacher", "GET", "/api/me/exports", None, 200).json()["exports"]
    ready = next(e for e in listed if e["id"] == made["id"])
    assert ready["status"] == "ready" and ready["download_url"] and ready["files"] >= 2
    # Someone else cannot fetch it, not even with its link.
    school.call("coach", "GET", ready["download_url"], None, 403)
    redirect = requests.get(
        school.base + ready["download_url"], headers=school.people["teacher"].bearer,
        allow_redirects=False, timeout=10,
    )  # fmt: skip
    assert redirect.status_code == 303
    signed = redirect.headers["Location"]
    assert requests.get(school.base + signed, headers=school.people["coach"].bearer,
                        timeout=10).status_code == 403  # fmt: skip
    body = requests.get(school.base + signed, timeout=30)
    assert body.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(body.content))
    person = json.loads(archive.read("person.json"))
    assert person["person"]["id"] == school.uid("teacher")
    assert "memberships" in person["records"] and "participants" in person["records"]
    names = archive.namelist()
    assert f"footage/traject-{mine.traject_id}/montage-{mine.montage_id}.mp4" in names
    assert archive.read(f"footage/traject-{mine.traject_id}/montage-{mine.montage_id}.mp4") == (
        clip["mp4"].read_bytes()
    )
    coach_export = subject.person_data  # the coach is not filmed: no footage in theirs
    with app.app_context():
        assert coach_export(school.uid("coach"))["footage"] == []
        events = {
            e
            for (e,) in db.session.execute(
                sa.select(AuditEvent.event).where(AuditEvent.item_id == made["id"])
            )
        }
    assert {"export.request", "export.download"} <= events


def test_erasure_removes_what_must_go_and_keeps_other_peoples_records(
    app: Flask, school: School, clip: Any
) -> None:
    from tests.lti_platform import LEARNER
    from tests.media.test_streaming import sign_in

    leaver = sign_in(school.platform, "leaver", [LEARNER], "Vertrekkende Leerkracht")
    with app.app_context():
        from lti_tool.cycles import services as s
        from tests.privacy.conftest import add_footage, open_cycle

        traject = s.create_traject(
            school.course_id, school.uid("coach"), "teacher", "Weg", leaver.user_id
        )
        f = add_footage(traject, open_cycle(traject), clip, school.uid("coach"))
        from lti_tool.outcomes.models import PopContribution, PopVersion

        # Their POP: one of this traject, one kept after they removed an earlier traject
        # (no traject any more); and they are the chosen manager of a colleague's POP.
        own = [
            PopContribution(traject_id=traject.id, teacher_id=leaver.user_id, title="Weg"),
            PopContribution(traject_id=None, teacher_id=leaver.user_id, title="Eerder traject"),
        ]
        managed = PopContribution(
            traject_id=None, teacher_id=school.uid("teacher"), title="Collega",
            manager_id=leaver.user_id,
        )  # fmt: skip
        db.session.add_all([*own, managed])
        db.session.flush()
        db.session.add(PopVersion(contribution_id=own[1].id, number=1, content={"goal": "Rust"}))
        db.session.commit()
        own_ids, managed_id = [c.id for c in own], managed.id
    coach_traject = school.call("admin", "GET", f"/privacy/admin/people/{leaver.user_id}/erase")
    assert coach_traject.status_code == 200 and "erase-preview" in coach_traject.text
    assert "POP" in coach_traject.text
    path = f"/api/admin/privacy/people/{leaver.user_id}/erase"
    school.call("coach", "POST", path, {"confirm": True}, 403)
    school.call("admin", "POST", path, {}, 422)  # confirm first
    # A legal hold on their traject stops the erasure as a whole.
    hold = school.call("admin", "POST", "/api/admin/privacy/holds",
                       {"traject_id": f.traject_id, "reason": "klacht"}, 201).json()  # fmt: skip
    assert school.call("admin", "POST", path, {"confirm": True}, 409).json()["error"] == "order"
    assert _exists_recording(app, f.recording_id)
    school.call("admin", "POST", f"/api/admin/privacy/holds/{hold['id']}/lift", None, 200)
    done = school.call("admin", "POST", path, {"confirm": True}, 200).json()
    assert done["removed"]["footage"] == 2 and done["removed"]["teacher_trajects"] == 1
    assert done["removed"]["memberships"] == 1 and done["removed"]["launches"] >= 1
    assert "coach_participations" not in done["kept"]  # they were never a coach
    assert done["removed"]["pop_contributions"] == 2
    assert done["removed"]["pop_manager_choices"] == 1
    with app.app_context():
        from lti_tool.outcomes.models import PopContribution, PopVersion

        assert not db.session.scalars(
            sa.select(PopContribution).where(PopContribution.id.in_(own_ids))
        ).all()
        assert not db.session.scalars(
            sa.select(PopVersion).where(PopVersion.contribution_id.in_(own_ids))
        ).all()
        colleague = db.session.get(PopContribution, managed_id)
        assert colleague is not None and colleague.manager_id is None  # theirs stays
        user = db.session.get(User, leaver.user_id)
        assert user is not None and user.name is None and user.sub.startswith("erased-")
        assert db.session.get(Recording, f.recording_id) is None
        assert db.session.get(Montage, f.montage_id) is None
        assert not db.session.scalars(
            sa.select(Membership).where(Membership.user_id == leaver.user_id)
        ).all()
        assert db.session.scalars(
            sa.select(AuditEvent).where(
                AuditEvent.event == "person.erase", AuditEvent.item_id == leaver.user_id
            )
        ).one()
        assert db.session.scalar(sa.select(sa.func.count(DataExport.id))) is not None
        assert db.session.scalar(sa.select(sa.func.count(Consent.id))) is not None
    # The erased launch no longer signs anyone in.
    assert (
        requests.get(school.base + "/api/me", headers=leaver.bearer, timeout=10).status_code == 401
    )


def _exists_recording(app: Flask, recording_id: int) -> bool:
    with app.app_context():
        return db.session.get(Recording, recording_id) is not None


def test_officer_page_lists_data_processors_and_events(school: School) -> None:
    page = requests.get(school.base + "/privacy", timeout=10)
    assert page.status_code == 200
    assert "inventory" in page.text and "footage.view" in page.text


def test_pages_render_and_their_forms_work(app: Flask, school: School, clip: Any) -> None:
    with app.app_context():
        f = make_traject(school, "child", clip)
        db.session.commit()
    coach = school.people["coach"]
    page = school.call("coach", "GET", f"/privacy/trajects/{f.traject_id}")
    assert page.status_code == 200 and 'data-testid="consent-form"' in page.text
    form = {
        "launch_token": coach.token,
        "given_by": "parent",
        "given_by_name": "Vader",
        "given_on": "2026-10-01",
        "scopes": ["filming", "teacher"],
        "evidence_note": "papier",
    }
    signed_form = b"%PDF-1.4 toestemming"
    answer = requests.post(
        school.base + f"/privacy/trajects/{f.traject_id}/consents", data=form,
        files={"evidence_file": ("toestemming.pdf", signed_form, "application/pdf")},
        allow_redirects=False, timeout=10,
    )  # fmt: skip
    assert answer.status_code == 303, answer.text[:300]
    with app.app_context():
        consent = db.session.scalars(
            sa.select(Consent).where(Consent.traject_id == f.traject_id)
        ).one()
        consent_id = consent.id
    evidence = requests.get(
        school.base + f"/privacy/trajects/{f.traject_id}/consents/{consent_id}/evidence",
        headers=coach.bearer, allow_redirects=False, timeout=10,
    )  # fmt: skip
    assert evidence.status_code == 303
    assert requests.get(school.base + evidence.headers["Location"], timeout=10).content == (
        signed_form
    )
    school.call("teacher", "GET", f"/privacy/trajects/{f.traject_id}/consents/{consent_id}"
                "/evidence", None, 403)  # fmt: skip
    teacher_view = school.call("teacher", "GET", f"/privacy/trajects/{f.traject_id}").text
    assert "Vader" in teacher_view and 'data-testid="consent-form"' not in teacher_view
    for who, path in (("teacher", "/privacy/me"), ("coach", "/privacy/objections"),
                      ("admin", "/privacy/admin")):  # fmt: skip
        assert school.call(who, "GET", path).status_code == 200, path
    school.call("parent", "GET", f"/privacy/trajects/{f.traject_id}", None, 403)
    school.call("teacher", "GET", "/privacy/objections", None, 403)
