"""The OpenAPI description of the privacy endpoints (web/privacy.py, the footage download in
web/footage.py, and the teacher's removal of a kept POP contribution in web/pop.py), merged into
the document by web/openapi.py. The named schema Error of that document is referred to by name."""

from __future__ import annotations

from typing import Any

from lti_tool.privacy.access import AUDIENCES_BY_KIND, CONSENT_SCOPES, MAX_RELEASE_DAYS
from lti_tool.privacy.audit import EVENTS
from lti_tool.privacy.models import CHECKS, GIVERS

_STR = {"type": "string"}
_INT = {"type": "integer"}
_BOOL = {"type": "boolean"}
_TIME = {"type": "string", "format": "date-time"}
_AUDIENCES = tuple(sorted({a for kind in AUDIENCES_BY_KIND.values() for a in kind}))


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _n(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "nullable": True}


def _array(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items}


def _enum(values: tuple[str, ...]) -> dict[str, Any]:
    return {"type": "string", "enum": list(values)}


def _object(properties: dict[str, Any], description: str = "", required: bool = True) -> Any:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(properties)
    if description:
        schema["description"] = description
    return schema


_ERRORS = {
    "401": "No valid launch token (the session cookie never authenticates a change)",
    "403": "Not allowed, or no such item (the two are not told apart)",
    "409": "Out of order: `message` says what has to happen first",
    "422": "Invalid input: `field` names the property",
}


def _op(
    operation_id: str,
    summary: str,
    ok: tuple[str, str],
    *,
    body: str | None = None,
    errors: tuple[str, ...] = ("401", "403"),
) -> dict[str, Any]:
    status, schema = ok
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "summary": summary,
        "responses": {
            status: {
                "description": schema,
                "content": {"application/json": {"schema": _ref(schema)}},
            },
            **{
                code: {
                    "description": _ERRORS[code],
                    "content": {"application/json": {"schema": _ref("Error")}},
                }
                for code in errors
            },
        },
    }
    if body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(body)}},
        }
    return operation


def _p(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": schema or {"type": "integer", "minimum": 0},
    }


_TRAJECT = _p("traject_id", "The traject's id")
_WRITE = ("401", "403", "409", "422")

AuditEventSchema = _object(
    {
        "id": _INT,
        "at": _TIME,
        "event": _enum(EVENTS),
        "actor_id": _n(_INT),
        "launch_id": _n(_STR),
        "traject_id": _n(_INT),
        "item_kind": _n(_STR),
        "item_id": _n(_INT),
        "owner_id": _n(_INT),
        "detail": {"type": "object", "description": "Ids, counts and codes; never names"},
    },
    "One audit event: ids and metadata only.",
)

SCHEMAS: dict[str, Any] = {
    "Consent": _object(
        {
            "id": _INT,
            "given_by": _enum(GIVERS),
            "given_by_name": _STR,
            "pupil_is_16_or_older": _BOOL,
            "given_on": {"type": "string", "format": "date"},
            "scopes": _array(_enum(CONSENT_SCOPES)),
            "evidence_note": _STR,
            "has_evidence_file": _BOOL,
            "recorded_at": _TIME,
            "withdrawn_at": _n(_TIME),
        },
        "Consent for the pupil of a child traject.",
    ),
    "ConsentWithdrawn": {
        "allOf": [
            _ref("Consent"),
            _object({"lost_scopes": _array(_enum(CONSENT_SCOPES))}),
        ]
    },
    "ConsentInput": _object(
        {
            "given_by": _enum(GIVERS),
            "given_by_name": _STR,
            "pupil_is_16_or_older": _BOOL,
            "given_on": {"type": "string", "format": "date"},
            "scopes": _array(_enum(CONSENT_SCOPES)),
            "evidence_note": _STR,
        },
        "Parents give consent for a pupil under 16, the pupil from 16.",
        required=False,
    ),
    "Withdrawal": _object({"note": _STR}, required=False),
    "Release": _object(
        {
            "id": _INT,
            "item_kind": _enum(("recording", "montage")),
            "item_id": _INT,
            "audience": _enum(_AUDIENCES),
            "participant_id": _n(_INT),
            "released_at": _TIME,
            "expires_at": _TIME,
            "revoked_at": _n(_TIME),
            "active": _BOOL,
        },
        "The filmed teacher's release of one item to a named audience.",
    ),
    "ReleaseInput": _object(
        {
            "item_kind": _enum(("recording", "montage")),
            "item_id": _INT,
            "audience": _enum(_AUDIENCES),
            "participant_id": _n(_INT),
            "days": {"type": "integer", "minimum": 1, "maximum": MAX_RELEASE_DAYS},
        },
        required=False,
    ),
    "ItemPrivacyInput": _object(
        {
            "check": _enum(CHECKS),
            "note": _STR,
            "filmed_user_id": _n(_INT),
        },
        'The coach\'s check against "niet filmen" flags, and (team traject) who was filmed.',
        required=False,
    ),
    "ItemPrivacy": _object(
        {
            "kind": _enum(("recording", "montage")),
            "id": _INT,
            "filmed_user_id": _n(_INT),
            "check": _n(_enum(CHECKS)),
        }
    ),
    "AuditEvent": AuditEventSchema,
    "FootageView": {"allOf": [_ref("AuditEvent"), _object({"viewer": _STR})]},
    "TrajectPrivacy": _object(
        {
            "traject_id": _INT,
            "kind": _STR,
            "is_coach": _BOOL,
            "consent_required": _BOOL,
            "consent_scopes": _n(_array(_enum(CONSENT_SCOPES))),
            "consents": _array(_ref("Consent")),
            "objections": _array(_object({"id": _INT, "pupil_code": _STR, "flagged_at": _TIME})),
            "items": _array(
                _object(
                    {
                        "kind": _STR,
                        "id": _INT,
                        "cycle": _INT,
                        "title": _STR,
                        "owner_id": _n(_INT),
                        "check": _n(_STR),
                        "checked_at": _n(_TIME),
                        "cleared": _BOOL,
                        "may_release": _BOOL,
                    }
                )
            ),
            "releases": _array(_ref("Release")),
            "audiences": _array(
                _object(
                    {
                        "audience": _enum(_AUDIENCES),
                        "participants": _array(_object({"id": _INT, "name": _n(_STR)})),
                    }
                )
            ),
            "views_of_my_footage": _array(_ref("FootageView")),
        },
        "What the person may see and do about a traject's privacy.",
    ),
    "Objections": _object(
        {
            "objections": _array(
                _object({"id": _INT, "pupil_code": _STR, "note": _STR, "flagged_at": _TIME})
            )
        }
    ),
    "ObjectionInput": _object({"pupil_code": _STR, "note": _STR}, required=False),
    "Objection": _object({"id": _INT, "pupil_code": _STR}),
    "Lifted": _object({"id": _INT, "lifted": _BOOL}),
    "FootageViews": _object({"views": _array(_ref("FootageView"))}),
    "SharedFootage": _object(
        {
            "items": _array(
                _object(
                    {
                        "traject_id": _INT,
                        "cycle": _INT,
                        "kind": _STR,
                        "id": _INT,
                        "title": _STR,
                        "player_url": _STR,
                    }
                )
            )
        }
    ),
    "DataExport": _object(
        {
            "id": _INT,
            "status": _enum(("queued", "running", "ready", "failed")),
            "requested_at": _TIME,
            "ready_at": _n(_TIME),
            "expires_at": _n(_TIME),
            "size": _INT,
            "files": _INT,
            "download_url": _n(_STR),
        },
        "A personal-data export: JSON and the person's own footage, one zip.",
    ),
    "DataExports": _object({"exports": _array(_ref("DataExport"))}),
    "Download": _object({"url": _STR, "name": _STR}, "A short-lived signed download link."),
    "PrivacyPolicy": _object(
        {
            "raw_days_after_share": _n(_INT),
            "footage_days_after_final": _n(_INT),
            "coach_downloads": _BOOL,
        },
        "The school's retention rules (null: the rule is off) and download setting.",
    ),
    "RetentionPlan": _object(
        {
            "items": _array(
                _object(
                    {
                        "item_kind": _STR,
                        "item_id": _INT,
                        "traject_id": _n(_INT),
                        "platform_id": _n(_INT),
                        "reason": _STR,
                        "due_at": _TIME,
                        "held": _BOOL,
                        "due_now": _BOOL,
                    }
                )
            )
        },
        "The dry run: every item with a deletion date, and whether a legal hold keeps it.",
    ),
    "AuditLog": _object({"events": _array(_ref("AuditEvent"))}),
    "HoldInput": _object({"traject_id": _INT, "reason": _STR}, required=False),
    "Hold": _object({"id": _INT, "traject_id": _INT}),
    "TrajectRemoval": _object(
        {
            "traject_id": _INT,
            "ended": _BOOL,
            "held": _BOOL,
            "removable": _BOOL,
            "removes": {"type": "object", "additionalProperties": _INT},
            "keeps": {"type": "object", "additionalProperties": _INT},
            "pop": _object(
                {
                    "approved": _array(_object({"id": _INT, "version": _INT})),
                    "unapproved": _array(_INT),
                }
            ),
        },
        "What removing the traject would remove and keep, in counts; whether it can be "
        "removed now (ended, no legal hold); the teacher's POP contributions from it: approved "
        "ones can be kept, unapproved ones go.",
    ),
    "TrajectRemovalInput": _object(
        {
            "confirm": _BOOL,
            "keep_pop": {
                "type": "boolean",
                "default": True,
                "description": "Keep the approved POP contribution (its approved versions)",
            },
        },
        "confirm must be true.",
        required=False,
    ),
    "TrajectRemoved": _object(
        {
            "traject_id": _INT,
            "keep_pop": _BOOL,
            "removed": {"type": "object", "additionalProperties": _INT},
            "kept": {"type": "object", "additionalProperties": _INT},
        },
        "What the removal removed and what it kept, in counts.",
    ),
    "PopRemovalInput": _object({"confirm": _BOOL}, "confirm must be true.", required=False),
    "PopRemoved": _object(
        {
            "contribution_id": _INT,
            "removed": {"type": "object", "additionalProperties": _INT},
        },
        "What the removal removed, in counts: the contribution and its versions.",
    ),
    "ErasureInput": _object({"confirm": _BOOL}, required=False),
    "Erasure": _object(
        {
            "user_id": _INT,
            "removed": {"type": "object", "additionalProperties": _INT},
            "kept": {"type": "object", "additionalProperties": _INT},
        },
        "What the erasure removed and what it kept (other people's records), in counts.",
    ),
}

_T = "/api/trajects/{traject_id}"
_KIND = _p("kind", "recording or montage", _enum(("recording", "montage")))

PATHS: dict[str, Any] = {
    _T + "/privacy": {
        "parameters": [_TRAJECT],
        "get": _op(
            "getTrajectPrivacy",
            "Consent, releases, checks and who watched my footage, as the person may see them",
            ("200", "TrajectPrivacy"),
        ),
    },
    _T + "/consents": {
        "parameters": [_TRAJECT],
        "post": _op(
            "recordConsent",
            "Record consent for the pupil of a child traject (coach)",
            ("201", "Consent"),
            body="ConsentInput",
            errors=_WRITE,
        ),
    },
    _T + "/consents/{consent_id}/withdraw": {
        "parameters": [_TRAJECT, _p("consent_id", "The consent's id")],
        "post": _op(
            "withdrawConsent",
            "Withdraw consent: access ends at once; without filming consent the footage goes",
            ("200", "ConsentWithdrawn"),
            body="Withdrawal",
            errors=_WRITE,
        ),
    },
    _T + "/footage/{kind}/{item_id}": {
        "parameters": [_TRAJECT, _KIND, _p("item_id", "The recording's or montage's id")],
        "put": _op(
            "setItemPrivacy",
            'The coach\'s "niet filmen" check, and who was filmed (team traject)',
            ("200", "ItemPrivacy"),
            body="ItemPrivacyInput",
            errors=_WRITE,
        ),
    },
    _T + "/releases": {
        "parameters": [_TRAJECT],
        "post": _op(
            "releaseFootage",
            "The filmed teacher releases a recording or montage to a named audience",
            ("201", "Release"),
            body="ReleaseInput",
            errors=_WRITE,
        ),
    },
    _T + "/releases/{release_id}/revoke": {
        "parameters": [_TRAJECT, _p("release_id", "The release's id")],
        "post": _op("revokeRelease", "End a release at once", ("200", "Release"), errors=_WRITE),
    },
    _T + "/removal": {
        "parameters": [_TRAJECT],
        "get": _op(
            "getTrajectRemoval",
            "What removing this traject would remove and keep (its coached teacher only)",
            ("200", "TrajectRemoval"),
        ),
    },
    _T + "/remove": {
        "parameters": [_TRAJECT],
        "post": _op(
            "removeTraject",
            "The coached teacher removes an ended teacher traject about them: its texts, "
            "footage, consents and releases; the approved POP contribution stays unless "
            "keep_pop is false. Not while it runs or a legal hold applies (409); not for the "
            "coach, another teacher or an administrator (403)",
            ("200", "TrajectRemoved"),
            body="TrajectRemovalInput",
            errors=_WRITE,
        ),
    },
    "/api/pop/{contribution_id}/remove": {
        "parameters": [_p("contribution_id", "The POP contribution's id")],
        "post": _op(
            "removePopContribution",
            "The teacher removes a POP contribution they kept when they removed its traject, "
            "with all its versions. Not while it still belongs to a traject: it goes with the "
            "traject's removal (409); not for the chosen manager, the coach, another teacher or "
            "an administrator (403)",
            ("200", "PopRemoved"),
            body="PopRemovalInput",
            errors=_WRITE,
        ),
    },
    _T + "/cycles/{number}/{kind}/{item_id}/download": {
        "parameters": [
            _TRAJECT,
            _p("number", "The cycle's number"),
            _p("kind", "recordings or montages", _enum(("recordings", "montages"))),
            _p("item_id", "The recording's or montage's id"),
        ],
        "get": _op(
            "downloadFootage",
            "A download link: only when the school allows downloads, and for coaches only",
            ("200", "Download"),
            errors=("401", "403", "409"),
        ),
    },
    "/api/objections": {
        "get": _op(
            "listObjections", 'Pupils flagged "niet filmen" in the course', ("200", "Objections")
        ),
        "post": _op(
            "flagObjection",
            'Flag a pupil "niet filmen" (by code) in the course (coach)',
            ("201", "Objection"),
            body="ObjectionInput",
            errors=_WRITE,
        ),
    },
    "/api/objections/{objection_id}/lift": {
        "parameters": [_p("objection_id", "The objection's id")],
        "post": _op("liftObjection", 'Lift a "niet filmen" flag', ("200", "Lifted"), errors=_WRITE),
    },
    "/api/me/footage-views": {
        "get": _op("getMyFootageViews", "Who watched my footage", ("200", "FootageViews")),
    },
    "/api/me/shared-footage": {
        "get": _op(
            "getSharedFootage",
            "Footage released to me, and in team trajects the footage I was filmed in",
            ("200", "SharedFootage"),
        ),
    },
    "/api/me/exports": {
        "get": _op("listExports", "My personal-data exports", ("200", "DataExports")),
        "post": _op(
            "requestExport",
            "Export everything the tool holds about me (built in the background)",
            ("202", "DataExport"),
        ),
    },
    "/api/admin/privacy/policy": {
        "get": _op("getPrivacyPolicy", "The school's retention rules", ("200", "PrivacyPolicy")),
        "put": _op(
            "setPrivacyPolicy",
            "Set the school's retention rules and download setting (administrator)",
            ("200", "PrivacyPolicy"),
            body="PrivacyPolicy",
            errors=_WRITE,
        ),
    },
    "/api/admin/privacy/retention-plan": {
        "get": _op("getRetentionPlan", "What will be deleted, and when", ("200", "RetentionPlan")),
    },
    "/api/admin/privacy/audit": {
        "get": {
            **_op("getAuditLog", "The school's audit log: metadata only", ("200", "AuditLog")),
            "parameters": [
                {
                    "name": "before",
                    "in": "query",
                    "required": False,
                    "description": "Events older than this id (paging)",
                    "schema": {"type": "integer", "minimum": 0},
                }
            ],
        },
    },
    "/api/admin/privacy/holds": {
        "post": _op(
            "placeHold",
            "Place a legal hold on a traject: nothing of it is deleted",
            ("201", "Hold"),
            body="HoldInput",
            errors=_WRITE,
        ),
    },
    "/api/admin/privacy/holds/{hold_id}/lift": {
        "parameters": [_p("hold_id", "The hold's id")],
        "post": _op("liftHold", "Lift a legal hold", ("200", "Lifted"), errors=_WRITE),
    },
    "/api/admin/privacy/people/{user_id}/erase": {
        "parameters": [_p("user_id", "The person's id")],
        "post": _op(
            "erasePerson",
            "Erase a person: what must go goes, other people's records stay",
            ("200", "Erasure"),
            body="ErasureInput",
            errors=_WRITE,
        ),
    },
}
