"""The OpenAPI 3 description of the Viggle-compatible API (served at /api/openapi.json).

Paths are written as the gateway's URL conf spells them (``/api/render/{job_id}``); a test
checks that every route of the ``gateway`` namespace is described here.
"""

from __future__ import annotations

from typing import Any

from viggle_web.gateway import errors
from viggle_web.gateway.services import UNLIMITED_BALANCE

ERROR_CODES = sorted(
    {
        errors.MISSING_KEY,
        errors.BAD_KEY,
        errors.NO_CREDITS,
        errors.FAST_FULL,
        errors.VALIDATION,
        errors.NEED_IMAGE,
        errors.NEED_VIDEO,
        errors.VIDEO_FORMAT,
        errors.VIDEO_TOO_LONG,
        errors.FILE_TOO_LARGE,
        errors.TOO_MANY_PIXELS,
        errors.VIDEO_UNREADABLE,
        errors.NO_CHARACTER,
        errors.NO_SCENE,
        errors.SCENE_NOT_READY,
        errors.BAD_BACKGROUND,
        errors.BAD_MAPPING,
        errors.NOT_FOUND,
        errors.FORBIDDEN,
        errors.RATE_LIMITED,
        errors.METHOD_NOT_ALLOWED,
        errors.UPSTREAM,
    }
)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


AUTH_ERRORS = {
    "401": _error(
        "Token missing (CS-UORC01-006) or invalid, revoked, member deactivated (CS-UORC01-007)"
    ),
    "429": {
        **_error("Rate limited (per token); see Retry-After"),
        "headers": {"Retry-After": {"schema": {"type": "integer"}}},
    },
}
BAD_INPUT = {"400": _error("Validation failed: CS-UORC01-002 or CS-ORIV-001..012")}
OVER_BUDGET = {
    "402": _error(
        "The member's (or organisation's) monthly budget is used up "
        "(CS-UORC01-008); nothing was sent to Viggle"
    )
}
NOT_FOUND = {"404": _error("Unknown id, or one the token's member may not see")}
TOKEN = [{"bearer": []}]
PAGE_PARAMS = [
    {
        "name": "limit",
        "in": "query",
        "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 50},
    },
    {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0, "default": 0}},
]


def _id_param(name: str) -> list[dict[str, Any]]:
    return [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}]


def _multipart(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return {
        "required": True,
        "content": {
            "multipart/form-data": {"schema": schema},
            "application/x-www-form-urlencoded": {"schema": schema},
        },
    }


FILE = {"type": "string", "format": "binary"}
URL = {"type": "string", "format": "uri"}
MODEL = {"type": "string", "enum": ["V4_Preview", "V3_Preview"]}
BACKGROUND = {
    "type": "string",
    "enum": ["original", "solid", "transparent", "inpaint"],
    "description": "inpaint is an alias of original",
}
STAMP = {"type": "string", "format": "date-time"}
NULL_STR = {"type": "string", "nullable": True}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "properties": {
            "detail": {
                "type": "object",
                "properties": {
                    "error_code": {"type": "string", "enum": ERROR_CODES},
                    "message": {"type": "string"},
                    "action": {"type": "string"},
                },
                "required": ["error_code", "message", "action"],
            }
        },
    },
    "RenderCreated": {
        "type": "object",
        "properties": {
            "job_id": {"type": "string"},
            "status": {"type": "string", "enum": ["queued"]},
            "mode": {"type": "string", "enum": ["full_pipeline", "preprocessed", "fast"]},
            "enqueued_at": STAMP,
            "credits_charged": {"type": "integer", "description": "credits reserved (estimate)"},
            "poll_url": {"type": "string"},
            "status_url": {"type": "string"},
        },
    },
    "RenderStatus": {
        "type": "object",
        "properties": {
            "job_id": {"type": "string"},
            "status": {
                "type": "string",
                "enum": ["queued", "processing", "complete", "failed", "cancelled"],
            },
            "mode": {"type": "string"},
            "progress_pct": {"type": "integer", "minimum": 0, "maximum": 100},
            "checkpoint": {
                "type": "string",
                "nullable": True,
                "enum": ["ref_done", "dri_done", "bg_done", "render_done", None],
            },
            "cdn_url": {
                **NULL_STR,
                "description": "absolute signed link to the kept MP4, "
                "valid for an hour, no auth; poll again for a fresh one",
            },
            "download_url": {**NULL_STR, "description": "same as cdn_url"},
            "mask_cdn_url": {**NULL_STR, "description": "transparent renders only"},
            "error": NULL_STR,
            "error_code": NULL_STR,
            "error_message": NULL_STR,
            "created_at": STAMP,
            "completed_at": {**STAMP, "nullable": True},
            "chunks": {"type": "array", "items": {}, "maxItems": 0},
            "progress": {
                "type": "object",
                "properties": {
                    "completed_chunks": {"type": "integer"},
                    "total_chunks": {"type": "integer"},
                    "percent": {"type": "integer"},
                },
            },
        },
    },
    "Created": {
        "type": "object",
        "properties": {
            "character_id": {"type": "string", "description": "characters only"},
            "scene_id": {"type": "string", "description": "scenes only"},
            "job_id": {"type": "string"},
            "status": {"type": "string", "enum": ["pending"]},
            "enqueued_at": STAMP,
        },
    },
    "Character": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "status": {"type": "string", "enum": ["pending", "processing", "ready", "failed"]},
            "job_id": {"type": "string"},
            "error": NULL_STR,
            "error_message": NULL_STR,
            "thumbnail_url": {**NULL_STR, "description": "signed link, valid for an hour"},
            "credits_used": {"type": "integer"},
            "created_at": STAMP,
            "completed_at": {**STAMP, "nullable": True},
        },
    },
    "Scene": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "status": {"type": "string", "enum": ["pending", "ready", "failed"]},
            "model": {**NULL_STR, "description": "null for an imported template"},
            "duration_seconds": {"type": "number", "nullable": True},
            "fps": {"type": "number", "nullable": True},
            "total_frames": {"type": "integer", "nullable": True},
            "width": {"type": "integer", "nullable": True},
            "height": {"type": "integer", "nullable": True},
            "job_id": {"type": "string"},
            "error_message": NULL_STR,
            "credits_used": {"type": "integer"},
            "created_at": STAMP,
            "completed_at": {**STAMP, "nullable": True},
            "segments": {
                "type": "array",
                "items": _ref("Segment"),
                "description": "imported templates only",
            },
        },
    },
    "Segment": {
        "type": "object",
        "properties": {"uuid": {"type": "string"}, "type": {"type": "string"}},
    },
    "Success": {"type": "object", "properties": {"success": {"type": "boolean"}}},
    "Credits": {
        "type": "object",
        "description": (
            "The token's member's budget for this month. balance: credits they may still spend "
            "(the smaller of their own and the organisation's remaining budget); when neither "
            f"is capped, balance is {UNLIMITED_BALANCE} and unlimited is true. total_used: "
            "credits they used this month. total_purchased and monthly_cap: their own monthly "
            "cap (null when uncapped)."
        ),
        "properties": {
            "balance": {"type": "integer"},
            "unlimited": {"type": "boolean"},
            "total_purchased": {"type": "integer", "nullable": True},
            "total_used": {"type": "integer"},
            "monthly_cap": {"type": "integer", "nullable": True},
            "organisation_remaining": {"type": "integer", "nullable": True},
            "resets_at": STAMP,
            "updated_at": STAMP,
        },
    },
}


def _paths() -> dict[str, Any]:
    return {
        "/api/render": {
            "post": {
                "summary": "Start a render",
                "description": (
                    "Exactly one input combination: ref_image|ref_image_url + "
                    "driving_video|driving_video_url; character_id + scene_id; or scene_id + "
                    "character_mapping (JSON mapping segment ids to character ids). Uploads "
                    "and fetched URLs become gallery assets. The render is booked to the "
                    "token's member and refused over their budget (402) before any call to "
                    "Viggle. An optional Idempotency-Key header makes a retried POST return "
                    "the same job."
                ),
                "security": TOKEN,
                "requestBody": _multipart(
                    {
                        "ref_image": FILE,
                        "ref_image_url": URL,
                        "driving_video": FILE,
                        "driving_video_url": URL,
                        "character_id": {"type": "string"},
                        "scene_id": {"type": "string"},
                        "character_mapping": {
                            "type": "string",
                            "description": "JSON object as a string",
                        },
                        "model": MODEL,
                        "background_mode": BACKGROUND,
                        "bg_color": {
                            "type": "string",
                            "example": "0,255,0",
                            "description": "R,G,B (0-255), with solid only",
                        },
                        "fast": {"type": "string", "enum": ["true", "false"]},
                    }
                ),
                "responses": {
                    "200": _json(_ref("RenderCreated")),
                    **BAD_INPUT,
                    **AUTH_ERRORS,
                    **OVER_BUDGET,
                },
            }
        },
        "/api/render/{job_id}": {
            "parameters": _id_param("job_id"),
            "get": {
                "summary": "Job status (no auth: the id is unguessable)",
                "security": [],
                "responses": {
                    "200": _json(_ref("RenderStatus")),
                    "404": _error("Unknown job"),
                    "429": _error("Rate limited per client address"),
                },
            },
            "delete": {
                "summary": "Cancel a queued or running job (its member or an admin); credits "
                "are released",
                "security": TOKEN,
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {
                                "job_id": {"type": "string"},
                                "status": {"type": "string"},
                                "success": {"type": "boolean"},
                                "credits_refunded": {"type": "integer"},
                            },
                        }
                    ),
                    "400": _error("The job is already final (CS-UORC01-002)"),
                    "403": _error("Not the job's member nor an admin"),
                    **NOT_FOUND,
                    **AUTH_ERRORS,
                },
            },
        },
        "/api/characters": {
            "get": {
                "summary": "The member's characters (admins: everyone's)",
                "security": TOKEN,
                "parameters": PAGE_PARAMS,
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {
                                "characters": {"type": "array", "items": _ref("Character")},
                                "total": {"type": "integer"},
                            },
                        }
                    ),
                    **BAD_INPUT,
                    **AUTH_ERRORS,
                },
            }
        },
        "/api/characters/preprocess": {
            "post": {
                "summary": "Prepare a reusable character from an image (1 credit)",
                "security": TOKEN,
                "requestBody": _multipart(
                    {"name": {"type": "string"}, "image": FILE, "image_url": URL}, ["name"]
                ),
                "responses": {
                    "200": _json(_ref("Created")),
                    **BAD_INPUT,
                    **AUTH_ERRORS,
                    **OVER_BUDGET,
                },
            }
        },
        "/api/characters/{character_id}": {
            "parameters": _id_param("character_id"),
            "get": {
                "summary": "A character",
                "security": TOKEN,
                "responses": {"200": _json(_ref("Character")), **NOT_FOUND, **AUTH_ERRORS},
            },
            "delete": {
                "summary": "Forget a character (the gallery image stays)",
                "security": TOKEN,
                "responses": {"200": _json(_ref("Success")), **NOT_FOUND, **AUTH_ERRORS},
            },
        },
        "/api/scenes": {
            "get": {
                "summary": "The member's scenes (admins: everyone's)",
                "security": TOKEN,
                "parameters": PAGE_PARAMS,
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {
                                "scenes": {"type": "array", "items": _ref("Scene")},
                                "total": {"type": "integer"},
                            },
                        }
                    ),
                    **BAD_INPUT,
                    **AUTH_ERRORS,
                },
            }
        },
        "/api/scenes/preprocess": {
            "post": {
                "summary": "Prepare a reusable scene from a driving video (free)",
                "security": TOKEN,
                "requestBody": _multipart(
                    {
                        "name": {"type": "string"},
                        "video": FILE,
                        "video_url": URL,
                        "background_mode": BACKGROUND,
                        "model": MODEL,
                    },
                    ["name"],
                ),
                "responses": {"200": _json(_ref("Created")), **BAD_INPUT, **AUTH_ERRORS},
            }
        },
        "/api/scenes/import": {
            "post": {
                "summary": "Import a viggle.ai template as a scene",
                "security": TOKEN,
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["template_id", "name"],
                                "properties": {
                                    "template_id": {"type": "string", "format": "uuid"},
                                    "name": {"type": "string"},
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {
                                "id": {"type": "string"},
                                "status": {"type": "string"},
                                "credits_reserved": {"type": "integer"},
                                "segments": {"type": "array", "items": _ref("Segment")},
                            },
                        }
                    ),
                    **BAD_INPUT,
                    **AUTH_ERRORS,
                    "502": _error("Viggle could not be reached or refused the organisation's key"),
                },
            }
        },
        "/api/scenes/{scene_id}": {
            "parameters": _id_param("scene_id"),
            "get": {
                "summary": "A scene",
                "security": TOKEN,
                "responses": {"200": _json(_ref("Scene")), **NOT_FOUND, **AUTH_ERRORS},
            },
            "delete": {
                "summary": "Forget a scene (the gallery video stays)",
                "security": TOKEN,
                "responses": {"200": _json(_ref("Success")), **NOT_FOUND, **AUTH_ERRORS},
            },
        },
        "/api/credits": {
            "get": {
                "summary": "The token's member's remaining budget this month",
                "security": TOKEN,
                "responses": {"200": _json(_ref("Credits")), **AUTH_ERRORS},
            }
        },
        "/api/files/{token}": {
            "parameters": _id_param("token"),
            "get": {
                "summary": "A signed, expiring download (the link from cdn_url, mask_cdn_url "
                "or thumbnail_url); no auth besides the signature",
                "security": [],
                "responses": {
                    "200": {
                        "description": "The file",
                        "content": {"video/mp4": {"schema": FILE}, "image/jpeg": {"schema": FILE}},
                    },
                    "403": _error("The link has expired"),
                    "404": _error("Bad signature or the file is gone"),
                },
            },
        },
        "/api/openapi.json": {
            "get": {
                "summary": "This document",
                "security": [],
                "responses": {"200": _json({"type": "object"})},
            }
        },
    }


def openapi_document(*, server: str) -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Viggle Studio API (Viggle-compatible)",
            "version": "1.0",
            "description": (
                "The Viggle API's paths and shapes, served by Viggle Studio with personal "
                "tokens: set BASE to this server and API_KEY to your token. Usage is booked "
                "to you and obeys your monthly budget. Errors have the body "
                '{"detail": {"error_code", "message", "action"}}.'
            ),
        },
        "servers": [{"url": server}],
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A personal token (vs_...) from /account/tokens/",
                }
            },
            "schemas": SCHEMAS,
        },
        "security": TOKEN,
        "paths": _paths(),
    }
