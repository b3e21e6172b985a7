"""The player's API over real HTTP after real launches: the mode each person is in and the
markers it shows (preparation: one's own; analysis: the coach's; together: everyone's), changing
and removing one's own markers only, refusals, every answer checked against the OpenAPI document;
and the still frame a moment of strength carries into the final report."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from flask import Flask

from lti_tool.cycles import report
from lti_tool.cycles.models import Cycle, Marker
from lti_tool.db import db
from lti_tool.media.models import Montage
from tests.browser.test_player import processed_recording
from tests.lti_platform import INSTRUCTOR, LEARNER, TestPlatform
from tests.web.test_api_trajects import GUIDE, Api, C, me, new_traject, sign_in, through_intake

PLAYER = C + "/{path_kind}/{item_id}/player"
MARKER = C + "/markers/{marker_id}"


@pytest.fixture(scope="module")
def spec(live_server: str) -> dict[str, Any]:
    document: dict[str, Any] = requests.get(live_server + "/api/openapi.json", timeout=10).json()
    return document


@pytest.fixture
def people(platform: TestPlatform, spec: dict[str, Any]) -> tuple[Api, Api, Api]:
    coach = sign_in(platform, spec, "coach", [INSTRUCTOR], "Sanne Coach")
    teacher = sign_in(platform, spec, "teacher", [LEARNER], "Jeroen Leerkracht")
    other = sign_in(platform, spec, "other", [LEARNER], "Fatima Collega")
    return coach, teacher, other


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two seconds at 25 fps with the frame number burned in."""
    path = tmp_path_factory.mktemp("player") / "clip.mp4"
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
         "testsrc2=size=320x180:rate=25:duration=2", "-c:v", "libx264", "-pix_fmt", "yuv420p",
         str(path)],
        check=True,
        timeout=60,
    )  # fmt: skip
    return path


def _cycle_with_footage(app: Flask, coach: Api, teacher: Api, clip: Path) -> tuple[int, int]:
    """A traject in cycle 1 with one processed recording, analysed but not shared yet."""
    t = new_traject(coach, teacher)
    through_intake(coach, teacher, t)
    with app.app_context():
        cycle = db.session.scalar(sa.select(Cycle).where(Cycle.traject_id == t, Cycle.number == 1))
        assert cycle is not None
        recording = processed_recording(clip, cycle.id, me(coach))
        assert recording.status == "ready" and recording.frame_count == 50
        recording_id = recording.id
    one = {"traject_id": t, "number": 1}
    coach.call("POST", C + "/recorded", 200, {"focus": "beurten"}, **one)
    coach.call("POST", C + "/analysed", 200, {"analysis_notes": "Sterk: wachten"}, **one)
    return t, recording_id


def _markers(api: Api, t: int, recording: int, mode: str | None = None) -> dict[str, Any]:
    query = {"mode": mode} if mode else None
    state: dict[str, Any] = api.call(
        "GET", PLAYER, 200, query=query, traject_id=t, number=1, path_kind="recordings",
        item_id=recording,
    )  # fmt: skip
    return state


def _delete(api: Api, t: int, marker_id: int) -> None:
    """DELETE answers 204 without a body (documented without content)."""
    path = MARKER.format(traject_id=t, number=1, marker_id=marker_id)
    answer = requests.delete(
        api.base + path, headers={"Authorization": f"Bearer {api.token}"}, timeout=10
    )
    assert answer.status_code == 204 and answer.content == b""
    assert "204" in api.spec["paths"][MARKER]["delete"]["responses"]


def test_modes_and_the_markers_each_shows(
    app: Flask, people: tuple[Api, Api, Api], clip: Path
) -> None:
    coach, teacher, other = people
    t, rec = _cycle_with_footage(app, coach, teacher, clip)
    ids = {"traject_id": t, "number": 1, "path_kind": "recordings", "item_id": rec}
    on_video = {"media_kind": "recording", "media_id": rec}

    # Before sharing: the coach analyses; the teacher and a colleague see nothing.
    state = _markers(coach, t, rec)
    assert (state["mode"], state["modes"]) == ("analysis", ["analysis"])
    assert state["may"]["edit_montage"] and state["may"]["share"] and state["may"]["add_marker"]
    assert state["item"] == {
        "kind": "recording", "id": rec, "title": "rekenles-kort.mp4", "duration_ms": 2000,
        "fps": "25/1", "frame_count": 50,
    }  # fmt: skip
    assert state["guide"] is None and state["recordings"][0]["id"] == rec
    teacher.call("GET", PLAYER, 403, **ids)
    other.call("GET", PLAYER, 403, **ids)
    coach.call("GET", PLAYER, 403, **{**ids, "path_kind": "montages"})

    mine = coach.call(
        "POST", C + "/markers", 201,
        {**on_video, "kind": "strength", "text": "Wacht rustig", "start_ms": 1000}, traject_id=t,
        number=1,
    )  # fmt: skip
    listed = _markers(coach, t, rec)["markers"]
    assert [(m["id"], m["start_frame"], m["mine"]) for m in listed] == [(mine["id"], 25, True)]
    coach.call("POST", C + "/share", 200, traject_id=t, number=1)

    # Preparation: the teacher alone, their own markers only, the kijkwijzer editable.
    state = _markers(teacher, t, rec)
    assert (state["mode"], state["markers"]) == ("preparation", [])
    assert state["may"]["edit_guide"] and not state["may"]["edit_montage"]
    assert state["guide"]["questions"][0]["key"] == "q1"
    assert _markers(teacher, t, rec, mode="conversation")["mode"] == "preparation"  # not open yet
    own = teacher.call(
        "POST", C + "/markers", 201,
        {**on_video, "kind": "question", "text": "Wat doet Daan?", "start_ms": 1480},
        traject_id=t, number=1,
    )  # fmt: skip
    assert [m["id"] for m in _markers(teacher, t, rec)["markers"]] == [own["id"]]
    # The coach in analysis does not see the teacher's preparation either.
    assert [m["id"] for m in _markers(coach, t, rec)["markers"]] == [mine["id"]]

    # Together: both people's markers, with who made them; the teacher may look back alone.
    teacher.call("POST", C + "/viewing-guide/submit", 200, {"answers": GUIDE}, traject_id=t,
                 number=1)  # fmt: skip
    state = _markers(teacher, t, rec)
    assert (state["mode"], state["modes"]) == ("conversation", ["conversation", "preparation"])
    together = {m["id"]: (m["author_name"], m["mine"]) for m in state["markers"]}
    assert together == {mine["id"]: ("Sanne Coach", False), own["id"]: ("Jeroen Leerkracht", True)}
    assert state["analysis_notes"] == "Sterk: wachten" and state["may"]["conversation_notes"]
    assert not state["may"]["add_action_point"]  # after the conversation notes
    assert len(_markers(teacher, t, rec, mode="preparation")["markers"]) == 1
    state = _markers(coach, t, rec)
    assert state["mode"] == "conversation" and len(state["markers"]) == 2
    assert state["guide"]["answers"]["q3"]["ms"] == GUIDE["q3"]["ms"]  # type: ignore[index]
    teacher.call("POST", C + "/conversation", 200, {"conversation_notes": "Samen gekeken"},
                 traject_id=t, number=1)  # fmt: skip
    teacher.call("POST", C + "/action-points", 201, {"text": "Drie tellen wachten"},
                 traject_id=t, number=1)  # fmt: skip
    state = _markers(coach, t, rec)
    assert state["may"]["add_action_point"]
    assert [p["text"] for p in state["action_points"]] == ["Drie tellen wachten"]
    other.call("GET", PLAYER, 403, **ids)


def test_only_ones_own_markers_change_while_the_cycle_is_open(
    app: Flask, people: tuple[Api, Api, Api], clip: Path
) -> None:
    coach, teacher, _ = people
    t, rec = _cycle_with_footage(app, coach, teacher, clip)
    one = {"traject_id": t, "number": 1}
    body = {"media_kind": "recording", "media_id": rec, "text": "Knikt", "start_ms": 400}
    coachs = coach.call("POST", C + "/markers", 201, body, **one)
    coach.call("POST", C + "/share", 200, **one)
    teachers = teacher.call("POST", C + "/markers", 201, {**body, "kind": "opportunity"}, **one)

    changed = teacher.call(
        "PATCH", MARKER, 200,
        {"text": "Ik knik naar Sara", "kind": "strength", "tags": ["Instemmend benoemen"],
         "domain": "interactie", "start_ms": 1000, "end_ms": 1520},
        marker_id=teachers["id"], **one,
    )  # fmt: skip
    assert (changed["text"], changed["kind"], changed["start_frame"], changed["end_frame"]) == (
        "Ik knik naar Sara", "strength", 25, 38,
    )  # fmt: skip
    assert changed["media_id"] == rec and changed["mine"]
    with app.app_context():
        # The check made no second marker.
        assert (
            db.session.scalar(
                sa.select(sa.func.count())
                .select_from(Marker)
                .join(Cycle)
                .where(Cycle.traject_id == t)
            )
            == 2
        )

    teacher.refused("PATCH", MARKER, 403, {"text": "Van mij"}, marker_id=coachs["id"], **one)
    teacher.refused("DELETE", MARKER, 403, marker_id=coachs["id"], **one)
    teacher.refused("PATCH", MARKER, 422, {"kind": "weakness"}, field="kind",
                    marker_id=teachers["id"], **one)  # fmt: skip
    teacher.refused("PATCH", MARKER, 422, {"text": " "}, field="text", marker_id=teachers["id"],
                    **one)  # fmt: skip
    teacher.refused("PATCH", MARKER, 422, {"start_ms": 900, "end_ms": 100}, field="end_ms",
                    marker_id=teachers["id"], **one)  # fmt: skip
    teacher.refused("PATCH", MARKER, 422, {"tags": ["Onbekend"]}, field="tags",
                    marker_id=teachers["id"], **one)  # fmt: skip
    teacher.refused("PATCH", MARKER, 422, {"media_id": 1}, field="media_kind",
                    marker_id=teachers["id"], **one)  # fmt: skip
    teacher.refused("PATCH", MARKER, 404, {"text": "x"}, marker_id=teachers["id"] + 999, **one)
    teacher.refused("DELETE", MARKER, 404, marker_id=coachs["id"], traject_id=t, number=2)

    _delete(teacher, t, teachers["id"])
    _delete(coach, t, coachs["id"])
    teacher.refused("DELETE", MARKER, 404, marker_id=teachers["id"], **one)
    state = _markers(teacher, t, rec)
    assert state["markers"] == []

    # After the cycle is closed, its markers are the record: they no longer change.
    kept = teacher.call("POST", C + "/markers", 201, body, **one)
    teacher.call("POST", C + "/viewing-guide/submit", 200, {"answers": GUIDE}, **one)
    teacher.call("POST", C + "/conversation", 200, {"conversation_notes": "Gekeken"}, **one)
    teacher.call("POST", C + "/action-points", 201, {"text": "Wachten"}, **one)
    coach.call("POST", C + "/close", 200, {"next_filming_on": "2026-12-01"}, **one)
    teacher.refused("PATCH", MARKER, 409, {"text": "later"}, marker_id=kept["id"], **one)
    teacher.refused("DELETE", MARKER, 409, marker_id=kept["id"], **one)
    review = _markers(teacher, t, rec)
    assert (review["mode"], review["modes"], review["may"]["add_marker"]) == (
        "review", ["review"], False,
    )  # fmt: skip


def test_the_player_starts_with_the_markers_the_page_and_the_api_show(
    app: Flask, people: tuple[Api, Api, Api], clip: Path
) -> None:
    """One rule (cycles.services.markers_visible_to): the player's default mode shows the
    same markers as the cycle's marker list, for coach and teacher, at every step."""
    coach, teacher, _ = people
    t, rec = _cycle_with_footage(app, coach, teacher, clip)
    one = {"traject_id": t, "number": 1}
    body = {"media_kind": "recording", "media_id": rec, "text": "Knikt", "start_ms": 400}
    coach.call("POST", C + "/markers", 201, body, **one)
    coach.call("POST", C + "/share", 200, **one)
    teacher.call("POST", C + "/markers", 201, {**body, "kind": "question"}, **one)

    def agree(step: str, expected: dict[str, int]) -> None:
        for name, api in (("coach", coach), ("teacher", teacher)):
            player = {m["id"] for m in _markers(api, t, rec)["markers"]}
            listed = {m["id"] for m in api.call("GET", C + "/markers", 200, **one)["markers"]}
            assert player == listed, (step, name)
            assert len(player) == expected[name], (step, name)

    agree("shared", {"coach": 1, "teacher": 1})
    teacher.call("POST", C + "/viewing-guide/submit", 200, {"answers": GUIDE}, **one)
    agree("prepared", {"coach": 2, "teacher": 2})
    teacher.call("POST", C + "/conversation", 200, {"conversation_notes": "Samen"}, **one)
    teacher.call("POST", C + "/action-points", 201, {"text": "Wachten"}, **one)
    agree("discussed", {"coach": 2, "teacher": 2})
    coach.call("POST", C + "/close", 200, {"next_filming_on": "2026-12-01"}, **one)
    agree("closed", {"coach": 2, "teacher": 2})


# --- stills in the report -------------------------------------------------------------------------


def test_a_moment_of_strength_carries_its_still_into_the_report(
    app: Flask, people: tuple[Api, Api, Api], clip: Path
) -> None:
    coach, teacher, _ = people
    t, rec = _cycle_with_footage(app, coach, teacher, clip)
    one = {"traject_id": t, "number": 1}
    on_video = {"media_kind": "recording", "media_id": rec}
    strength = coach.call("POST", C + "/markers", 201, {**on_video, "text": "Kracht",
                          "start_ms": 1000}, **one)  # fmt: skip
    question = coach.call("POST", C + "/markers", 201, {**on_video, "text": "Vraag",
                          "kind": "question", "start_ms": 1000}, **one)  # fmt: skip
    with app.app_context():
        marker = db.session.get(Marker, strength["id"])
        assert marker is not None
        assert report._still_url(marker) is None  # not shared with the teacher yet
    coach.call("POST", C + "/share", 200, **one)
    with app.app_context():
        marker = db.session.get(Marker, strength["id"])
        other = db.session.get(Marker, question["id"])
        assert marker is not None and other is not None
        url = report._still_url(marker)
        assert url is not None and url.startswith("data:image/jpeg;base64,")
        assert base64.b64decode(url.split(",", 1)[1])[:3] == b"\xff\xd8\xff"  # a JPEG
        assert report._still_url(other) is None  # questions are working notes
        # A montage that was never rendered has no still either.
        cycle = db.session.get(Cycle, marker.cycle_id)
        assert cycle is not None
        draft = Montage(cycle_id=cycle.id, clips=[])
        db.session.add(draft)
        db.session.flush()
        marker.media_kind, marker.media_id = "montage", draft.id
        assert report._still_url(marker) is None
        db.session.rollback()


def test_a_still_is_made_for_the_page_s_token_only_never_for_a_cookie_alone(
    app: Flask, people: tuple[Api, Api, Api], clip: Path
) -> None:
    """Making a still runs ffmpeg: a cross-site <img> riding on the session cookie must not be
    able to start that work; the player asks with its launch token."""
    coach, teacher, _ = people
    t, recording_id = _cycle_with_footage(app, coach, teacher, clip)
    path = (C + "/recordings/{item_id}/stills/{frame}").format(
        traject_id=t, number=1, item_id=recording_id, frame=7
    )
    assert coach.session.cookies, "the launch left its session cookie"
    by_cookie = coach.session.get(coach.base + path, timeout=10)
    assert by_cookie.status_code == 401
    answer = coach.call(
        "GET", C + "/{kind}/{item_id}/stills/{frame}", 200, traject_id=t, number=1,
        kind="recordings", item_id=recording_id, frame=7,
    )  # fmt: skip
    assert answer["frame"] == 7 and "/media/s/" in answer["url"]
