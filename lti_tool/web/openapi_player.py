"""The OpenAPI description of the review player's endpoints (web/player_api.py), merged into the
document by web/openapi.py. Named schemas of that document (Error, ActionPoint, ViewingGuide)
are referred to by name."""

from __future__ import annotations

from typing import Any

from lti_tool.cycles.models import CYCLE_STEPS, DOMAINS, MARKER_KINDS

MODES = ("analysis", "preparation", "conversation", "review")
MEDIA_KINDS = ("recording", "montage")


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "nullable": True}


def _object(properties: dict[str, Any], description: str = "") -> dict[str, Any]:
    """A response object: every property always present, nothing undocumented."""
    schema: dict[str, Any] = {
        "type": "object",
        "required": list(properties),
        "properties": properties,
        "additionalProperties": False,
    }
    if description:
        schema["description"] = description
    return schema


_STR = {"type": "string"}
_INT = {"type": "integer"}
_BOOL = {"type": "boolean"}
_MS = {"type": "integer", "minimum": 0, "description": "Milliseconds from the start."}
_FRAME = {
    "type": "integer",
    "minimum": 0,
    "nullable": True,
    "description": "The frame at that time code, from the video's frame rate.",
}


def _array(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items}


def _enum(values: tuple[str, ...], nullable: bool = False) -> dict[str, Any]:
    if nullable:
        return {"type": "string", "nullable": True, "enum": [*values, None]}
    return {"type": "string", "enum": list(values)}


SCHEMAS: dict[str, Any] = {
    "PlayerMarker": _object(
        {
            "id": _INT,
            "cycle": _INT,
            "kind": _enum(MARKER_KINDS),
            "text": _STR,
            "teacher_words": _STR,
            "tags": _array(_STR),
            "domain": _enum(DOMAINS, nullable=True),
            "start_ms": _nullable(_MS),
            "end_ms": _nullable(_MS),
            "start_frame": _FRAME,
            "end_frame": _FRAME,
            "media_kind": _enum(MEDIA_KINDS, nullable=True),
            "media_id": _nullable(_INT),
            "author_id": _INT,
            "author_name": _STR,
            "mine": {**_BOOL, "description": "The viewer's own: they may change or remove it."},
            "created_at": {"type": "string", "format": "date-time"},
        },
        "A marker as the player shows it.",
    ),
    "PlayerMontageClip": _object(
        {
            "recording_id": _INT,
            "in_ms": _MS,
            "out_ms": _MS,
            "caption": _STR,
            "montage_start_ms": {**_MS, "description": "Where the clip starts in the montage."},
            "recording_name": _STR,
        }
    ),
    "PlayerMontage": _object(
        {
            "id": _INT,
            "title": _STR,
            "status": _STR,
            "shared": _BOOL,
            "fade": _BOOL,
            "clips": _array(_ref("PlayerMontageClip")),
            "player_url": _nullable(_STR),
        },
        "The coach's montage of the cycle, as notes (clips with captions).",
    ),
    "PlayerState": _object(
        {
            "mode": _enum(MODES),
            "modes": {
                **_array(_enum(MODES)),
                "description": "The modes open to the viewer, the default first.",
            },
            "step": _enum(CYCLE_STEPS),
            "cycle": _INT,
            "is_coach": _BOOL,
            "viewer_id": _INT,
            "may": _object(
                {
                    name: _BOOL
                    for name in (
                        "add_marker",
                        "edit_guide",
                        "conversation_notes",
                        "add_action_point",
                        "edit_montage",
                        "share",
                    )
                }
            ),
            "item": _object(
                {
                    "kind": _enum(MEDIA_KINDS),
                    "id": _INT,
                    "title": _STR,
                    "duration_ms": _nullable(_INT),
                    "fps": {**_STR, "nullable": True, "description": "As a fraction: 25/1."},
                    "frame_count": _nullable(_INT),
                }
            ),
            "markers": _array(_ref("PlayerMarker")),
            "marker_kinds": _array(_enum(MARKER_KINDS)),
            "tags": _array(_STR),
            "domains": _array(_enum(DOMAINS)),
            "guide": {
                "allOf": [_ref("ViewingGuide")],
                "nullable": True,
                "description": "The kijkwijzer beside the video (not in analysis mode).",
            },
            "conversation_notes": _nullable(_STR),
            "analysis_notes": _nullable(_STR),
            "action_points": {
                **_array(_ref("ActionPoint")),
                "description": "Together only: this cycle's and earlier cycles' action points.",
            },
            "montages": _array(_ref("PlayerMontage")),
            "recordings": {
                **_array(_object({"id": _INT, "name": _STR, "duration_ms": _nullable(_INT)})),
                "description": "For the coach's montage: the cycle's ready recordings.",
            },
        },
        "What the player shows of one recording or montage, in the viewer's mode.",
    ),
    "MarkerUpdate": {
        "type": "object",
        "description": "Only the properties given change; a marker stays on its video.",
        "properties": {
            "kind": _enum(MARKER_KINDS),
            "text": {**_STR, "maxLength": 4000},
            "teacher_words": {**_STR, "maxLength": 4000},
            "start_ms": {"type": "integer", "minimum": 0, "nullable": True},
            "end_ms": {"type": "integer", "minimum": 0, "nullable": True},
            "tags": _array(_STR),
            "domain": _enum(DOMAINS, nullable=True),
        },
    },
}

_ERRORS = {
    "401": "No valid launch token",
    "403": "Not allowed (someone else's marker, footage not visible), or no such traject",
    "404": "The traject has no such cycle or marker",
    "409": "Out of order: the cycle is closed",
    "422": "Invalid input: `field` names the property",
}


def _responses(ok: tuple[str, str | None], *errors: str) -> dict[str, Any]:
    status, schema = ok
    answer: dict[str, Any] = {"description": schema or "Done (no body)"}
    if schema is not None:
        answer["content"] = {"application/json": {"schema": _ref(schema)}}
    return {
        status: answer,
        **{
            code: {
                "description": _ERRORS[code],
                "content": {"application/json": {"schema": _ref("Error")}},
            }
            for code in errors
        },
    }


def _params(*names: str) -> list[dict[str, Any]]:
    return [{"$ref": f"#/components/parameters/{name}"} for name in names]


_MARKER_ID = {
    "name": "marker_id",
    "in": "path",
    "required": True,
    "description": "The marker's id",
    "schema": {"type": "integer", "minimum": 0},
}
_C = "/api/trajects/{traject_id}/cycles/{number}"

PATHS: dict[str, Any] = {
    _C + "/{path_kind}/{item_id}/player": {
        "parameters": [
            *_params("traject_id", "number", "item_id"),
            {
                "name": "path_kind",
                "in": "path",
                "required": True,
                "schema": _enum(("recordings", "montages")),
            },
        ],
        "get": {
            "operationId": "getPlayer",
            "summary": "What the review player shows of a recording or montage: the viewer's "
            "mode, markers, kijkwijzer, notes, action points and montage",
            "parameters": [
                {
                    "name": "mode",
                    "in": "query",
                    "required": False,
                    "description": "One of the modes open to the viewer; otherwise the default.",
                    "schema": _enum(MODES),
                }
            ],
            "responses": _responses(("200", "PlayerState"), "401", "403"),
        },
    },
    _C + "/markers/{marker_id}": {
        "parameters": [*_params("traject_id", "number"), _MARKER_ID],
        "patch": {
            "operationId": "updateMarker",
            "summary": "Change one's own marker of an open cycle",
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("MarkerUpdate")}},
            },
            "responses": _responses(("200", "PlayerMarker"), "401", "403", "404", "409", "422"),
        },
        "delete": {
            "operationId": "deleteMarker",
            "summary": "Remove one's own marker of an open cycle",
            "responses": _responses(("204", None), "401", "403", "404", "409"),
        },
    },
}
