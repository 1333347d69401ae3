"""The simulator is held to the docs: each of its answers must have the shape that
shared/docs/viggle-api.md documents (written below as JSON schemas, from the doc), so that a
drift on either side (the simulator answering what Viggle does not, or the doc changing) fails
here. Fields beyond the doc are allowed only where they are listed, with the reason, in EXTRA.
"""

from __future__ import annotations

from typing import Any

import httpx
import jsonschema_rs
import pytest

from tests.media_factory import make_mp4, make_png

pytestmark = pytest.mark.django_db(transaction=True)

STR = {"type": "string"}
NULL_STR = {"type": ["string", "null"]}
STAMP = {"type": "string", "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d"}
NULL_STAMP = {"anyOf": [STAMP, {"type": "null"}]}
NUMBER = {"type": "number"}
NULL_NUMBER = {"type": ["number", "null"]}
NULL_INT = {"type": ["integer", "null"]}
MODES = ["full_pipeline", "preprocessed", "fast"]
JOB_STATUS = ["queued", "processing", "complete", "failed", "cancelled"]
CHECKPOINTS = ["ref_done", "dri_done", "bg_done", "render_done", None]


def shape(required: dict[str, Any], optional: dict[str, Any] | None = None) -> dict[str, Any]:
    """An object with the doc's fields (all of ``required`` present) and no others."""
    properties = {**required, **(optional or {})}
    return {
        "type": "object",
        "properties": properties,
        "required": list(required),
        "additionalProperties": False,
    }


# --- the doc's shapes ----------------------------------------------------------------------------

# "Error body (FastAPI style)", the plain-string 401, and the older top-level shape.
ERROR = {
    "anyOf": [
        shape(
            {
                "detail": shape(
                    {"error_code": {"pattern": "^CS-"}, "message": STR},
                    {"action": STR},
                )
            }
        ),
        shape({"detail": STR}),
        shape({"error_code": {"pattern": "^CS-"}, "message": STR}),
    ]
}
# POST /api/render: "Some versions add poll_url / status_url".
RENDER_CREATED = shape(
    {
        "job_id": STR,
        "status": {"const": "queued"},
        "mode": {"enum": MODES},
        "enqueued_at": STAMP,
    },
    {"poll_url": STR, "status_url": STR},
)
# GET /api/render/{job_id}: mask_cdn_url "transparent only"; cdn_url "when complete".
RENDER_STATUS = shape(
    {
        "job_id": STR,
        "status": {"enum": JOB_STATUS},
        "mode": {"enum": MODES},
        "progress_pct": {"type": "integer", "minimum": 0, "maximum": 100},
        "checkpoint": {"enum": CHECKPOINTS},
        "cdn_url": NULL_STR,
        "download_url": NULL_STR,
        "error": NULL_STR,
        "error_code": NULL_STR,
        "error_message": NULL_STR,
        "created_at": STAMP,
        "completed_at": NULL_STAMP,
        "chunks": {"type": "array", "maxItems": 0},
        "progress": shape(
            {
                "completed_chunks": {"type": "integer"},
                "total_chunks": {"type": "integer"},
                "percent": NUMBER,
            }
        ),
    },
    {"mask_cdn_url": NULL_STR},
)
CHARACTER_CREATED = shape(
    {"character_id": STR, "job_id": STR, "status": {"const": "pending"}, "enqueued_at": STAMP}
)
CHARACTER = shape(
    {
        "id": STR,
        "name": STR,
        "status": {"enum": ["pending", "processing", "ready", "failed"]},
        "job_id": STR,
        "error": NULL_STR,
        "error_message": NULL_STR,
        "thumbnail_url": NULL_STR,
        "credits_used": NUMBER,
        "created_at": STAMP,
        "completed_at": NULL_STAMP,
    }
)
SCENE_CREATED = shape(
    {"scene_id": STR, "job_id": STR, "status": {"const": "pending"}, "enqueued_at": STAMP}
)
SCENE_FIELDS = {
    "id": STR,
    "name": STR,
    "status": {"enum": ["pending", "ready", "failed"]},
    "duration_seconds": NULL_NUMBER,
    "fps": NULL_NUMBER,
    "total_frames": NULL_INT,
    "width": NULL_INT,
    "height": NULL_INT,
    "job_id": STR,
    "error_message": NULL_STR,
    "credits_used": NUMBER,
    "created_at": STAMP,
    "completed_at": NULL_STAMP,
}
SEGMENT = shape({"uuid": STR, "type": STR})
# Beyond the doc's GET /api/scenes/{id} field list, named with the reason:
EXTRA_SCENE = {
    # the preprocess request's own fields, echoed: a scene is bound to its model for good
    "model": NULL_STR,
    "background_mode": NULL_STR,
    # an imported template: its id and the segments the import answered with
    "template_id": STR,
    "segments": {"type": "array", "items": SEGMENT},
}
SCENE = shape(SCENE_FIELDS, EXTRA_SCENE)
TEMPLATE_IMPORTED = shape(
    {
        "id": STR,
        "status": {"const": "pending"},
        "credits_reserved": NUMBER,
        "segments": {"type": "array", "items": SEGMENT},
    }
)
# [3rd]: {balance, total_purchased?, total_used?, updated_at?}
CREDITS = shape(
    {"balance": NUMBER},
    {"total_purchased": NUMBER, "total_used": NUMBER, "updated_at": STAMP},
)
CHARACTER_LIST = shape({"characters": {"type": "array", "items": CHARACTER}, "total": NUMBER})
SCENE_LIST = shape({"scenes": {"type": "array", "items": SCENE}, "total": NUMBER})
DELETED = shape({"success": {"const": True}})
# DELETE /api/render/{id}: "Body shapes not documented" -- any object.
CANCELLED = {"type": "object"}


def holds(schema: dict[str, Any], response: httpx.Response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    errors = [str(e) for e in jsonschema_rs.validator_for(schema).iter_errors(body)]
    assert not errors, (errors, body)
    return body


@pytest.fixture
def sim(viggle_sim):
    class Sim:
        base = viggle_sim.base_url
        auth = {"Authorization": f"Bearer {viggle_sim.key}"}
        helper = viggle_sim

        def get(self, path: str, **kw: Any) -> httpx.Response:
            return httpx.get(self.base + path, headers=self.auth, timeout=30, **kw)

        def post(self, path: str, **kw: Any) -> httpx.Response:
            return httpx.post(self.base + path, headers=self.auth, timeout=60, **kw)

        def delete(self, path: str) -> httpx.Response:
            return httpx.delete(self.base + path, headers=self.auth, timeout=30)

    return Sim()


def test_renders_answer_the_documented_shapes(sim, tmp_path):
    png = make_png(tmp_path / "hero.png")
    mp4 = make_mp4(tmp_path / "walk.mp4", seconds=1.0)
    finished = {}
    for background in ("original", "transparent"):
        with png.open("rb") as ref, mp4.open("rb") as drv:
            created = sim.post(
                "/api/render",
                files={"ref_image": ref, "driving_video": drv},
                data={"background_mode": background},
            )
        job_id = holds(RENDER_CREATED, created)["job_id"]
        holds(RENDER_STATUS, httpx.get(f"{sim.base}/api/render/{job_id}"))  # no auth
        done = sim.helper.wait_for(job_id)
        finished[background] = holds(RENDER_STATUS, httpx.get(f"{sim.base}/api/render/{job_id}"))
        assert done["status"] == "complete"
    # cdn_url when complete; mask_cdn_url for transparent renders only.
    assert finished["original"]["cdn_url"] and "mask_cdn_url" not in finished["original"]
    assert finished["transparent"]["mask_cdn_url"]
    # Failed and cancelled jobs too.
    sim.helper.set(fail_next_jobs=1)
    with png.open("rb") as ref, mp4.open("rb") as drv:
        failing = holds(
            RENDER_CREATED, sim.post("/api/render", files={"ref_image": ref, "driving_video": drv})
        )
    failed = sim.helper.wait_for(failing["job_id"])
    assert failed["status"] == "failed" and failed["error_code"] == "CS-UORC01-009"
    holds(RENDER_STATUS, httpx.get(f"{sim.base}/api/render/{failing['job_id']}"))
    sim.helper.set_speed(0.01)
    with png.open("rb") as ref, mp4.open("rb") as drv:
        slow = holds(
            RENDER_CREATED, sim.post("/api/render", files={"ref_image": ref, "driving_video": drv})
        )
    holds(CANCELLED, sim.delete(f"/api/render/{slow['job_id']}"))
    cancelled = holds(RENDER_STATUS, httpx.get(f"{sim.base}/api/render/{slow['job_id']}"))
    assert cancelled["status"] == "cancelled"


def test_characters_scenes_imports_and_credits_answer_the_documented_shapes(sim, tmp_path):
    with make_png(tmp_path / "hero.png").open("rb") as fh:
        character = holds(
            CHARACTER_CREATED,
            sim.post("/api/characters/preprocess", data={"name": "Hero"}, files={"image": fh}),
        )
    with make_mp4(tmp_path / "walk.mp4", seconds=1.0).open("rb") as fh:
        scene = holds(
            SCENE_CREATED,
            sim.post("/api/scenes/preprocess", data={"name": "Walk"}, files={"video": fh}),
        )
    holds(CHARACTER, sim.get(f"/api/characters/{character['character_id']}"))
    holds(SCENE, sim.get(f"/api/scenes/{scene['scene_id']}"))
    assert sim.helper.wait_ready("characters", character["character_id"])["status"] == "ready"
    assert sim.helper.wait_ready("scenes", scene["scene_id"])["status"] == "ready"
    holds(CHARACTER, sim.get(f"/api/characters/{character['character_id']}"))
    holds(SCENE, sim.get(f"/api/scenes/{scene['scene_id']}"))
    # A preprocessed render by the two ids.
    by_ids = holds(
        RENDER_CREATED,
        sim.post(
            "/api/render",
            data={"character_id": character["character_id"], "scene_id": scene["scene_id"]},
        ),
    )
    assert by_ids["mode"] == "preprocessed"
    imported = holds(
        TEMPLATE_IMPORTED,
        sim.post(
            "/api/scenes/import",
            json={"template_id": "5b3a9c1e-2f4d-4e6a-8b7c-9d0e1f2a3b4c", "name": "Group"},
        ),
    )
    assert imported["segments"]
    holds(SCENE, sim.get(f"/api/scenes/{imported['id']}"))
    holds(CHARACTER_LIST, sim.get("/api/characters", params={"limit": 10, "offset": 0}))
    holds(SCENE_LIST, sim.get("/api/scenes", params={"limit": 10}))
    holds(CREDITS, sim.get("/api/credits"))
    holds(DELETED, sim.delete(f"/api/characters/{character['character_id']}"))
    holds(DELETED, sim.delete(f"/api/scenes/{scene['scene_id']}"))


def test_refusals_answer_a_documented_error_shape_and_code(sim, tmp_path):
    png = make_png(tmp_path / "hero.png")
    mp4 = make_mp4(tmp_path / "walk.mp4", seconds=2.0)
    # 401: missing (plain string) and invalid key.
    holds(ERROR, httpx.post(f"{sim.base}/api/render"), 401)
    wrong = httpx.get(f"{sim.base}/api/credits", headers={"Authorization": "Bearer sk-no"})
    assert holds(ERROR, wrong, 401)["detail"]["error_code"] == "CS-UORC01-007"
    # 400s of the table.
    assert holds(ERROR, sim.post("/api/render"), 400)["detail"]["error_code"] == "CS-ORIV-001"
    bad_mode = sim.post("/api/render", data={"scene_id": "x", "character_id": "y"})
    assert holds(ERROR, bad_mode, 400)["detail"]["error_code"] == "CS-ORIV-009"
    # Fast with no capacity: 400 CS-UORC01-001; too few credits: 402 CS-UORC01-008.
    sim.helper.set_capacity(0)
    with png.open("rb") as ref, mp4.open("rb") as drv:
        fast = sim.post(
            "/api/render", files={"ref_image": ref, "driving_video": drv}, data={"fast": "true"}
        )
    assert holds(ERROR, fast, 400)["detail"]["error_code"] == "CS-UORC01-001"
    sim.helper.set_credits(1)
    with png.open("rb") as ref, mp4.open("rb") as drv:
        poor = sim.post("/api/render", files={"ref_image": ref, "driving_video": drv})
    assert holds(ERROR, poor, 402)["detail"]["error_code"] == "CS-UORC01-008"
    # The older top-level shape, with the old code names.
    sim.helper.set(error_style="legacy")
    with png.open("rb") as ref, mp4.open("rb") as drv:
        legacy = sim.post("/api/render", files={"ref_image": ref, "driving_video": drv})
    assert holds(ERROR, legacy, 402)["error_code"] == "CS-ORCR-001"
