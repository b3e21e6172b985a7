"""The OpenAPI 3 description of the JSON API (served at /api/openapi.json)."""

from __future__ import annotations

import copy
from typing import Any

from lti_tool.cycles.models import (
    ACTION_POINT_STATUSES,
    CYCLE_STEPS,
    DOMAINS,
    GOAL_REACHED,
    KINDS,
    MARKER_KINDS,
    PARTICIPANT_ROLES,
    SECTIONS,
    STATUS_COMPLETED,
    STATUS_CYCLES,
    STATUS_FINAL,
    STATUS_INTAKE,
)
from lti_tool.cycles.viewing_guides import QUESTION_KINDS
from lti_tool.people.models import ROLES
from lti_tool.privacy.access import ACTIONS
from lti_tool.web.openapi_player import PATHS as PLAYER_PATHS
from lti_tool.web.openapi_player import SCHEMAS as PLAYER_SCHEMAS
from lti_tool.web.openapi_privacy import PATHS as PRIVACY_PATHS
from lti_tool.web.openapi_privacy import SCHEMAS as PRIVACY_SCHEMAS

STATUSES = (STATUS_INTAKE, STATUS_CYCLES, STATUS_FINAL, STATUS_COMPLETED)
MEDIA_KINDS = ("recording", "montage")

# --- small builders ---------------------------------------------------------------------------


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _str(nullable: bool = False, **extra: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", **extra}
    if nullable:
        schema["nullable"] = True
    return schema


def _int(nullable: bool = False, **extra: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "integer", **extra}
    if nullable:
        schema["nullable"] = True
    return schema


def _enum(values: tuple[str, ...], nullable: bool = False) -> dict[str, Any]:
    if nullable:
        return {"type": "string", "nullable": True, "enum": [*values, None]}
    return {"type": "string", "enum": list(values)}


_DATE = _str(True, format="date")
_DATETIME = _str(True, format="date-time")


def _array(items: dict[str, Any], nullable: bool = False) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "array", "items": items}
    if nullable:
        schema["nullable"] = True
    return schema


def _object(
    properties: dict[str, Any], nullable: bool = False, description: str = ""
) -> dict[str, Any]:
    """A response object: every property always present, nothing undocumented."""
    schema: dict[str, Any] = {
        "type": "object",
        "required": list(properties),
        "properties": properties,
        "additionalProperties": False,
    }
    if nullable:
        schema["nullable"] = True
    if description:
        schema["description"] = description
    return schema


def _input(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    """A request body: unknown properties are ignored."""
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


# --- schemas ----------------------------------------------------------------------------------

_SUMMARY_PROPERTIES: dict[str, Any] = {
    "id": _int(),
    "kind": _enum(KINDS),
    "title": _str(),
    "status": _enum(STATUSES),
    "course_id": _int(),
    "section": _enum(SECTIONS, nullable=True),
    "pupil_code": _str(True, description="Child traject: the pupil's pseudonym or code."),
    "roles": _array(_enum(PARTICIPANT_ROLES)),
    "current_cycle": _int(True, description="The first cycle not closed, while cycles run."),
    "next_step": _ref("NextStep"),
}

_TIME_CODE = _int(True, minimum=0, description="Milliseconds from the start of the media.")

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error", "message"],
        "properties": {
            "error": _str(description="A stable code: order, required, forbidden, ..."),
            "message": _str(description="For the person, in their language."),
            "field": _str(True, description="The request body property refused, if any."),
        },
    },
    "Me": {
        "type": "object",
        "required": ["user", "roles", "course", "expires_at"],
        "properties": {
            "user": {
                "type": "object",
                "properties": {"id": _int(), "name": _str(), "email": _str(True)},
            },
            "roles": _array(_enum(ROLES)),
            "course": {
                "type": "object",
                "nullable": True,
                "properties": {"id": _int(), "title": _str(True), "label": _str(True)},
            },
            "expires_at": _str(format="date-time"),
        },
    },
    "NextStep": _object(
        {"code": _str(), "text": _str(description="What to do next, for the viewer.")}
    ),
    "TrajectSummary": _object(_SUMMARY_PROPERTIES),
    "TrajectList": _object({"trajects": _array(_ref("TrajectSummary"))}),
    "Allowed": _object(
        {action: {"type": "boolean"} for action in ACTIONS},
        description="What the viewer may do in this traject (the same rules as the pages).",
    ),
    "Participant": _object(
        {"id": _int(), "user_id": _int(True), "name": _str(), "role": _enum(PARTICIPANT_ROLES)}
    ),
    "Intake": _object(
        {
            "help_question": _str(),
            "arrangements": _str(),
            "conditions": _str(),
            "planned_dates": _str(),
            "intake_on": _DATE,
            "completed_at": _DATETIME,
        },
        nullable=True,
    ),
    "DevelopmentQuestion": _object(
        {
            "id": _int(),
            "version": _int(),
            "text": _str(),
            "author_id": _int(),
            "approved_at": _str(True, format="date-time", description="Null until approved."),
            "approved_by_id": _int(True),
            "after_cycle": _int(True, description="Refined after this cycle's conversation."),
        }
    ),
    "QuestionTemplate": {
        "type": "object",
        "required": ["key", "kind", "label"],
        "properties": {
            "key": _str(),
            "kind": _enum(QUESTION_KINDS),
            "label": _str(),
            "options": _array(_str()),
            "scale": _array(_int()),
            "scale_labels": _array(_str()),
        },
        "additionalProperties": False,
    },
    "TimecodeAnswer": _object({"text": _str(), "ms": _TIME_CODE}),
    "Answers": {
        "type": "object",
        "description": "Answers by question key: text, a scale value, checklist options, or a "
        "time code answer.",
        "additionalProperties": {
            "anyOf": [
                _str(),
                _int(),
                _array(_str()),
                _ref("TimecodeAnswer"),
            ]
        },
    },
    "ViewingGuide": _object(
        {
            "questions": _array(_ref("QuestionTemplate")),
            "answers": {
                "allOf": [_ref("Answers")],
                "nullable": True,
                "description": "The teacher's answers (drafts too); for the coach only once "
                "submitted.",
            },
            "submitted_at": _DATETIME,
            "development_question": _str(True),
        },
        description="The viewer's view of a cycle's kijkwijzer.",
    ),
    "Marker": _object(
        {
            "id": _int(),
            "cycle": _int(),
            "media_kind": _enum(MEDIA_KINDS, nullable=True),
            "media_id": _int(True),
            "start_ms": _TIME_CODE,
            "end_ms": _TIME_CODE,
            "kind": _enum(MARKER_KINDS),
            "text": _str(),
            "teacher_words": _str(),
            "tags": _array(_str()),
            "domain": _enum(DOMAINS, nullable=True),
            "author_id": _int(),
            "created_at": _str(format="date-time"),
        }
    ),
    "MarkerList": _object({"markers": _array(_ref("Marker"))}),
    "ActionPoint": _object(
        {
            "id": _int(),
            "cycle": _int(description="The cycle whose conversation agreed it."),
            "text": _str(),
            "status": _enum(ACTION_POINT_STATUSES),
            "author_id": _int(),
            "created_at": _str(format="date-time"),
            "status_changed_at": _DATETIME,
        }
    ),
    "Cycle": _object(
        {
            "number": _int(),
            "step": _enum(CYCLE_STEPS),
            "focus": _str(),
            "filming_on": _DATE,
            "recorded_at": _DATETIME,
            "analysis_notes": _str(True, description="For the coach; others once shared."),
            "analysed_at": _DATETIME,
            "shared_at": _DATETIME,
            "prepared_at": _DATETIME,
            "conversation_on": _DATE,
            "conversation_notes": _str(True, description="For those in the conversation."),
            "discussed_at": _DATETIME,
            "next_filming_on": _DATE,
            "closed_at": _DATETIME,
            "viewing_guide": {"allOf": [_ref("ViewingGuide")], "nullable": True},
            "markers": {
                **_array(_ref("Marker"), nullable=True),
                "description": "For those in the conversation (null for others). Before the "
                "kijkwijzer is submitted a coach sees the coaches' markers and anyone else only "
                "their own; from then on, and once the cycle is closed, everyone's.",
            },
            "action_points": _array(_ref("ActionPoint")),
        }
    ),
    "Preparation": _object(
        {
            "own": _str(),
            "other": _str(True, description="Null until both have finished preparing."),
            "coach_prepared_at": _DATETIME,
            "teacher_prepared_at": _DATETIME,
        }
    ),
    "YieldPerDomain": _object({domain: _str() for domain in DOMAINS}),
    "Conclusions": _object(
        {
            "goal_reached": _enum(GOAL_REACHED),
            "how_it_came_about": _str(),
            "yield_per_domain": _ref("YieldPerDomain"),
            "visible_in_marker_ids": _array(_int()),
            "teacher_evaluation": _str(),
            "coach_reflection": _str(),
            "follow_up": _str(),
            "concluded_at": _str(format="date-time"),
        }
    ),
    "FinalReview": _object(
        {
            "coach_prepared_at": _DATETIME,
            "teacher_prepared_at": _DATETIME,
            "preparation": {
                "allOf": [_ref("Preparation")],
                "nullable": True,
                "description": "For those who prepare, while the final conversation runs.",
            },
            "conclusions": {
                "allOf": [_ref("Conclusions")],
                "nullable": True,
                "description": "Once concluded, for those who may see the report.",
            },
        },
        nullable=True,
    ),
    "Traject": _object(
        {
            **_SUMMARY_PROPERTIES,
            "planned_cycles": _int(),
            "closed_early_reason": _str(True),
            "created_at": _str(format="date-time"),
            "completed_at": _DATETIME,
            "allowed": _ref("Allowed"),
            "participants": _array(_ref("Participant")),
            "intake": _ref("Intake"),
            "development_question": {
                "allOf": [_ref("DevelopmentQuestion")],
                "nullable": True,
                "description": "The current (latest approved) wording.",
            },
            "questions": _array(_ref("DevelopmentQuestion")),
            "cycles": _array(_ref("Cycle")),
            "final_review": _ref("FinalReview"),
        },
        description="Everything about a traject that the viewer may see.",
    ),
    "Template": _object({"questions": _array(_ref("QuestionTemplate"))}),
    "Tags": _object({"tags": _array(_str())}),
    "Member": _object({"id": _int(), "name": _str()}),
    "MemberList": _object({"members": _array(_ref("Member"))}),
    # --- request bodies ---
    "TrajectInput": _input(
        {
            "kind": _enum(KINDS),
            "title": _str(maxLength=200),
            "teacher_id": _int(minimum=1, description="A member of the course; not for team."),
            "pupil_code": _str(maxLength=64, description="Child traject: required."),
            "section": _enum(SECTIONS),
        },
        ("kind", "title"),
    ),
    "ParticipantInput": _input(
        {
            "role": _enum(PARTICIPANT_ROLES),
            "user_id": _int(minimum=1, description="A member of the traject's course."),
            "name": _str(description="When the person has no account (parent, external)."),
        },
        ("role",),
    ),
    "IntakeInput": _input(
        {
            "help_question": _str(),
            "arrangements": _str(),
            "conditions": _str(),
            "planned_dates": _str(),
            "intake_on": _str(format="date"),
        },
        ("help_question",),
    ),
    "QuestionInput": _input(
        {"text": _str(maxLength=2000), "after_cycle": _int(minimum=1)}, ("text",)
    ),
    "RecordedInput": _input({"focus": _str(), "filming_on": _str(format="date")}),
    "AnalysedInput": _input({"analysis_notes": _str()}, ("analysis_notes",)),
    "ViewingGuideInput": _input({"answers": _ref("Answers")}, ("answers",)),
    "ConversationInput": _input(
        {"conversation_notes": _str(), "conversation_on": _str(format="date")},
        ("conversation_notes",),
    ),
    "MarkerInput": _input(
        {
            "kind": _enum(MARKER_KINDS),
            "text": _str(maxLength=4000),
            "teacher_words": _str(maxLength=4000),
            "start_ms": _int(minimum=0),
            "end_ms": _int(minimum=0),
            "media_kind": _enum(MEDIA_KINDS),
            "media_id": _int(minimum=1),
            "tags": _array(_str()),
            "domain": _enum(DOMAINS),
        },
        ("text",),
    ),
    "ActionPointInput": _input({"text": _str(maxLength=2000)}, ("text",)),
    "ActionPointStatusInput": _input({"status": _enum(ACTION_POINT_STATUSES)}, ("status",)),
    "CloseCycleInput": _input(
        {"next_filming_on": _str(format="date", description="Required except for the last.")}
    ),
    "CloseEarlyInput": _input({"reason": _str(maxLength=2000)}, ("reason",)),
    "PreparationInput": _input(
        {
            "text": _str(maxLength=10_000),
            "done": {
                "type": "boolean",
                "description": "Finished: the other may see it once both are done.",
            },
        },
        ("text",),
    ),
    "ConclusionsInput": _input(
        {
            "goal_reached": _enum(GOAL_REACHED),
            "how_it_came_about": _str(),
            "yield_per_domain": _input({domain: _str() for domain in DOMAINS}),
            "visible_in_marker_ids": _array(_int()),
            "teacher_evaluation": _str(),
            "coach_reflection": _str(),
            "follow_up": _str(),
        },
        ("goal_reached", "how_it_came_about"),
    ),
    "TemplateInput": _input({"questions": _array(_ref("QuestionTemplate"))}, ("questions",)),
    "TagsInput": _input({"tags": _array(_str(maxLength=120))}, ("tags",)),
    # --- footage (lti_tool/web/footage.py) ---
    "Recording": _object(
        {
            "kind": _enum(("recording",)),
            "id": _int(),
            "name": _str(description="The file name as uploaded"),
            "status": _enum(("processing", "ready", "failed", "rejected")),
            "status_label": _str(),
            "error": _str(True, description="Reason code when failed or rejected"),
            "message": _str(True, description="The reason, in the viewer's language"),
            "percent": _int(minimum=0, maximum=100),
            "retryable": {"type": "boolean"},
            "mode": _enum(("remux", "reencode"), nullable=True),
            "size": _int(),
            "duration_ms": _int(True),
            "fps": _str(True, description="Frame rate of the web rendition, e.g. 30000/1001"),
            "frame_count": _int(True),
            "width": _int(True),
            "height": _int(True),
            "has_audio": {"type": "boolean"},
            "mp4": _str(True, description="Signed, short-lived URL of the MP4 rendition"),
            "hls": _str(True, description="Signed HLS playlist while segments are still made"),
            "poster": _str(True),
            "thumbnails": _str(True, description="Signed WebVTT index of thumbnail sprites"),
            "player_url": _str(True),
        }
    ),
    "Clip": _object(
        {
            "recording_id": _int(),
            "in_ms": _int(minimum=0),
            "out_ms": _int(minimum=1),
            "caption": _str(),
        }
    ),
    "Montage": _object(
        {
            "kind": _enum(("montage",)),
            "id": _int(),
            "title": _str(),
            "status": _enum(("draft", "rendering", "ready", "failed")),
            "status_label": _str(),
            "error": _str(True),
            "message": _str(True),
            "percent": _int(minimum=0, maximum=100),
            "clips": _array(_ref("Clip")),
            "fade": {"type": "boolean"},
            "changed_since_render": {"type": "boolean"},
            "shared": {"type": "boolean"},
            "duration_ms": _int(True),
            "fps": _str(True),
            "frame_count": _int(True),
            "mp4": _str(True),
            "poster": _str(True),
            "player_url": _str(True),
        }
    ),
    "Footage": _object(
        {
            "recordings": _array(_ref("Recording")),
            "montages": _array(_ref("Montage")),
            "may_upload": {"type": "boolean"},
            "waiting_for_consent": {
                "type": "boolean",
                "description": "A child traject: no recording before the parents' consent",
            },
            "is_coach": {"type": "boolean"},
        }
    ),
    "MontageInput": _input(
        {
            "title": _str(maxLength=200),
            "clips": _array(
                _input(
                    {
                        "recording_id": _int(),
                        "in_ms": _int(minimum=0),
                        "out_ms": _int(minimum=1),
                        "caption": _str(maxLength=300),
                    },
                    ("recording_id", "in_ms", "out_ms"),
                )
            ),
            "fade": {"type": "boolean"},
        },
        ("clips",),
    ),
    "Still": _object({"frame": _int(minimum=0), "url": _str()}),
}


def _inline_nullable_refs(node: Any) -> None:
    """OpenAPI 3.0 cannot make a `$ref` nullable (`allOf` beside `nullable` still refuses null
    in validators), so a nullable use of a named schema becomes an inline copy of it."""
    if isinstance(node, dict):
        all_of = node.get("allOf")
        if node.get("nullable") and isinstance(all_of, list) and len(all_of) == 1:
            named = copy.deepcopy(SCHEMAS[all_of[0]["$ref"].rsplit("/", 1)[1]])
            named["nullable"] = True
            if "description" in node:
                named["description"] = node["description"]
            node.clear()
            node.update(named)
        for value in node.values():
            _inline_nullable_refs(value)
    elif isinstance(node, list):
        for value in node:
            _inline_nullable_refs(value)


SCHEMAS.update(PLAYER_SCHEMAS)
SCHEMAS.update(PRIVACY_SCHEMAS)
_inline_nullable_refs(SCHEMAS)


# --- paths ------------------------------------------------------------------------------------

_ERRORS = {
    "401": "No valid launch token (the session cookie never authenticates a change)",
    "403": "Not allowed, or no such traject (the two are not told apart)",
    "404": "The traject has no such cycle, wording or action point",
    "409": "Out of order: `message` says what has to happen first",
    "422": "Invalid input: `field` names the property",
}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _param(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "integer", "minimum": 0},
    }


PARAMETERS = {
    "traject_id": _param("traject_id", "The traject's id"),
    "number": _param("number", "The cycle's number within the traject, from 1"),
    "question_id": _param("question_id", "The id of a wording of the development question"),
    "point_id": _param("point_id", "The action point's id"),
    "recording_id": _param("recording_id", "The recording's id"),
    "montage_id": _param("montage_id", "The montage's id"),
    "item_id": _param("item_id", "The recording's or montage's id"),
    "frame": _param("frame", "A frame number of the rendition, from 0"),
}


def _op(
    operation_id: str,
    summary: str,
    ok: tuple[str, str],
    *,
    body: str | None = None,
    errors: tuple[str, ...] = ("401", "403"),
    ok_description: str = "",
) -> dict[str, Any]:
    status, schema = ok
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "summary": summary,
        "responses": {
            status: {"description": ok_description or schema, "content": _json(_ref(schema))},
            **{
                code: {"description": _ERRORS[code], "content": _json(_ref("Error"))}
                for code in errors
            },
        },
    }
    if body is not None:
        operation["requestBody"] = {"required": True, "content": _json(_ref(body))}
    return operation


def _path(*params: str, **operations: dict[str, Any]) -> dict[str, Any]:
    item: dict[str, Any] = dict(operations)
    if params:
        item["parameters"] = [{"$ref": f"#/components/parameters/{p}"} for p in params]
    return item


_STEP = ("401", "403", "404", "409", "422")
_T = "/api/trajects/{traject_id}"
_C = _T + "/cycles/{number}"

PATHS: dict[str, Any] = {
    "/api/me": _path(
        get=_op(
            "getMe",
            "Who the current launch is: person, roles and course",
            ("200", "Me"),
            errors=("401",),
        ),
    ),
    "/api/openapi.json": _path(
        get={
            "operationId": "getOpenApi",
            "summary": "This document",
            "security": [],
            "responses": {
                "200": {"description": "The OpenAPI document", "content": _json({"type": "object"})}
            },
        }
    ),
    "/api/trajects": _path(
        get=_op(
            "listTrajects",
            "The viewer's trajects, newest first, with their next step",
            ("200", "TrajectList"),
            errors=("401",),
        ),
        post=_op(
            "createTraject",
            "A course coach opens a traject in the launch's course",
            ("201", "Traject"),
            body="TrajectInput",
            errors=("401", "403", "422"),
        ),
    ),
    _T: _path(
        "traject_id",
        get=_op(
            "getTraject", "Everything about a traject that the viewer may see", ("200", "Traject")
        ),
    ),
    _T + "/participants": _path(
        "traject_id",
        post=_op(
            "addParticipant",
            "The coach adds a participant",
            ("201", "Participant"),
            body="ParticipantInput",
            errors=("401", "403", "422"),
        ),
    ),
    _T + "/intake": _path(
        "traject_id",
        put=_op(
            "saveIntake",
            "Save the intake (while the traject is at its intake)",
            ("200", "Traject"),
            body="IntakeInput",
            errors=_STEP,
        ),
    ),
    _T + "/intake/complete": _path(
        "traject_id",
        post=_op(
            "completeIntake",
            "The coach finishes the intake; the cycles start",
            ("200", "Traject"),
            errors=_STEP,
        ),
    ),
    _T + "/questions": _path(
        "traject_id",
        post=_op(
            "proposeQuestion",
            "A wording of the development question (the teacher's "
            "counts at once; the coach's waits for approval)",
            ("201", "DevelopmentQuestion"),
            body="QuestionInput",
            errors=_STEP,
        ),
    ),
    _T + "/questions/{question_id}/approve": _path(
        "traject_id",
        "question_id",
        post=_op(
            "approveQuestion",
            "The teacher approves a wording",
            ("200", "DevelopmentQuestion"),
            errors=_STEP,
        ),
    ),
    _T + "/cycles": _path(
        "traject_id",
        post=_op(
            "addCycle",
            "The coach adds a cycle",
            ("201", "Traject"),
            errors=_STEP,
            ok_description="The traject with its new cycle",
        ),
    ),
    _C + "/recorded": _path(
        "traject_id",
        "number",
        post=_op(
            "markRecorded",
            "The coach: the recording is in",
            ("200", "Traject"),
            body="RecordedInput",
            errors=_STEP,
        ),
    ),
    _C + "/analysed": _path(
        "traject_id",
        "number",
        post=_op(
            "markAnalysed",
            "The coach: analysis and montage done",
            ("200", "Traject"),
            body="AnalysedInput",
            errors=_STEP,
        ),
    ),
    _C + "/share": _path(
        "traject_id",
        "number",
        post=_op(
            "shareCycle",
            "The coach shares the footage; the kijkwijzer opens",
            ("200", "Traject"),
            errors=_STEP,
        ),
    ),
    _C + "/viewing-guide": _path(
        "traject_id",
        "number",
        get=_op(
            "getViewingGuide",
            "The viewer's view of the cycle's kijkwijzer",
            ("200", "ViewingGuide"),
            errors=("401", "403", "404", "409"),
        ),
        put=_op(
            "saveViewingGuideDraft",
            "The teacher saves answers as a draft",
            ("200", "ViewingGuide"),
            body="ViewingGuideInput",
            errors=_STEP,
        ),
    ),
    _C + "/viewing-guide/submit": _path(
        "traject_id",
        "number",
        post=_op(
            "submitViewingGuide",
            "The teacher submits the kijkwijzer (every answer)",
            ("200", "ViewingGuide"),
            body="ViewingGuideInput",
            errors=_STEP,
        ),
    ),
    _C + "/conversation": _path(
        "traject_id",
        "number",
        post=_op(
            "recordConversation",
            "The coaching conversation's notes",
            ("200", "Traject"),
            body="ConversationInput",
            errors=_STEP,
        ),
    ),
    _C + "/markers": _path(
        "traject_id",
        "number",
        get=_op(
            "listMarkers",
            "The cycle's markers that the caller sees, by time code",
            ("200", "MarkerList"),
            ok_description="Before the kijkwijzer is submitted a coach sees the coaches' "
            "markers and anyone else only their own; from then on, and once the cycle is "
            "closed, everyone's.",
            errors=("401", "403", "404"),
        ),
        post=_op(
            "addMarker",
            "A moment of strength, opportunity or question",
            ("201", "Marker"),
            body="MarkerInput",
            errors=_STEP,
        ),
    ),
    _C + "/action-points": _path(
        "traject_id",
        "number",
        post=_op(
            "addActionPoint",
            "An action point agreed in the conversation",
            ("201", "ActionPoint"),
            body="ActionPointInput",
            errors=_STEP,
        ),
    ),
    _T + "/action-points/{point_id}": _path(
        "traject_id",
        "point_id",
        patch=_op(
            "setActionPointStatus",
            "Planned, tried or established",
            ("200", "ActionPoint"),
            body="ActionPointStatusInput",
            errors=_STEP,
        ),
    ),
    _C + "/close": _path(
        "traject_id",
        "number",
        post=_op(
            "closeCycle",
            "The coach closes the cycle and plans the next filming",
            ("200", "Traject"),
            body="CloseCycleInput",
            errors=_STEP,
        ),
    ),
    _T + "/close-early": _path(
        "traject_id",
        post=_op(
            "closeEarly",
            "The coach ends the cycles early, with a reason",
            ("200", "Traject"),
            body="CloseEarlyInput",
            errors=_STEP,
        ),
    ),
    _T + "/final/preparation": _path(
        "traject_id",
        get=_op(
            "getPreparation",
            "The viewer's preparation, and the other's once both are done",
            ("200", "Preparation"),
            errors=("401", "403", "409"),
        ),
        put=_op(
            "savePreparation",
            "Save the viewer's preparation (done: finished)",
            ("200", "Preparation"),
            body="PreparationInput",
            errors=_STEP,
        ),
    ),
    _T + "/final/conclusions": _path(
        "traject_id",
        post=_op(
            "concludeFinal",
            "The coach records the joint conclusions",
            ("200", "Traject"),
            body="ConclusionsInput",
            errors=_STEP,
        ),
    ),
    _T + "/viewing-guide-template": _path(
        "traject_id",
        get=_op(
            "getTrajectTemplate",
            "The kijkwijzer the traject's next cycles start from",
            ("200", "Template"),
        ),
        put=_op(
            "putTrajectTemplate",
            "The coach adapts the kijkwijzer for this traject",
            ("200", "Template"),
            body="TemplateInput",
            errors=("401", "403", "422"),
        ),
    ),
    "/api/school/viewing-guide-template": _path(
        get=_op(
            "getSchoolTemplate",
            "The school's kijkwijzer (the launch's platform)",
            ("200", "Template"),
        ),
        put=_op(
            "putSchoolTemplate",
            "A school administrator edits the school's kijkwijzer",
            ("200", "Template"),
            body="TemplateInput",
            errors=("401", "403", "422"),
        ),
    ),
    "/api/school/tags": _path(
        get=_op("getTags", "The school's marker tags (interaction principles)", ("200", "Tags")),
        put=_op(
            "putTags",
            "A school administrator replaces the active tag set",
            ("200", "Tags"),
            body="TagsInput",
            errors=("401", "403", "422"),
        ),
    ),
    "/api/course/members": _path(
        get={
            **_op(
                "listCourseMembers",
                "People of the launch's course, for a coach to choose",
                ("200", "MemberList"),
                errors=("401", "403", "422"),
            ),
            "parameters": [
                {"name": "role", "in": "query", "required": False, "schema": _enum(ROLES)},
            ],
        },
    ),
}


_NO_CONTENT = {"description": "Done (no body)"}

PATHS.update(
    {
        "/api/uploads": {
            "post": {
                "operationId": "createUpload",
                "summary": "tus 1.0 creation: a resumable upload of a recording into a cycle",
                "description": (
                    "The tus 1.0.0 protocol (https://tus.io/protocols/resumable-upload), with the "
                    "creation, termination and expiration extensions; OPTIONS lists them. "
                    "Headers: `Tus-Resumable: 1.0.0`, `Upload-Length`, and `Upload-Metadata` "
                    "with base64 values for `traject` (id), `cycle` (number), `filename` and "
                    "`filetype`. Only the traject's coach may upload, into a cycle that has not "
                    "been shared yet."
                ),
                "responses": {
                    "201": {"description": "Created: `Location` is the upload's URL"},
                    **{
                        code: {"description": _ERRORS[code], "content": _json(_ref("Error"))}
                        for code in ("401", "403", "409", "422")
                    },
                    "412": {"description": "No or an unsupported `Tus-Resumable` header"},
                    "413": {"description": "Larger than the tool accepts (8 GB by default)"},
                },
            },
        },
        "/api/uploads/{upload_id}": {
            "parameters": [{"name": "upload_id", "in": "path", "required": True, "schema": _str()}],
            "patch": {
                "operationId": "appendUpload",
                "summary": "tus 1.0: append bytes at `Upload-Offset` "
                "(`Content-Type: application/offset+octet-stream`); HEAD tells the offset",
                "responses": {
                    "204": {
                        "description": "Stored: `Upload-Offset` is the new offset; when the "
                        "upload is complete, `Beeldcoach-Recording` names the recording"
                    },
                    "404": {"description": "No such upload of this person"},
                    "409": {"description": "`Upload-Offset` is not the stored offset"},
                    "415": {"description": "Wrong content type"},
                },
            },
            "delete": {
                "operationId": "terminateUpload",
                "summary": "tus 1.0 termination: the upload and its bytes are removed",
                "responses": {"204": {"description": "Removed"}},
            },
        },
        _C + "/footage": _path(
            "traject_id",
            "number",
            get=_op(
                "getFootage",
                "The cycle's recordings and montages the viewer may see, with processing "
                "progress and signed, short-lived URLs",
                ("200", "Footage"),
            ),
        ),
        _C + "/recordings/{recording_id}/retry": _path(
            "traject_id",
            "number",
            "recording_id",
            post=_op(
                "retryRecording",
                "The coach runs failed processing again",
                ("202", "Recording"),
                errors=_STEP,
            ),
        ),
        _C + "/recordings/{recording_id}": _path(
            "traject_id",
            "number",
            "recording_id",
            delete={
                **_op(
                    "removeRecording",
                    "The coach removes a recording and all made from it",
                    ("204", "Error"),
                ),
                "responses": {"204": _NO_CONTENT},
            },
        ),
        _C + "/montages": _path(
            "traject_id",
            "number",
            post=_op(
                "createMontage",
                "The coach collects clips of the cycle's recordings into a montage",
                ("201", "Montage"),
                body="MontageInput",
                errors=_STEP,
            ),
        ),
        _C + "/montages/{montage_id}": _path(
            "traject_id",
            "number",
            "montage_id",
            put=_op(
                "updateMontage",
                "The coach changes the clips, their order, captions or fades",
                ("200", "Montage"),
                body="MontageInput",
                errors=_STEP,
            ),
            delete={
                **_op("removeMontage", "The coach removes a montage", ("204", "Error")),
                "responses": {"204": _NO_CONTENT},
            },
        ),
        _C + "/montages/{montage_id}/render": _path(
            "traject_id",
            "number",
            "montage_id",
            post=_op(
                "renderMontage",
                "Render the montage (frame-exact cuts) in the background",
                ("202", "Montage"),
                errors=_STEP,
            ),
        ),
        _C + "/{kind}/{item_id}/stills/{frame}": {
            "parameters": [
                {"$ref": f"#/components/parameters/{p}"}
                for p in ("traject_id", "number", "item_id", "frame")
            ]
            + [
                {
                    "name": "kind",
                    "in": "path",
                    "required": True,
                    "schema": _enum(("recordings", "montages")),
                }
            ],
            "get": _op(
                "getStill",
                "A frame-exact still of a rendition (made once, then cached), as a signed URL",
                ("200", "Still"),
                errors=_STEP,
            ),
        },
    }
)

PATHS.update(PLAYER_PATHS)
PATHS.update(PRIVACY_PATHS)


def spec() -> dict[str, Any]:
    return copy.deepcopy(
        {
            "openapi": "3.0.3",
            "info": {
                "title": "Beeldcoach API",
                "version": "0.2.0",
                "description": (
                    "The JSON API used by Beeldcoach's own pages. Authenticate with the launch "
                    "token the page receives after an LTI launch, as `Authorization: Bearer`. "
                    "Dates are ISO 8601 (`YYYY-MM-DD`), times UTC; ids are integers. Every call "
                    "goes through the same permission checks as the pages: an unknown traject and "
                    "someone else's answer alike with 403."
                ),
            },
            "components": {
                "securitySchemes": {"launchToken": {"type": "http", "scheme": "bearer"}},
                "schemas": SCHEMAS,
                "parameters": PARAMETERS,
            },
            "security": [{"launchToken": []}],
            "paths": PATHS,
        }
    )
