"""The OpenAPI 3 description of the Viggle-compatible API (served at /api/openapi.json).

It is the contract scripts are held to and the gateway is tested against: every path, method,
field, status and error body the gateway answers with is here, and the answer objects allow no
field that is not listed. Paths are written as the gateway's URL conf spells them
(``/api/render/{job_id}``); a test checks that every route of the ``gateway`` namespace is
described, and a schemathesis run (tests/gateway/test_schema_contract.py) drives the live
gateway from this document and checks every answer against it.
"""

from __future__ import annotations

from typing import Any

from viggle_web.gateway import errors

# Every code an error body may carry: Viggle's documented ones, then ours.
ERROR_CODES = sorted(errors.STATUS_OF)
OUR_CODES = sorted(set(errors.STATUS_OF) - set(errors.VIGGLE_STATUS))
ID_PATTERN = "^[A-Za-z0-9_-]{1,80}$"  # the gateway's `pubid` URL converter


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


RETRY_AFTER = {"Retry-After": {"schema": {"type": "integer"}, "required": True}}
RATE_LIMITED = {
    "429": {
        **_error(
            "RATE_LIMITED: per member (token paths) or per client address (public paths); "
            "wait Retry-After seconds"
        ),
        "headers": RETRY_AFTER,
    }
}
AUTH_ERRORS = {
    "401": _error(
        "CS-UORC01-006: no token; CS-UORC01-007: the token is invalid, revoked or its member "
        "deactivated. Answered before anything else on every token path, whatever the method."
    ),
    **RATE_LIMITED,
}
IDS = {"type": "array", "minItems": 1, "maxItems": 100, "items": {"type": "string"}}
BAD_INPUT = {"400": _error("CS-UORC01-002 (failed validation) or CS-ORIV-001..012")}
OVER_BUDGET = {
    "402": _error(
        "BUDGET_EXCEEDED: the member's (or the organisation's) monthly budget in Viggle Studio "
        "is used up; nothing was sent to Viggle. CS-UORC01-008: Viggle itself refused, the "
        "organisation's Viggle account has too few credits."
    )
}
UPSTREAM = {
    "502": _error(
        "UPSTREAM_UNAVAILABLE: Viggle could not be reached or gave no usable answer (a refusal "
        "by Viggle keeps its own code and status instead)"
    )
}
NOT_FOUND = {
    "404": _error(
        "NOT_FOUND (or CS-ORIV-008/009 for characters/scenes): unknown id, "
        "or one the token's member may not see"
    )
}
TOKEN = [{"bearer": []}]
PAGE_PARAMS = [
    {
        "name": "limit",
        "in": "query",
        "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 50},
    },
    {
        "name": "offset",
        "in": "query",
        "schema": {"type": "integer", "minimum": 0, "maximum": 10_000_000, "default": 0},
    },
]


def _id_param(name: str) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "string", "pattern": ID_PATTERN},
        }
    ]


def _form(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    """A form body: multipart (files) or url-encoded (fields only), as Viggle takes them."""
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    fields = {k: v for k, v in properties.items() if v is not FILE}
    plain: dict[str, Any] = {"type": "object", "properties": fields}
    if required:
        plain["required"] = required
    return {
        "required": True,
        "content": {
            "multipart/form-data": {"schema": schema},
            "application/x-www-form-urlencoded": {"schema": plain},
        },
    }


def _obj(properties: dict[str, Any], required: list[str] | None = None, **extra: Any) -> dict:
    """An answer object: exactly these fields (``required`` defaults to all of them)."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
        "additionalProperties": False,
        **extra,
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
NULL_STAMP = {**STAMP, "nullable": True}
NULL_STR = {"type": "string", "nullable": True}
NULL_INT = {"type": "integer", "nullable": True}
NULL_NUM = {"type": "number", "nullable": True}
# Ours: a webhook for this request (notify delivers it, signed as Standard Webhooks).
WEBHOOK_FIELDS = {
    "webhook_url": {
        **URL,
        "description": "Ours: POST the result here, signed (Standard Webhooks headers "
        "webhook-id, webhook-timestamp, webhook-signature; your script secret from "
        "/notifications/webhooks/). Refused (400) for private or loopback addresses.",
    },
    "webhook_events": {
        "type": "string",
        "description": "Ours: start, progress, completed (comma-separated or repeated); "
        "all when omitted. completed covers complete, failed and cancelled.",
    },
}
MODES = ["full_pipeline", "preprocessed", "fast"]

SCHEMAS: dict[str, Any] = {
    "Error": _obj(
        {
            "detail": _obj(
                {
                    "error_code": {
                        "type": "string",
                        "enum": ERROR_CODES,
                        "description": (
                            "Viggle's documented codes keep Viggle's meaning and status (also "
                            "when Viggle itself refused the organisation's request); codes of "
                            f"our own: {', '.join(OUR_CODES)}"
                        ),
                    },
                    "message": {"type": "string"},
                    "action": {"type": "string"},
                }
            )
        },
        description="Viggle's error body (FastAPI style), for every refusal",
    ),
    "RenderCreated": _obj(
        {
            "job_id": {"type": "string"},
            "status": {"type": "string", "enum": ["queued"]},
            "mode": {
                "type": "string",
                "enum": MODES,
                "description": "what was asked for: uploads or URLs full_pipeline, ids "
                "preprocessed, fast=true fast (even when we send it to Viggle another way)",
            },
            "enqueued_at": STAMP,
            "credits_charged": {"type": "integer", "description": "credits reserved"},
            "poll_url": {"type": "string"},
            "status_url": {"type": "string"},
        }
    ),
    "BatchCreated": _obj(
        {
            "batch_id": {"type": "string"},
            "created_at": STAMP,
            "credits_charged": {
                "type": "integer",
                "description": "credits reserved for the whole batch",
            },
            "jobs": {"type": "array", "items": _ref("RenderCreated")},
        }
    ),
    "RenderStatus": _obj(
        {
            "job_id": {"type": "string"},
            "status": {
                "type": "string",
                "enum": ["queued", "processing", "complete", "failed", "cancelled"],
            },
            "mode": {"type": "string", "enum": MODES},
            "progress_pct": {"type": "integer", "minimum": 0, "maximum": 100},
            "checkpoint": {
                "type": "string",
                "nullable": True,
                "enum": ["ref_done", "dri_done", "bg_done", "render_done", None],
            },
            "cdn_url": {
                **NULL_STR,
                "description": "when complete: an absolute signed link to our copy of the MP4, "
                "valid for an hour, no auth; poll again for a fresh one",
            },
            "download_url": {**NULL_STR, "description": "same as cdn_url"},
            "mask_cdn_url": {
                **NULL_STR,
                "description": "transparent renders only (absent for the others): the mask "
                "video (white = character) once complete, null before",
            },
            "error": NULL_STR,
            "error_code": NULL_STR,
            "error_message": NULL_STR,
            "created_at": STAMP,
            "completed_at": NULL_STAMP,
            "chunks": {"type": "array", "items": {}, "maxItems": 0},
            "exports": {
                "type": "array",
                "items": _ref("Export"),
                "description": "ours, transparent renders only (absent for the others): "
                "the alpha exports asked for (POST /api/render/{job_id}/exports), each with a "
                "signed url once complete",
            },
            "progress": _obj(
                {
                    "completed_chunks": {"type": "integer"},
                    "total_chunks": {"type": "integer"},
                    "percent": {"type": "integer"},
                }
            ),
        },
        required=[
            "job_id",
            "status",
            "mode",
            "progress_pct",
            "checkpoint",
            "cdn_url",
            "download_url",
            "error",
            "error_code",
            "error_message",
            "created_at",
            "completed_at",
            "chunks",
            "progress",
        ],
    ),
    "Cancelled": _obj(
        {
            "job_id": {"type": "string"},
            "status": {"type": "string", "enum": ["cancelled"]},
            "success": {"type": "boolean"},
            "credits_refunded": {"type": "integer"},
        }
    ),
    "Export": _obj(
        {
            "format": {"type": "string", "enum": ["webm", "mov", "png"]},
            "status": {
                "type": "string",
                "enum": ["waiting", "queued", "running", "complete", "failed"],
            },
            "progress_pct": {"type": "integer", "minimum": 0, "maximum": 100},
            "url": {**NULL_STR, "description": "signed link once complete"},
            "content_type": {"type": "string"},
            "filename": {"type": "string"},
            "size_bytes": NULL_INT,
            "frames": NULL_INT,
            "duration_seconds": NULL_NUM,
            "width": NULL_INT,
            "height": NULL_INT,
            "error_message": NULL_STR,
            "created_at": STAMP,
            "completed_at": NULL_STAMP,
        }
    ),
    "Exports": _obj(
        {"job_id": {"type": "string"}, "exports": {"type": "array", "items": _ref("Export")}}
    ),
    "CharacterCreated": _obj(
        {
            "character_id": {"type": "string"},
            "job_id": {"type": "string"},
            "status": {"type": "string", "enum": ["pending"]},
            "enqueued_at": STAMP,
            "credits_charged": {
                "type": "integer",
                "description": "1, booked to the member for every preprocess as at Viggle, "
                "also when the gallery already had this image as a character (it is reused)",
            },
        }
    ),
    "SceneCreated": _obj(
        {
            "scene_id": {"type": "string"},
            "job_id": {"type": "string"},
            "status": {"type": "string", "enum": ["pending"]},
            "enqueued_at": STAMP,
        }
    ),
    "Character": _obj(
        {
            "id": {"type": "string"},
            "name": {"type": "string", "minLength": 1},
            "status": {"type": "string", "enum": ["pending", "processing", "ready", "failed"]},
            "job_id": {"type": "string"},
            "error": NULL_STR,
            "error_message": NULL_STR,
            "thumbnail_url": {**NULL_STR, "description": "signed link, valid for an hour"},
            "credits_used": {"type": "integer"},
            "created_at": STAMP,
            "completed_at": NULL_STAMP,
        }
    ),
    "Scene": _obj(
        {
            "id": {"type": "string"},
            "name": {"type": "string", "minLength": 1},
            "status": {"type": "string", "enum": ["pending", "ready", "failed"]},
            "model": {**NULL_STR, "description": "null for an imported template"},
            "background_mode": {
                "type": "string",
                "enum": ["original", "solid", "transparent"],
                "description": "as preprocessed (default original); a render from this scene "
                "without a background_mode of its own takes it",
            },
            "duration_seconds": NULL_NUM,
            "fps": NULL_NUM,
            "total_frames": NULL_INT,
            "width": NULL_INT,
            "height": NULL_INT,
            "job_id": {"type": "string"},
            "error_message": NULL_STR,
            "credits_used": {"type": "integer"},
            "created_at": STAMP,
            "completed_at": NULL_STAMP,
            "template_id": {"type": "string", "description": "imported templates only"},
            "segments": {
                "type": "array",
                "items": _ref("Segment"),
                "description": "imported templates only",
            },
        },
        required=[
            "id",
            "name",
            "status",
            "model",
            "background_mode",
            "duration_seconds",
            "fps",
            "total_frames",
            "width",
            "height",
            "job_id",
            "error_message",
            "credits_used",
            "created_at",
            "completed_at",
        ],
    ),
    "Segment": {
        "type": "object",
        "properties": {"uuid": {"type": "string"}, "type": {"type": "string"}},
        "required": ["uuid"],
    },
    "TemplateImported": _obj(
        {
            "id": {"type": "string"},
            "status": {"type": "string", "enum": ["pending", "ready", "failed"]},
            "credits_reserved": {"type": "integer"},
            "segments": {"type": "array", "items": _ref("Segment")},
        }
    ),
    "Success": _obj({"success": {"type": "boolean"}}),
    "Credits": _obj(
        {
            "balance": {
                "type": "number",
                "description": "credits the member can spend now: their own remaining monthly "
                "budget when they have a cap (no more than the organisation's remaining "
                "budget when that is capped too), else the organisation's remaining budget, "
                "else (no caps) what the organisation's Viggle account holds",
            },
            "balance_source": {
                "type": "string",
                "enum": ["member_budget", "organisation_budget", "viggle_account"],
                "description": "which of the three balance is",
            },
            "total_purchased": {**NULL_INT, "description": "the member's monthly cap"},
            "total_used": {"type": "integer", "description": "the member's use this month"},
            "monthly_cap": {**NULL_INT, "description": "the member's monthly cap"},
            "organisation_remaining": {
                **NULL_INT,
                "description": "the organisation's remaining monthly budget, when capped",
            },
            "resets_at": STAMP,
            "updated_at": STAMP,
        },
        description="GET /api/credits: what the token's member can spend",
    ),
}


def _json_body(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    """A required JSON request body: one object with these properties."""
    return {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"type": "object", "required": required, "properties": properties}
            }
        },
    }


def _list_path(summary: str, key: str, schema: str) -> dict[str, Any]:
    """GET of a paged list of the member's API objects (characters, scenes)."""
    listed = {key: {"type": "array", "items": _ref(schema)}, "total": {"type": "integer"}}
    return {
        "get": {
            "summary": summary,
            "security": TOKEN,
            "parameters": PAGE_PARAMS,
            "responses": {"200": _json(_obj(listed)), **BAD_INPUT, **AUTH_ERRORS},
        }
    }


def _preprocess_path(
    summary: str, fields: dict[str, Any], created: str, *errors: dict[str, Any]
) -> dict[str, Any]:
    """POST of a preprocess form: a name, the file or its URL (``fields``) and webhook fields."""
    form = {"name": {"type": "string", "minLength": 1}, **fields, **WEBHOOK_FIELDS}
    responses: dict[str, Any] = {"200": _json(_ref(created)), **BAD_INPUT, **AUTH_ERRORS}
    for extra in errors:
        responses.update(extra)
    return {
        "post": {
            "summary": summary,
            "security": TOKEN,
            "requestBody": _form(form, ["name"]),
            "responses": responses,
        }
    }


def _object_path(id_name: str, schema: str, summary: str, forget: str) -> dict[str, Any]:
    """GET and DELETE of one API object by its id."""
    found = {**NOT_FOUND, **AUTH_ERRORS}
    return {
        "parameters": _id_param(id_name),
        "get": {
            "summary": summary,
            "security": TOKEN,
            "responses": {"200": _json(_ref(schema)), **found},
        },
        "delete": {
            "summary": forget,
            "security": TOKEN,
            "responses": {"200": _json(_ref("Success")), **found},
        },
    }


FILES = {
    "video/mp4": {"schema": FILE},
    "video/webm": {"schema": FILE},
    "video/quicktime": {"schema": FILE},
    "application/zip": {"schema": FILE},
    "image/jpeg": {"schema": FILE},
}


def _paths() -> dict[str, Any]:
    return {
        "/api/render": {
            "post": {
                "summary": "Start a render",
                "description": (
                    "Exactly one input combination: ref_image|ref_image_url + "
                    "driving_video|driving_video_url; character_id + scene_id; or scene_id + "
                    "character_mapping (JSON mapping segment ids to character ids; `characters` "
                    "is its old name). Uploads and fetched URLs become gallery assets. The "
                    "render is booked to the token's member and refused over their budget "
                    "(402 BUDGET_EXCEEDED) before any call to Viggle. Then the gateway waits "
                    "for Viggle's answer to the create (bounded by the client timeout): a "
                    "refusal there (fast capacity 400 CS-UORC01-001, the account's credits "
                    "402 CS-UORC01-008, ...) is answered as Viggle gave it and nothing is kept "
                    "or booked. An optional Idempotency-Key header makes a retried POST return "
                    "the same job."
                ),
                "security": TOKEN,
                "parameters": [
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "schema": {"type": "string", "maxLength": 60},
                    }
                ],
                "requestBody": _form(
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
                        "characters": {
                            "type": "string",
                            "deprecated": True,
                            "description": "old name of character_mapping",
                        },
                        "model": MODEL,
                        "background_mode": BACKGROUND,
                        "bg_color": {
                            "type": "string",
                            "example": "0,255,0",
                            "description": "R,G,B (0-255), with solid only",
                        },
                        "fast": {"type": "string", "enum": ["true", "false"]},
                        **WEBHOOK_FIELDS,
                    }
                ),
                "responses": {
                    "200": _json(_ref("RenderCreated")),
                    **BAD_INPUT,
                    **AUTH_ERRORS,
                    **OVER_BUDGET,
                    **UPSTREAM,
                },
            }
        },
        "/api/batches": {
            "post": {
                "summary": "Ours: a batch, every character_ids x scene_ids pair as one render "
                "with the shared options; checked against the budgets as a whole and written "
                "all or nothing; the Idempotency-Key header finds the same batch again",
                "security": TOKEN,
                "requestBody": _json_body(
                    {
                        "character_ids": IDS,
                        "scene_ids": IDS,
                        "model": MODEL,
                        "background_mode": BACKGROUND,
                        "bg_color": {"type": "string", "example": "0,255,0"},
                        "fast": {"type": "boolean"},
                    },
                    ["character_ids", "scene_ids"],
                ),
                "responses": {
                    "200": _json(_ref("BatchCreated")),
                    **BAD_INPUT,
                    **AUTH_ERRORS,
                    **OVER_BUDGET,
                    **NOT_FOUND,
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
                    "404": _error("NOT_FOUND: unknown job"),
                    **RATE_LIMITED,
                },
            },
            "delete": {
                "summary": "Cancel a queued or running job (its member or an admin); credits "
                "are released",
                "security": TOKEN,
                "responses": {
                    "200": _json(_ref("Cancelled")),
                    "400": _error("CS-UORC01-002: the job is already final"),
                    "403": _error("FORBIDDEN: not the job's member nor an admin"),
                    **NOT_FOUND,
                    **AUTH_ERRORS,
                },
            },
        },
        "/api/render/{job_id}/exports": {
            "parameters": _id_param("job_id"),
            "get": {
                "summary": "Ours: the alpha exports of a transparent render",
                "security": TOKEN,
                "responses": {"200": _json(_ref("Exports")), **NOT_FOUND, **AUTH_ERRORS},
            },
            "post": {
                "summary": "Ours: ask for an alpha export (WebM, MOV or a PNG-sequence ZIP) of "
                "a transparent render (its member or an admin)",
                "security": TOKEN,
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["format"],
                                "properties": {
                                    "format": {"type": "string", "enum": ["webm", "mov", "png"]}
                                },
                            }
                        },
                        "application/x-www-form-urlencoded": {
                            "schema": {
                                "type": "object",
                                "required": ["format"],
                                "properties": {
                                    "format": {"type": "string", "enum": ["webm", "mov", "png"]}
                                },
                            }
                        },
                    },
                },
                "responses": {
                    "202": _json(_ref("Export"), "Accepted: the export is being made"),
                    **BAD_INPUT,
                    "403": _error("FORBIDDEN: not the job's member nor an admin"),
                    **NOT_FOUND,
                    **AUTH_ERRORS,
                },
            },
        },
        "/api/characters": _list_path(
            "The member's characters (admins: everyone's)", "characters", "Character"
        ),
        "/api/characters/preprocess": _preprocess_path(
            "Prepare a reusable character from an image (1 credit, every time)",
            {"image": FILE, "image_url": URL},
            "CharacterCreated",
            OVER_BUDGET,
        ),
        "/api/characters/{character_id}": _object_path(
            "character_id",
            "Character",
            "A character",
            "Forget a character (the gallery image stays)",
        ),
        "/api/scenes": _list_path("The member's scenes (admins: everyone's)", "scenes", "Scene"),
        "/api/scenes/preprocess": _preprocess_path(
            "Prepare a reusable scene from a driving video (free)",
            {
                "video": FILE,
                "video_url": URL,
                "background_mode": {**BACKGROUND, "default": "original"},
                "model": {**MODEL, "default": "V4_Preview"},
            },
            "SceneCreated",
        ),
        "/api/scenes/import": {
            "post": {
                "summary": "Import a viggle.ai template as a scene",
                "security": TOKEN,
                "requestBody": _json_body(
                    {
                        "template_id": {"type": "string", "format": "uuid"},
                        "name": {"type": "string", "minLength": 1},
                        "webhook_url": WEBHOOK_FIELDS["webhook_url"],
                        "webhook_events": {
                            "type": "array",
                            "items": {
                                "type": "string",
                                "enum": ["start", "progress", "completed"],
                            },
                        },
                    },
                    ["template_id", "name"],
                ),
                "responses": {
                    "200": _json(_ref("TemplateImported")),
                    **BAD_INPUT,
                    **AUTH_ERRORS,
                    **OVER_BUDGET,
                    **UPSTREAM,
                },
            }
        },
        "/api/scenes/{scene_id}": _object_path(
            "scene_id", "Scene", "A scene", "Forget a scene (the gallery video stays)"
        ),
        "/api/credits": {
            "get": {
                "summary": "What the token's member can spend (see the Credits schema)",
                "security": TOKEN,
                "responses": {"200": _json(_ref("Credits")), **AUTH_ERRORS, **UPSTREAM},
            }
        },
        "/api/files/{token}": {
            "parameters": [
                {
                    "name": "token",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "pattern": "^[A-Za-z0-9_.:-]{1,200}$"},
                }
            ],
            "get": {
                "summary": "A signed, expiring download (the link from cdn_url, mask_cdn_url, "
                "thumbnail_url or an export's url); no auth besides the signature",
                "security": [],
                "responses": {
                    "200": {"description": "The file", "content": FILES},
                    "403": _error("FORBIDDEN: the link has expired"),
                    "404": _error("NOT_FOUND: bad signature or the file is gone"),
                    **RATE_LIMITED,
                },
            },
        },
        "/api/openapi.json": {
            "get": {
                "summary": "This document",
                "security": [],
                "responses": {"200": _json({"type": "object"}), **RATE_LIMITED},
            }
        },
    }


WEBHOOK_HEADERS = [
    {
        "name": name,
        "in": "header",
        "required": True,
        "schema": {"type": "string"},
        "description": text,
    }
    for name, text in (
        ("webhook-id", "The message id: the same for every retry and redelivery (deduplicate)"),
        ("webhook-timestamp", "Seconds since the epoch of this attempt"),
        ("webhook-signature", "v1,<base64 HMAC-SHA256 of id.timestamp.body>"),
        ("viggle-event", "start, progress, completed or test"),
    )
]
# OpenAPI 3.0 has no webhooks object; x-webhooks describes what we POST to receivers.
WEBHOOKS = {
    "render": {
        "post": {
            "summary": "A render started, progressed or ended (complete, failed, cancelled)",
            "description": (
                "Sent to a request's webhook_url and to standing endpoints "
                "(/notifications/webhooks/). The body is GET /api/render/{job_id}'s JSON. "
                "Signed as Standard Webhooks (verify with the standardwebhooks library and "
                "the endpoint's or your script's secret). Answer 2xx within 5 seconds; "
                "anything else is retried with exponential backoff for 24 hours, and an "
                "endpoint failing 20 attempts in a row is disabled."
            ),
            "parameters": WEBHOOK_HEADERS,
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("RenderStatus")}},
            },
            "responses": {"200": {"description": "Received (any 2xx)"}},
        }
    },
    "character-or-scene": {
        "post": {
            "summary": "Preprocessing or a template import ended (event completed)",
            "description": "The body is GET /api/characters/{id} or /api/scenes/{id}'s JSON.",
            "parameters": WEBHOOK_HEADERS,
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"oneOf": [_ref("Character"), _ref("Scene")]}}
                },
            },
            "responses": {"200": {"description": "Received (any 2xx)"}},
        }
    },
}


def openapi_document(*, server: str) -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Viggle Studio API (Viggle-compatible)",
            "version": "1.1",
            "description": (
                "The Viggle API's paths and shapes, served by Viggle Studio with personal "
                "tokens: set BASE to this server and API_KEY to your token. Usage is booked "
                "to you and obeys your monthly budget. Every refusal has the body "
                '{"detail": {"error_code", "message", "action"}}: Viggle\'s documented codes '
                "keep Viggle's status and meaning (also when Viggle itself refused), and our "
                f"own refusals have codes of their own ({', '.join(OUR_CODES)})."
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
        "x-webhooks": WEBHOOKS,
    }
