"""The traject API over real HTTP, after real launches: a whole teacher traject as coach and
teacher, refusals (401, 403, 409, 422), hidden preparations, school settings, and every answer
checked against the OpenAPI document."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from flask import Flask
from jsonschema.exceptions import ValidationError
from openapi_schema_validator import OAS30Validator, oas30_format_checker
from openapi_schema_validator import validate as validate_schema

from tests.lti_platform import INSTITUTION_ADMIN, INSTRUCTOR, LEARNER, Person, TestPlatform, browser

T = "/api/trajects/{traject_id}"
C = T + "/cycles/{number}"

GUIDE = {
    "q2": {"text": "Ik zie dat Daan zijn vinger opsteekt", "ms": 12_000},
    "q3": {"text": "Ik knik en geef Daan de beurt; hij gaat rechtop zitten", "ms": 14_500},
    "q4": "Drie initiatieven; ik ontvang ze vooral non-verbaal",
    "q5": 3,
    "q6": "Vaker benoemen wat goed gaat",
    "q7": ["De beurtverdeling"],
}


@pytest.fixture(scope="module")
def spec(live_server: str) -> dict[str, Any]:
    return requests.get(live_server + "/api/openapi.json", timeout=10).json()  # type: ignore[no-any-return]


def check_schema(spec: dict[str, Any], schema: dict[str, Any], instance: Any) -> None:
    """Validate against a schema of the document, its $refs resolved in the document."""
    validate_schema(
        instance,
        {**schema, "components": spec["components"]},
        cls=OAS30Validator,
        format_checker=oas30_format_checker,
    )


@dataclass
class Api:
    """One person's API client: the launch token from their start page, nothing else."""

    base: str
    token: str
    spec: dict[str, Any]
    session: requests.Session

    def call(
        self,
        method: str,
        template: str,
        expect: int,
        json: Any = None,
        query: dict[str, str] | None = None,
        **params: Any,
    ) -> Any:
        """Call `template` (a path of the document) and check the status and the answer's
        schema for that status in the document."""
        response = requests.request(
            method,
            self.base + template.format(**params),
            json=json,
            params=query,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=10,
        )
        assert response.status_code == expect, (method, template, response.text[:800])
        responses = self.spec["paths"][template][method.lower()]["responses"]
        assert str(expect) in responses, f"{method} {template} {expect} is not documented"
        schema = responses[str(expect)]["content"]["application/json"]["schema"]
        check_schema(self.spec, schema, response.json())
        return response.json()

    def refused(
        self,
        method: str,
        template: str,
        expect: int,
        json: Any = None,
        field: str | None = None,
        message: str | None = None,
        **params: Any,
    ) -> dict[str, Any]:
        body: dict[str, Any] = self.call(method, template, expect, json, **params)
        assert body["message"]
        if field is not None:
            assert body["field"] == field, body
        if message is not None:
            assert body["message"] == message, body
        return body


def sign_in(
    platform: TestPlatform, spec: dict[str, Any], sub: str, roles: list[str], name: str
) -> Api:
    """A real launch in English, the start page, and the API token it carries."""
    person = Person(sub=sub + "-" + platform.client_id, roles=roles, name=name)
    result = platform.launch(person, mutate=lambda body: body.update(locale="en"))
    assert result.status == 303, result.response.text[:400]
    session = browser()
    start = session.get(result.response.headers["Location"], timeout=10)
    assert start.status_code == 200
    match = re.search(r'data-api-token="([^"]+)"', start.text)
    assert match is not None
    return Api(platform.tool_base, match.group(1), spec, session)


def me(api: Api) -> int:
    return int(api.call("GET", "/api/me", 200)["user"]["id"])


@pytest.fixture
def coach(platform: TestPlatform, spec: dict[str, Any]) -> Api:
    return sign_in(platform, spec, "coach", [INSTRUCTOR], "Sanne Coach")


@pytest.fixture
def teacher(platform: TestPlatform, spec: dict[str, Any]) -> Api:
    return sign_in(platform, spec, "teacher", [LEARNER], "Jeroen Leerkracht")


def new_traject(coach: Api, teacher: Api, title: str = "Rust in groep 5") -> int:
    body = {"kind": "teacher", "title": title, "teacher_id": me(teacher)}
    return int(coach.call("POST", "/api/trajects", 201, body)["id"])


def through_intake(coach: Api, teacher: Api, t: int) -> None:
    teacher.call("PUT", T + "/intake", 200, {"help_question": "Meer rust"}, traject_id=t)
    teacher.call("POST", T + "/questions", 201, {"text": "Hoe geef ik beurten?"}, traject_id=t)
    coach.call("POST", T + "/intake/complete", 200, traject_id=t)


def run_cycle(coach: Api, teacher: Api, t: int, n: int, last: bool = False) -> None:
    ids = {"traject_id": t, "number": n}
    coach.call("POST", C + "/recorded", 200, {"focus": "beurten"}, **ids)
    coach.call("POST", C + "/analysed", 200, {"analysis_notes": "Sterke momenten"}, **ids)
    coach.call("POST", C + "/share", 200, **ids)
    teacher.call("POST", C + "/viewing-guide/submit", 200, {"answers": GUIDE}, **ids)
    teacher.call("POST", C + "/conversation", 200, {"conversation_notes": "Micro-kijken"}, **ids)
    teacher.call("POST", C + "/action-points", 201, {"text": "Drie beurten per les"}, **ids)
    close = {} if last else {"next_filming_on": "2026-12-01"}
    coach.call("POST", C + "/close", 200, close, **ids)


# --- the whole traject ------------------------------------------------------------------------


def test_whole_teacher_traject_through_the_api(coach: Api, teacher: Api) -> None:
    assert coach.call("GET", "/api/trajects", 200) == {"trajects": []}
    members = coach.call("GET", "/api/course/members", 200, query={"role": "teacher"})
    teacher_id = me(teacher)
    assert [m["id"] for m in members["members"]] == [teacher_id]

    created = coach.call(
        "POST", "/api/trajects", 201, {"kind": "teacher", "title": "Rust", "teacher_id": teacher_id}
    )
    t = created["id"]
    assert created["status"] == "intake" and created["roles"] == ["coach"]
    assert {(p["role"], p["name"]) for p in created["participants"]} == {
        ("coach", "Sanne Coach"),
        ("teacher", "Jeroen Leerkracht"),
    }
    listed = teacher.call("GET", "/api/trajects", 200)["trajects"]
    assert [(i["id"], i["next_step"]["code"]) for i in listed] == [(t, "question")]

    # Intake: the coach's wording waits for the teacher's approval.
    teacher.call(
        "PUT", T + "/intake", 200,
        {"help_question": "Hoe krijg ik meer rust?", "intake_on": "2026-09-01"}, traject_id=t,
    )  # fmt: skip
    draft = coach.call(
        "POST", T + "/questions", 201, {"text": "Hoe geef ik beurten?"}, traject_id=t
    )
    assert draft["approved_at"] is None
    coach.refused(
        "POST", T + "/intake/complete", 409, traject_id=t,
        message="The development question needs the teacher's own words or approval first.",
    )  # fmt: skip
    coach.call("POST", T + "/questions/{question_id}/approve", 403, traject_id=t,
               question_id=draft["id"])  # fmt: skip
    approved = teacher.call(
        "POST", T + "/questions/{question_id}/approve", 200, traject_id=t, question_id=draft["id"]
    )
    assert approved["approved_by_id"] == teacher_id
    coach.refused(
        "POST", C + "/recorded", 409, {}, traject_id=t, number=1,
        message="The video cycles have not started, or are over.",
    )  # fmt: skip
    started = coach.call("POST", T + "/intake/complete", 200, traject_id=t)
    assert started["status"] == "cycles" and [c["number"] for c in started["cycles"]] == [1, 2, 3]
    assert started["intake"]["intake_on"] == "2026-09-01"
    assert started["development_question"]["text"] == "Hoe geef ik beurten?"

    # Cycle 1, with out-of-order steps first.
    one = {"traject_id": t, "number": 1}
    teacher.refused(
        "POST", C + "/viewing-guide/submit", 409, {"answers": GUIDE}, **one,
        message="The kijkwijzer opens once the coach has shared the footage.",
    )  # fmt: skip
    coach.refused("POST", C + "/share", 409, **one,
                  message="The recording has not been attached yet.")  # fmt: skip
    teacher.call("POST", C + "/recorded", 403, {}, **one)
    coach.call(
        "POST", C + "/recorded", 200, {"focus": "beurten", "filming_on": "2026-09-15"}, **one
    )
    coach.refused("POST", C + "/analysed", 422, {"analysis_notes": " "}, **one,
                  field="analysis_notes", message="This field is required.")  # fmt: skip
    coach.call("POST", C + "/analysed", 200, {"analysis_notes": "Drie sterke momenten"}, **one)
    seen = teacher.call("GET", T, 200, traject_id=t)["cycles"][0]
    assert seen["analysis_notes"] is None and seen["filming_on"] == "2026-09-15"
    assert coach.call("GET", T, 200, traject_id=t)["cycles"][0]["analysis_notes"]
    coach.call("POST", C + "/share", 200, **one)

    # The kijkwijzer: a draft stays the teacher's own until submitted.
    guide = teacher.call("GET", C + "/viewing-guide", 200, **one)
    assert guide["answers"] == {} and guide["development_question"] == "Hoe geef ik beurten?"
    assert [q["key"] for q in guide["questions"]][:2] == ["q1", "q2"]
    teacher.call("PUT", C + "/viewing-guide", 200, {"answers": {"q2": GUIDE["q2"]}}, **one)
    assert coach.call("GET", C + "/viewing-guide", 200, **one)["answers"] is None
    draft_view = coach.call("GET", T, 200, traject_id=t)["cycles"][0]["viewing_guide"]
    assert draft_view["answers"] is None and draft_view["submitted_at"] is None
    teacher.refused("POST", C + "/viewing-guide/submit", 422, {"answers": {"q2": GUIDE["q2"]}},
                    **one, field="answers.q3")  # fmt: skip
    teacher.refused("POST", C + "/viewing-guide/submit", 422, {"answers": {**GUIDE, "q5": 9}},
                    **one, field="answers.q5")  # fmt: skip
    teacher.refused("PUT", C + "/viewing-guide", 422, {"answers": ["q2"]}, **one,
                    field="answers")  # fmt: skip
    submitted = teacher.call("POST", C + "/viewing-guide/submit", 200, {"answers": GUIDE}, **one)
    assert submitted["submitted_at"] and submitted["answers"]["q3"]["ms"] == 14_500
    assert coach.call("GET", C + "/viewing-guide", 200, **one)["answers"]["q5"] == 3

    # The conversation: markers (time codes in ms) and action points.
    teacher.refused("POST", C + "/action-points", 409, {"text": "te vroeg"}, **one,
                    message="The coaching conversation has not taken place yet.")  # fmt: skip
    teacher.call(
        "POST", C + "/conversation", 200,
        {"conversation_notes": "Micro-kijken", "conversation_on": "2026-09-20"}, **one,
    )  # fmt: skip
    marker = coach.call(
        "POST", C + "/markers", 201,
        {"kind": "strength", "text": "Knikken", "start_ms": 14_500, "end_ms": 16_000,
         "tags": ["Ontvangen: non-verbaal"], "domain": "interactie"}, **one,
    )  # fmt: skip
    assert marker["start_ms"] == 14_500 and marker["tags"] == ["Ontvangen: non-verbaal"]
    teacher.call("POST", C + "/markers", 201, {"kind": "question", "text": "Wat zag Daan?"}, **one)
    coach.refused("POST", C + "/markers", 422, {"text": "x", "start_ms": -1}, **one,
                  field="start_ms", message="Give a valid time code.")  # fmt: skip
    coach.refused("POST", C + "/markers", 422, {"text": "x", "start_ms": "12"}, **one,
                  field="start_ms")  # fmt: skip
    coach.refused("POST", C + "/markers", 422, {"text": "x", "start_ms": 5, "end_ms": 4}, **one,
                  field="end_ms")  # fmt: skip
    coach.refused("POST", C + "/markers", 422, {"text": "x", "kind": "weakness"}, **one,
                  field="kind")  # fmt: skip
    coach.refused("POST", C + "/markers", 422, {"text": "x", "tags": ["Onbekend"]}, **one,
                  field="tags")  # fmt: skip
    listed_markers = teacher.call("GET", C + "/markers", 200, **one)["markers"]
    assert [m["kind"] for m in listed_markers] == ["strength", "question"]
    coach.refused("POST", C + "/close", 409, {"next_filming_on": "2026-10-01"}, **one,
                  message="Agree at least one action point first.")  # fmt: skip
    point = teacher.call("POST", C + "/action-points", 201, {"text": "Drie beurten per les"}, **one)
    teacher.refused("POST", C + "/action-points", 422, {"text": ""}, **one, field="text")
    coach.refused("POST", C + "/close", 422, {}, **one, field="next_filming_on")
    coach.refused("POST", C + "/close", 422, {"next_filming_on": "2026-13-01"}, **one,
                  field="next_filming_on")  # fmt: skip
    closed = coach.call("POST", C + "/close", 200, {"next_filming_on": "2026-10-01"}, **one)
    assert closed["cycles"][0]["step"] == "closed"
    assert closed["cycles"][0]["next_filming_on"] == "2026-10-01"
    assert closed["current_cycle"] == 2

    # Action points carry on with their status; the question is refined, with history.
    ap = T + "/action-points/{point_id}"
    teacher.refused("PATCH", ap, 422, {"status": "done"}, traject_id=t, point_id=point["id"],
                    field="status")  # fmt: skip
    assert teacher.call("PATCH", ap, 200, {"status": "tried"}, traject_id=t,
                        point_id=point["id"])["status"] == "tried"  # fmt: skip
    coach.call("PATCH", ap, 404, {"status": "tried"}, traject_id=t, point_id=point["id"] + 999)
    refined = teacher.call(
        "POST", T + "/questions", 201, {"text": "Hoe betrek ik stille kinderen?", "after_cycle": 1},
        traject_id=t,
    )  # fmt: skip
    assert refined["approved_at"] is not None and refined["version"] == 2
    teacher.refused("PUT", T + "/final/preparation", 409, {"text": "te vroeg", "done": True},
                    traject_id=t)  # fmt: skip
    coach.call("POST", C + "/recorded", 404, {}, traject_id=t, number=9)

    run_cycle(coach, teacher, t, 2)
    run_cycle(coach, teacher, t, 3, last=True)
    final = teacher.call("GET", T, 200, traject_id=t)
    assert final["status"] == "final" and final["next_step"]["code"] == "prepare_final"
    assert [q["version"] for q in final["questions"]] == [1, 2]
    assert final["cycles"][0]["action_points"][0]["status"] == "tried"

    # The final conversation: preparations hidden from each other until both are done.
    mine = "Ik geef nu bewuster beurten, vooral aan Daan"
    prepared = teacher.call("PUT", T + "/final/preparation", 200, {"text": mine, "done": True},
                            traject_id=t)  # fmt: skip
    assert prepared["own"] == mine and prepared["other"] is None
    coach.refused("POST", T + "/final/conclusions", 409, {"goal_reached": "yes"}, traject_id=t,
                  message="Both the teacher and the coach prepare first.")  # fmt: skip
    coach_draft = "Concept: zichtbaar in cycli 2 en 3"
    coach.call("PUT", T + "/final/preparation", 200, {"text": coach_draft, "done": False},
               traject_id=t)  # fmt: skip
    for api, secret in ((coach, mine), (teacher, coach_draft)):
        for template in (T, T + "/final/preparation", "/api/trajects"):
            raw = requests.get(
                api.base + template.format(traject_id=t),
                headers={"Authorization": f"Bearer {api.token}"},
                timeout=10,
            )
            assert raw.status_code == 200 and secret not in raw.text, template
    assert coach.call("GET", T, 200, traject_id=t)["final_review"]["preparation"]["other"] is None
    coach.refused("PUT", T + "/final/preparation", 422, {"text": "x", "done": "yes"},
                  traject_id=t, field="done")  # fmt: skip
    coach.call("PUT", T + "/final/preparation", 200, {"text": "Zichtbaar in cycli 2 en 3",
               "done": True}, traject_id=t)  # fmt: skip
    both = teacher.call("GET", T + "/final/preparation", 200, traject_id=t)
    assert both["other"] == "Zichtbaar in cycli 2 en 3" and both["own"] == mine
    assert coach.call("GET", T + "/final/preparation", 200, traject_id=t)["other"] == mine

    conclusions = {
        "goal_reached": "partly",
        "how_it_came_about": "Door het micro-kijken zag Jeroen zijn eigen knikje",
        "yield_per_domain": {"interactie": "Meer non-verbaal ontvangen"},
        "visible_in_marker_ids": [marker["id"], 999_999],
        "follow_up": "Nieuwe leerwens: instructie in drie niveaus",
    }
    teacher.call("POST", T + "/final/conclusions", 403, conclusions, traject_id=t)
    coach.refused("POST", T + "/final/conclusions", 422, {**conclusions, "goal_reached": "maybe"},
                  traject_id=t, field="goal_reached")  # fmt: skip
    coach.refused("POST", T + "/final/conclusions", 422,
                  {**conclusions, "yield_per_domain": {"didactiek": "x" * 4001}},
                  traject_id=t, field="yield_per_domain.didactiek")  # fmt: skip
    done = coach.call("POST", T + "/final/conclusions", 200, conclusions, traject_id=t)
    assert done["status"] == "completed" and done["completed_at"]
    seen_by_teacher = teacher.call("GET", T, 200, traject_id=t)
    result = seen_by_teacher["final_review"]["conclusions"]
    assert result["goal_reached"] == "partly"
    assert result["visible_in_marker_ids"] == [marker["id"]]
    assert result["yield_per_domain"]["interactie"] == "Meer non-verbaal ontvangen"
    assert seen_by_teacher["next_step"]["code"] == "done"
    # After the conclusion both preparations stay readable (for the report and the POP).
    after = teacher.call("GET", T + "/final/preparation", 200, traject_id=t)
    assert after["own"] and after["other"]
    teacher.refused("PUT", T + "/final/preparation", 409, {"text": "later", "done": True},
                    traject_id=t, message="The final conversation is concluded.")  # fmt: skip


def test_close_early_and_add_a_cycle(coach: Api, teacher: Api) -> None:
    t = new_traject(coach, teacher)
    coach.refused("POST", T + "/cycles", 409, traject_id=t,
                  message="Cycles can be added while the video cycles run.")  # fmt: skip
    through_intake(coach, teacher, t)
    added = coach.call("POST", T + "/cycles", 201, traject_id=t)
    assert [c["number"] for c in added["cycles"]] == [1, 2, 3, 4]
    assert added["planned_cycles"] == 4
    teacher.call("POST", T + "/close-early", 403, {"reason": "verlof"}, traject_id=t)
    coach.refused("POST", T + "/close-early", 422, {"reason": " "}, traject_id=t, field="reason")
    early = coach.call("POST", T + "/close-early", 200, {"reason": "Verlof"}, traject_id=t)
    assert early["status"] == "final" and early["closed_early_reason"] == "Verlof"
    teacher.call("PUT", T + "/final/preparation", 200, {"text": "Terugblik", "done": True},
                 traject_id=t)  # fmt: skip


# --- refusals ---------------------------------------------------------------------------------


def test_another_teacher_guessing_an_id_gets_403_as_for_no_traject(
    platform: TestPlatform, make_platform: Any, spec: dict[str, Any], coach: Api, teacher: Api
) -> None:
    t = new_traject(coach, teacher)
    other = sign_in(platform, spec, "teacher2", [LEARNER], "Ander")
    elsewhere = sign_in(make_platform(), spec, "teacher3", [LEARNER], "Andere school")
    other_coach = sign_in(platform, spec, "coach2", [INSTRUCTOR], "Andere coach")
    for api in (other, elsewhere, other_coach):
        assert api.call("GET", "/api/trajects", 200) == {"trajects": []}
        for traject_id in (t, 2_000_000_000, 99_999_999_999):
            body = api.call("GET", T, 403, traject_id=traject_id)
            assert body["error"] == "forbidden"
        api.call("PUT", T + "/intake", 403, {"help_question": "x"}, traject_id=t)
        api.call("POST", T + "/questions", 403, {"text": "x"}, traject_id=t)
        api.call("GET", C + "/markers", 403, traject_id=t, number=1)
        api.call("GET", T + "/viewing-guide-template", 403, traject_id=t)
        api.call("POST", T + "/participants", 403, {"role": "teacher", "user_id": me(api)},
                 traject_id=t)  # fmt: skip
    # A refusal and a missing traject answer alike, word for word.
    missing = requests.get(
        other.base + "/api/trajects/2000000000",
        headers={"Authorization": f"Bearer {other.token}"},
        timeout=10,
    )
    theirs = requests.get(
        other.base + f"/api/trajects/{t}",
        headers={"Authorization": f"Bearer {other.token}"},
        timeout=10,
    )
    assert missing.text == theirs.text


def test_a_teacher_cannot_take_the_coach_steps(coach: Api, teacher: Api) -> None:
    teacher.call("POST", "/api/trajects", 403, {"kind": "teacher", "title": "x"})
    teacher.call("GET", "/api/course/members", 403)
    t = new_traject(coach, teacher)
    teacher.call("POST", T + "/participants", 403, {"role": "teacher", "name": "x"}, traject_id=t)
    teacher.call("PUT", T + "/intake", 200, {"help_question": "Meer rust"}, traject_id=t)
    teacher.call("POST", T + "/questions", 201, {"text": "Mijn vraag"}, traject_id=t)
    teacher.call("POST", T + "/intake/complete", 403, traject_id=t)
    coach.call("POST", T + "/intake/complete", 200, traject_id=t)
    one = {"traject_id": t, "number": 1}
    for step in ("/recorded", "/analysed", "/share", "/close"):
        body = teacher.call("POST", C + step, 403, {}, **one)
        assert body["error"] == "forbidden"
    teacher.call("POST", T + "/cycles", 403, traject_id=t)
    teacher.call("POST", T + "/close-early", 403, {"reason": "x"}, traject_id=t)
    teacher.call("PUT", T + "/viewing-guide-template", 403,
                 {"questions": [{"kind": "text", "label": "x"}]}, traject_id=t)  # fmt: skip
    # ... and the coach does not fill in the teacher's kijkwijzer.
    coach.call("POST", C + "/recorded", 200, {}, **one)
    coach.call("POST", C + "/analysed", 200, {"analysis_notes": "x"}, **one)
    coach.call("POST", C + "/share", 200, **one)
    coach.call("POST", C + "/viewing-guide/submit", 403, {"answers": GUIDE}, **one)


def test_without_a_token_the_api_answers_401(live_server: str, spec: dict[str, Any]) -> None:
    for method, path in (
        ("GET", "/api/trajects"),
        ("POST", "/api/trajects"),
        ("GET", "/api/trajects/1"),
        ("PUT", "/api/school/tags"),
    ):
        for headers in ({}, {"Authorization": "Bearer forged"}):
            response = requests.request(
                method, live_server + path, json={}, headers=headers, timeout=10
            )
            assert response.status_code == 401, (method, path)
            assert response.json()["error"] == "not_authenticated"


def test_the_session_cookie_reads_but_never_writes(coach: Api, teacher: Api) -> None:
    teacher_id = me(teacher)
    # The coach's browser holds the session cookie from the start page; no token sent.
    assert coach.session.cookies, "the start page should have set a session cookie"
    read = coach.session.get(coach.base + "/api/trajects", timeout=10)
    assert read.status_code == 200 and read.json() == {"trajects": []}
    body = {"kind": "teacher", "title": "Via cookie", "teacher_id": teacher_id}
    written = coach.session.post(coach.base + "/api/trajects", json=body, timeout=10)
    assert written.status_code == 401 and written.json()["error"] == "not_authenticated"
    form = coach.session.post(coach.base + "/api/trajects", data=body, timeout=10)
    assert form.status_code == 401
    assert coach.call("GET", "/api/trajects", 200) == {"trajects": []}


def test_bad_input_is_422_with_the_field(
    make_platform: Any, spec: dict[str, Any], coach: Api, teacher: Api
) -> None:
    teacher_id = me(teacher)
    stranger = sign_in(make_platform(), spec, "stranger", [LEARNER], "Andere school")
    cases: list[tuple[Any, str]] = [
        ({"kind": "class", "title": "x", "teacher_id": teacher_id}, "kind"),
        ({"kind": "teacher", "title": " ", "teacher_id": teacher_id}, "title"),
        ({"kind": "teacher", "title": 5, "teacher_id": teacher_id}, "title"),
        ({"kind": "teacher", "title": "x"}, "teacher_id"),
        ({"kind": "teacher", "title": "x", "teacher_id": "1"}, "teacher_id"),
        ({"kind": "teacher", "title": "x", "teacher_id": 2**40}, "teacher_id"),
        # Someone of another school is not a member of this course.
        ({"kind": "teacher", "title": "x", "teacher_id": me(stranger)}, "teacher_id"),
        ({"kind": "child", "title": "x", "teacher_id": teacher_id}, "pupil_code"),
        ({"kind": "team", "title": "x", "section": "kleuters"}, "section"),
        ({"kind": "teacher", "title": "a\x00b", "teacher_id": teacher_id}, "title"),
        (["not", "an", "object"], "body"),
    ]
    for body, field in cases:
        coach.refused("POST", "/api/trajects", 422, body, field=field)
    raw = requests.post(
        coach.base + "/api/trajects",
        data="kind=teacher",
        headers={"Authorization": f"Bearer {coach.token}"},
        timeout=10,
    )
    assert raw.status_code == 422 and raw.json()["field"] == "body"
    # A form post with the token as its CSRF field is read as no JSON either.
    form = requests.post(
        coach.base + "/api/trajects",
        data={"launch_token": coach.token, "kind": "teacher", "title": "x"},
        timeout=10,
    )
    assert form.status_code == 422 and form.json()["field"] == "body"
    assert coach.call("GET", "/api/trajects", 200) == {"trajects": []}

    t = new_traject(coach, teacher)
    teacher.refused("PUT", T + "/intake", 422, {"help_question": ""}, traject_id=t,
                    field="help_question", message="This field is required.")  # fmt: skip
    teacher.refused("PUT", T + "/intake", 422, {"help_question": "x", "intake_on": "1-9-2026"},
                    traject_id=t, field="intake_on")  # fmt: skip
    teacher.refused("POST", T + "/questions", 422, {"text": ""}, traject_id=t, field="text")
    coach.refused("POST", T + "/participants", 422, {"role": "boss", "name": "x"}, traject_id=t,
                  field="role")  # fmt: skip
    coach.refused("POST", T + "/participants", 422, {"role": "parent", "name": "Ouder"},
                  traject_id=t, field="role")  # fmt: skip
    coach.refused("POST", T + "/participants", 422,
                  {"role": "teacher", "user_id": me(stranger)}, traject_id=t,
                  field="user_id")  # fmt: skip
    coach.refused("POST", T + "/questions/{question_id}/approve", 403, traject_id=t,
                  question_id=1)  # fmt: skip


def test_child_and_team_trajects(coach: Api, teacher: Api) -> None:
    teacher_id = me(teacher)
    child = coach.call(
        "POST", "/api/trajects", 201,
        {"kind": "child", "title": "Concentratie", "teacher_id": teacher_id, "pupil_code": "L-07"},
    )  # fmt: skip
    assert child["pupil_code"] == "L-07" and child["kind"] == "child"
    parent = coach.call("POST", T + "/participants", 201, {"role": "parent", "name": "Ouder L-07"},
                        traject_id=child["id"])  # fmt: skip
    assert parent == {"id": parent["id"], "user_id": None, "name": "Ouder L-07", "role": "parent"}
    team = coach.call("POST", "/api/trajects", 201,
                      {"kind": "team", "title": "Klimaat", "section": "middenbouw"})  # fmt: skip
    coach.call("POST", T + "/participants", 201, {"role": "management", "user_id": teacher_id},
               traject_id=team["id"])  # fmt: skip
    seen = teacher.call("GET", T, 200, traject_id=team["id"])
    assert seen["roles"] == ["management"] and seen["allowed"]["approve_question"]
    assert seen["allowed"]["view_footage"] is False


# --- the school's kijkwijzer and tags ---------------------------------------------------------


def test_school_settings_are_for_its_administrator(
    platform: TestPlatform, spec: dict[str, Any], coach: Api, teacher: Api
) -> None:
    admin = sign_in(platform, spec, "admin", [INSTITUTION_ADMIN], "Beheerder")
    starter = teacher.call("GET", "/api/school/tags", 200)["tags"]
    assert "Initiatief" in starter
    coach.call("PUT", "/api/school/tags", 403, {"tags": ["Humor"]})
    teacher.call("PUT", "/api/school/tags", 403, {"tags": ["Humor"]})
    admin.refused("PUT", "/api/school/tags", 422, {"tags": [" "]}, field="tags")
    admin.refused("PUT", "/api/school/tags", 422, {"tags": "Humor"}, field="tags")
    saved = admin.call("PUT", "/api/school/tags", 200, {"tags": ["Initiatief", " Humor "]})
    assert saved == {"tags": ["Initiatief", "Humor"]}
    assert coach.call("GET", "/api/school/tags", 200) == saved

    questions = [{"kind": "text", "label": "Wat valt je op?"}]
    coach.call("PUT", "/api/school/viewing-guide-template", 403, {"questions": questions})
    admin.refused("PUT", "/api/school/viewing-guide-template", 422,
                  {"questions": [{"kind": "checklist", "label": "Kies"}]},
                  field="questions.q1")  # fmt: skip
    admin.refused("PUT", "/api/school/viewing-guide-template", 422, {"questions": []},
                  field="questions")  # fmt: skip
    admin.call("PUT", "/api/school/viewing-guide-template", 200, {"questions": questions})
    school = teacher.call("GET", "/api/school/viewing-guide-template", 200)["questions"]
    assert school == [{"key": "q1", "kind": "text", "label": "Wat valt je op?"}]

    # A traject starts from the school's kijkwijzer; its coach adapts it for the traject.
    t = new_traject(coach, teacher)
    assert teacher.call("GET", T + "/viewing-guide-template", 200, traject_id=t)["questions"] == (
        school
    )
    own = [{"kind": "scale", "label": "Rust", "scale": [1, 3]}]
    coach.refused("PUT", T + "/viewing-guide-template", 422,
                  {"questions": [{"kind": "scale", "label": "Rust", "scale": [3, 1]}]},
                  traject_id=t, field="questions.q1")  # fmt: skip
    adapted = coach.call("PUT", T + "/viewing-guide-template", 200, {"questions": own},
                         traject_id=t)  # fmt: skip
    assert adapted["questions"][0]["scale"] == [1, 3]
    # The school's tags are the ones markers choose from.
    through_intake(coach, teacher, t)
    one = {"traject_id": t, "number": 1}
    coach.call("POST", C + "/recorded", 200, {}, **one)
    coach.refused("POST", C + "/markers", 422, {"text": "x", "tags": ["Leiding geven, sturen"]},
                  **one, field="tags")  # fmt: skip
    coach.call("POST", C + "/markers", 201, {"text": "Grapje", "tags": ["Humor"]}, **one)


# --- the document -----------------------------------------------------------------------------


def test_every_api_route_is_documented_and_every_documented_path_exists(
    app: Flask, spec: dict[str, Any]
) -> None:
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
            for method in rule.methods or ():
                if method not in ("HEAD", "OPTIONS"):
                    routes.add((method.lower(), path))
    documented = {
        (method, path)
        for path, item in spec["paths"].items()
        for method in item
        if method in ("get", "put", "post", "patch", "delete")
    }
    assert routes == documented


def test_traject_json_validates_against_its_schema_and_the_check_can_fail(
    spec: dict[str, Any], coach: Api, teacher: Api
) -> None:
    t = new_traject(coach, teacher)
    through_intake(coach, teacher, t)
    run_cycle(coach, teacher, t, 1)
    traject = coach.call("GET", T, 200, traject_id=t)
    schema = {"$ref": "#/components/schemas/Traject"}
    check_schema(spec, schema, traject)
    for broken in (
        {**traject, "undocumented": 1},
        {**traject, "id": str(traject["id"])},
        {**traject, "cycles": [{**traject["cycles"][0], "filming_on": "15-09-2026"}]},
        {k: v for k, v in traject.items() if k != "allowed"},
    ):
        with pytest.raises(ValidationError):
            check_schema(spec, schema, broken)


# --- whose markers a person sees ----------------------------------------------------------------


def _seen(api: Api, t: int) -> tuple[set[int], set[int]]:
    """The marker ids of cycle 1 in the traject's detail and in the cycle's marker list."""
    detail = api.call("GET", T, 200, traject_id=t)["cycles"][0]["markers"]
    listed = api.call("GET", C + "/markers", 200, traject_id=t, number=1)["markers"]
    return {m["id"] for m in detail}, {m["id"] for m in listed}


def _both_mark_cycle_1(coach: Api, teacher: Api, t: int) -> tuple[int, int]:
    """The coach marks a moment while analysing, the teacher one while preparing (shared)."""
    one = {"traject_id": t, "number": 1}
    coach.call("POST", C + "/recorded", 200, {"focus": "beurten"}, **one)
    coachs = coach.call("POST", C + "/markers", 201, {"text": "De coach zag dit"}, **one)
    coach.call("POST", C + "/analysed", 200, {"analysis_notes": "Sterke momenten"}, **one)
    assert _seen(teacher, t) == (set(), set())  # nothing of the analysis before sharing
    coach.call("POST", C + "/share", 200, **one)
    teachers = teacher.call(
        "POST", C + "/markers", 201, {"kind": "question", "text": "Ik zag dit"}, **one
    )
    return coachs["id"], teachers["id"]


def test_markers_stay_ones_own_until_the_kijkwijzer_is_in(coach: Api, teacher: Api) -> None:
    t = new_traject(coach, teacher)
    through_intake(coach, teacher, t)
    one = {"traject_id": t, "number": 1}
    coachs, teachers = _both_mark_cycle_1(coach, teacher, t)

    # Shared: the teacher prepares alone; the coach does not read the preparation.
    assert _seen(teacher, t) == ({teachers}, {teachers})
    assert _seen(coach, t) == ({coachs}, {coachs})

    # Prepared: the kijkwijzer is in; the conversation shows both.
    both = {coachs, teachers}
    teacher.call("POST", C + "/viewing-guide/submit", 200, {"answers": GUIDE}, **one)
    assert _seen(teacher, t) == _seen(coach, t) == (both, both)

    # Closed: the cycle's record, for both.
    teacher.call("POST", C + "/conversation", 200, {"conversation_notes": "Samen"}, **one)
    teacher.call("POST", C + "/action-points", 201, {"text": "Wachten"}, **one)
    coach.call("POST", C + "/close", 200, {"next_filming_on": "2026-12-01"}, **one)
    assert _seen(teacher, t) == _seen(coach, t) == (both, both)


def test_closing_the_cycles_early_shares_no_marker_that_was_not_brought_in(
    coach: Api, teacher: Api
) -> None:
    """Cycle 1 never reached the conversation (shared, kijkwijzer not in) when the cycles were
    closed early: looking back, each still sees only their own side of it."""
    t = new_traject(coach, teacher)
    through_intake(coach, teacher, t)
    coachs, teachers = _both_mark_cycle_1(coach, teacher, t)
    coach.call("POST", T + "/close-early", 200, {"reason": "Verlof"}, traject_id=t)
    assert _seen(teacher, t) == ({teachers}, {teachers})
    assert _seen(coach, t) == ({coachs}, {coachs})
