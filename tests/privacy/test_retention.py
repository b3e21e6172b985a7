"""Retention on a seeded database: the dry run lists what goes and when, a run deletes exactly
the items the dry run listed as due (every derived file, from local disk and from a real
S3-compatible server), nothing under a legal hold, and leaves a deletion record without
footage. Withdrawn filming consent deletes a child traject's footage at once."""

from __future__ import annotations

import os
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from lti_tool.cycles.models import Cycle, FinalReview, Traject
from lti_tool.db import db, utcnow
from lti_tool.media.models import Montage, Recording
from lti_tool.media.services import still_key
from lti_tool.media.storage import LocalStorage, S3Storage, get_storage
from lti_tool.privacy import retention
from lti_tool.privacy import services as privacy
from lti_tool.privacy.models import AuditEvent, DeletionRecord, LegalHold
from lti_tool.privacy.tasks import apply_retention
from lti_tool.worker import beat_schedule
from tests.media.factories import committed_traject
from tests.media.test_storage import S3_KEYS, s3_url  # noqa: F401 - a fixture
from tests.privacy.conftest import Footage, add_footage

DAY = timedelta(days=1)


def _seed(app: Flask, clip: dict[str, Path], kind: str = "teacher") -> tuple[Any, Footage]:
    cast = committed_traject(app, "teacher")
    with app.app_context():
        traject = db.session.get(Traject, cast.traject_id)
        cycle = db.session.get(Cycle, cast.cycle_id)
        assert traject is not None and cycle is not None
        if kind == "child":  # the same steps; a pupil's traject
            traject.kind, traject.pupil_code = "child", "L-09"
        cycle.shared_at = utcnow()
        f = add_footage(traject, cycle, clip, cast.coach_id)
        recording = db.session.get(Recording, f.recording_id)
        montage = db.session.get(Montage, f.montage_id)
        assert recording is not None and montage is not None
        # A cached still of each, and every key stored, to check they all go.
        for item, kind_ in ((recording, "recording"), (montage, "montage")):
            key = still_key(kind_, item.id, 3)
            get_storage().put_file(key, _tmp(clip["poster"]))
        db.session.commit()
    return cast, f


def _tmp(src: Path) -> Path:
    copy = src.parent / f"c-{uuid.uuid4().hex}{src.suffix}"
    copy.write_bytes(src.read_bytes())
    return copy


def _files(app: Flask, kind: str, item_id: int) -> list[str]:
    folder = "recordings" if kind == "recording" else "montages"
    return get_storage(app.config["BEELDCOACH"]).list(f"{folder}/{item_id}/")


def _shared_days_ago(app: Flask, f: Footage, days: int) -> None:
    with app.app_context():
        montage = db.session.get(Montage, f.montage_id)
        assert montage is not None
        montage.shared_at = utcnow() - days * DAY
        db.session.commit()


def _concluded_days_ago(app: Flask, f: Footage, days: int) -> None:
    with app.app_context():
        traject = db.session.get(Traject, f.traject_id)
        assert traject is not None
        traject.status = "completed"
        traject.final_review = FinalReview(concluded_at=utcnow() - days * DAY)
        db.session.commit()


def _exists(app: Flask, kind: str, item_id: int) -> bool:
    with app.app_context():
        model = Recording if kind == "recording" else Montage
        return db.session.get(model, item_id) is not None


def _scenario(app: Flask, clip: dict[str, Path]) -> dict[str, Footage]:
    """raw: montage shared 31 days ago (its recording is due); fresh: shared 10 days ago (due in
    20 days); final: final conversation 31 days ago (all due); held: the same under a legal
    hold; consent: a child traject whose filming consent was withdrawn (all due now)."""
    made = {name: _seed(app, clip)[1] for name in ("raw", "fresh", "final", "held")}
    made["consent"] = _seed(app, clip, "child")[1]
    _shared_days_ago(app, made["raw"], 31)
    _shared_days_ago(app, made["fresh"], 10)
    for name in ("final", "held"):
        _shared_days_ago(app, made[name], 2)
        _concluded_days_ago(app, made[name], 31)
    with app.app_context():
        coach = db.session.scalar(
            sa.select(Traject.created_by_id).where(Traject.id == made["held"].traject_id)
        )
        assert coach is not None
        privacy.place_hold(made["held"].traject_id, coach, "klacht", platform_id=None)
        consent = privacy.record_consent(made["consent"].traject_id, coach, {
            "given_by": "parent", "given_by_name": "Ouder", "given_on": "2026-09-01",
            "scopes": ["filming", "teacher"],
        })  # fmt: skip
        privacy.withdraw_consent(made["consent"].traject_id, consent.id, coach, "per brief")
        db.session.commit()
    return made


def _keyed(items: list[retention.Planned]) -> set[tuple[str, int]]:
    return {(p.item_kind, p.item_id) for p in items}


def _retention_run(app: Flask, made: dict[str, Footage]) -> None:
    with app.app_context():
        now = utcnow()
        listed = retention.plan()
        due = _keyed([p for p in listed if p.is_due(now)])
        by_key = {(p.item_kind, p.item_id): p for p in listed}
    r = lambda name: ("recording", made[name].recording_id)  # noqa: E731
    m = lambda name: ("montage", made[name].montage_id)  # noqa: E731
    # The dry run: what goes and when, and why.
    assert by_key[r("raw")].reason == "retention_raw" and r("raw") in due
    assert m("raw") not in by_key  # no final conversation yet: no date
    fresh = by_key[r("fresh")]
    assert r("fresh") not in due and timedelta(days=19) < fresh.due_at - now < timedelta(days=21)
    assert {r("final"), m("final")} <= due and by_key[m("final")].reason == "retention_final"
    assert by_key[r("held")].held and by_key[m("held")].held
    assert {r("held"), m("held")}.isdisjoint(due)
    assert {r("consent"), m("consent")} <= due
    assert by_key[r("consent")].reason == "consent_withdrawn"
    before = {k: _files(app, *k) for k in [r(n) for n in made] + [m(n) for n in made]}
    assert all(before.values())  # every item has its files (rendition, poster, stills...)

    with app.app_context():
        run = retention.run(now)
        assert run is not None and run.status == "done"
        deleted = set(
            db.session.execute(
                sa.select(DeletionRecord.item_kind, DeletionRecord.item_id).where(
                    DeletionRecord.run_id == run.id
                )
            ).all()
        )
        records = db.session.scalars(
            sa.select(DeletionRecord).where(DeletionRecord.run_id == run.id)
        ).all()
        assert all(rec.files_deleted > 0 for rec in records if rec.item_kind != "export")
    # Exactly what the dry run listed as due.
    assert deleted == due
    for key in due:
        assert _files(app, *key) == [], key
        assert not _exists(app, *key)
    for key in (r("fresh"), m("fresh"), m("raw"), r("held"), m("held")):
        assert _files(app, *key) == before[key], key  # untouched
        assert _exists(app, *key)
    with app.app_context():
        again = retention.run()
        assert again is not None and again.deleted == 0  # nothing left that is due


def test_retention_on_local_disk_deletes_exactly_what_the_dry_run_listed(
    app: Flask, clip: dict[str, Path]
) -> None:
    made = _scenario(app, clip)
    _retention_run(app, made)


def test_retention_against_an_s3_compatible_server(
    app: Flask,
    clip: dict[str, Path],
    s3_url: str,  # noqa: F811 - the fixture
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = app.config["BEELDCOACH"]
    bucket = "bc-retention-" + uuid.uuid4().hex[:8]
    monkeypatch.setattr(settings, "storage", "s3")
    monkeypatch.setattr(settings, "s3_bucket", bucket)
    monkeypatch.setattr(settings, "s3_endpoint_url", s3_url)
    if not os.environ.get("BEELDCOACH_TEST_S3_URL"):
        for name, value in S3_KEYS.items():
            monkeypatch.setitem(settings.extra, name, value)
    storage = get_storage(settings)
    assert isinstance(storage, S3Storage)
    storage.client.create_bucket(Bucket=bucket)
    made = _scenario(app, clip)
    # A file of a due item left on local disk from before the move to object storage.
    leftover = f"recordings/{made['raw'].recording_id}/stills/0000001.jpg"
    LocalStorage(settings.media_dir).put_file(leftover, _tmp(clip["poster"]))
    _retention_run(app, made)
    assert not LocalStorage(settings.media_dir).exists(leftover)
    assert storage.list("recordings/") or storage.list("montages/")  # held and fresh stay


def test_withdrawn_filming_consent_queues_deletion_and_the_task_deletes(
    app: Flask, clip: dict[str, Path]
) -> None:
    cast, f = _seed(app, clip, "child")
    with app.app_context():
        consent = privacy.record_consent(f.traject_id, cast.coach_id, {
            "given_by": "parent", "given_by_name": "Ouder", "given_on": "2026-09-01",
            "scopes": ["filming", "teacher"],
        })  # fmt: skip
        db.session.commit()
        from lti_tool.cycles.footage import may_view

        assert may_view(cast.teacher_id, "montage", f.montage_id)
        privacy.withdraw_consent(f.traject_id, consent.id, cast.coach_id)
        db.session.commit()
        # Access ended with that commit, before any file is deleted.
        assert not may_view(cast.teacher_id, "montage", f.montage_id)
        assert not may_view(cast.coach_id, "recording", f.recording_id)
    # The task of this app's Celery (the process-wide default may be another test app's),
    # called as the worker calls it: in an app context.
    task = app.extensions["celery"].tasks[apply_retention.name]
    result = task(f.traject_id)
    assert result["status"] == "done" and result["deleted"] == 2
    assert (
        _files(app, "recording", f.recording_id) == []
        and _files(app, "montage", f.montage_id) == []
    )


def test_a_legal_hold_keeps_everything_until_lifted(app: Flask, clip: dict[str, Path]) -> None:
    _cast, f = _seed(app, clip)
    _concluded_days_ago(app, f, 60)
    with app.app_context():
        hold = privacy.place_hold(f.traject_id, _cast.coach_id, "rechtszaak", platform_id=None)
        db.session.commit()
        assert retention.run(traject_id=f.traject_id) is not None
        assert _exists(app, "recording", f.recording_id)
        hold = db.session.get(LegalHold, hold.id)
        assert hold is not None
        privacy.lift_hold(hold, _cast.coach_id, platform_id=None)
        db.session.commit()
        run = retention.run(traject_id=f.traject_id)
        assert run is not None and run.deleted == 2
    assert not _exists(app, "recording", f.recording_id)


def test_one_run_at_a_time(app: Flask) -> None:
    with app.app_context():
        first = retention._acquire(utcnow())
        assert first is not None
        try:
            assert retention.run() is None  # the lock is held
        finally:
            first.lock = None
            first.status = "done"
            db.session.commit()


def test_deletion_records_and_audit_are_append_only(app: Flask) -> None:
    with app.app_context():
        row = DeletionRecord(reason="removed", item_kind="recording", item_id=1)
        db.session.add(row)
        db.session.commit()
        with pytest.raises(sa.exc.DatabaseError):
            db.session.execute(sa.update(DeletionRecord).values(reason="x"))
        db.session.rollback()
        with pytest.raises(sa.exc.DatabaseError):
            db.session.execute(sa.delete(AuditEvent))
        db.session.rollback()


def test_the_daily_job_is_scheduled_and_serve_runs_beat(app: Flask) -> None:
    schedule = app.extensions["celery"].conf.beat_schedule
    assert schedule["privacy-retention-daily"]["task"] == "privacy.apply_retention"
    assert beat_schedule(3)["privacy-retention-daily"]["schedule"].hour == {3}
    from lti_tool.cli import _worker_argv

    assert "--beat" in _worker_argv(beat=True) and "--beat" not in _worker_argv()
    from pathlib import Path as _Path

    from lti_tool import cli

    # serve starts its embedded worker with beat (no other scheduler runs there).
    source = _Path(cli.__file__).read_text(encoding="utf-8")
    assert '"worker", "--concurrency=1", "--beat"' in source
