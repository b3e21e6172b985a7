"""The OpenAPI 3 description of the JSON API (served at /api/openapi.json)."""

from __future__ import annotations

from typing import Any


def spec() -> dict[str, Any]:
    error = {"$ref": "#/components/schemas/Error"}
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Beeldcoach API",
            "version": "0.1.0",
            "description": (
                "The JSON API used by Beeldcoach's own pages. Authenticate with the launch "
                "token the page receives after an LTI launch, as `Authorization: Bearer`."
            ),
        },
        "components": {
            "securitySchemes": {"launchToken": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error", "message"],
                    "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
                },
                "Me": {
                    "type": "object",
                    "required": ["user", "roles", "course", "expires_at"],
                    "properties": {
                        "user": {
                            "type": "object",
                            "properties": {
                                "id": {"type": "integer"},
                                "name": {"type": "string"},
                                "email": {"type": "string", "nullable": True},
                            },
                        },
                        "roles": {
                            "type": "array",
                            "items": {"type": "string", "enum": ["admin", "coach", "teacher"]},
                        },
                        "course": {
                            "type": "object",
                            "nullable": True,
                            "properties": {
                                "id": {"type": "integer"},
                                "title": {"type": "string", "nullable": True},
                                "label": {"type": "string", "nullable": True},
                            },
                        },
                        "expires_at": {"type": "string", "format": "date-time"},
                    },
                },
            },
        },
        "security": [{"launchToken": []}],
        "paths": {
            "/api/me": {
                "get": {
                    "summary": "Who the current launch is: person, roles and course",
                    "operationId": "getMe",
                    "responses": {
                        "200": {
                            "description": "The launch's person",
                            "content": {
                                "application/json": {"schema": {"$ref": "#/components/schemas/Me"}}
                            },
                        },
                        "401": {
                            "description": "No valid launch token",
                            "content": {"application/json": {"schema": error}},
                        },
                    },
                }
            }
        },
    }
