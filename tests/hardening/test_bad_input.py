"""Bad input, property-based: every form and API endpoint gets random fields, huge values, wrong
types (lists where one value is expected, numbers out of range), unicode, path tricks and NUL
bytes. Every case must get a 4xx with a message or a normal answer (200/201/302 or a form
re-rendered with 400), never a 500; and a refused case must leave no row (Asset, RenderJob,
CreditEntry, ViggleResource, ApiToken, User) and no file under MEDIA_ROOT behind.

The test client raises a view's exception instead of answering 500, so a crash fails the example
with its traceback.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote

import pytest
from django.core.files.base import ContentFile
from django.core.signals import request_finished
from django.db import close_old_connections, transaction
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.renders.factories import asset_with_file
from viggle_web.accounts.models import User
from viggle_web.assets.models import Asset, ViggleResource
from viggle_web.gateway.models import ApiToken
from viggle_web.gateway.services import token_create
from viggle_web.renders import services as render_services
from viggle_web.renders.models import RenderJob
from viggle_web.usage.models import CreditEntry

EXAMPLES = 30
# No example database: it would leave a .hypothesis folder in the shared working tree.
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    database=None,
)

SPECIAL = [
    "", " ", "0", "-1", "1", "2147483648", "9" * 40, "1e309", "NaN", "-0", "0x1f", "１２", "²",
    "true", "on", "null", "[]", "{}", "../../etc/passwd", "..\\..\\windows\\win.ini",
    "/etc/passwd", "a\x00b", "\x00", "%00", "<script>alert(1)</script>", "' OR 1=1 --",
    "{{7*7}}", "\u202e\u200b", "😀" * 10, "x" * 5000, "9999-12-31", "0001-01-01", "2026-02-30",
    "http://127.0.0.1:9/x.mp4", "file:///etc/passwd", "http://169.254.169.254/latest/meta-data",
    "#zzzzzz", "#00ff00", "V4_Preview", "V3_Preview", "original", "solid", "transparent", "row",
    "detail", "output", "mask", "poster", "month", "day", "admin", "member", "complete",
    "2026-11-01", "00000000-0000-0000-0000-000000000000",
]  # fmt: skip
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
SCALAR = st.one_of(
    st.sampled_from(SPECIAL),
    TEXT,
    st.integers(min_value=-(2**80), max_value=2**80).map(str),
    st.dates().map(lambda d: d.isoformat()),
    st.just("y" * 100_000),
)


def value(extra: list[str] | None = None) -> st.SearchStrategy:
    """One field's value: a scalar (from the junk list, or a plausible value of this world), or
    several values for one name (a list where one is expected)."""
    scalar = st.one_of(SCALAR, st.sampled_from(extra)) if extra else SCALAR
    return st.one_of(scalar, scalar, st.lists(scalar, min_size=2, max_size=3))


@dataclass(frozen=True)
class Endpoint:
    id: str
    method: str
    path: Callable[[SimpleNamespace], str]
    fields: tuple[str, ...]
    who: str = "member"  # member | admin | anon | api
    headers: dict[str, str] = field(default_factory=dict)


def _p(path: str) -> Callable[[SimpleNamespace], str]:
    return lambda w: path.format(w=w)


ENDPOINTS = [
    Endpoint("gallery-index", "get", _p("/gallery/"),
             ("q", "kind", "uploader", "tag", "favourites", "sort", "page")),
    Endpoint("gallery-index-htmx", "get", _p("/gallery/"), ("q", "kind", "sort", "page"),
             headers={"HX-Request": "true"}),
    Endpoint("gallery-rename", "post", _p("/gallery/{w.image}/rename/"), ("name", "next")),
    Endpoint("gallery-rename-htmx", "post", _p("/gallery/{w.image}/rename/"), ("name",),
             headers={"HX-Request": "true"}),
    Endpoint("gallery-tags", "post", _p("/gallery/{w.image}/tags/"), ("tags", "next")),
    Endpoint("gallery-favourite", "post", _p("/gallery/{w.image}/favourite/"), ("next",)),
    Endpoint("gallery-preprocess", "post", _p("/gallery/{w.video}/preprocess/"), ("model",)),
    Endpoint("gallery-import", "post", _p("/gallery/import/"), ("template_id", "name")),
    Endpoint("renders-new", "post", _p("/renders/new/"),
             ("character", "motion", "model", "background_mode", "bg_color", "fast",
              "idempotency_key")),
    Endpoint("renders-new-get", "get", _p("/renders/new/"),
             ("character", "motion", "model", "background_mode", "bg_color")),
    Endpoint("renders-new-htmx", "get", _p("/renders/new/"),
             ("character", "motion", "model", "background_mode", "bg_color", "fast"),
             headers={"HX-Request": "true"}),
    Endpoint("renders-list", "get", _p("/renders/"),
             ("member", "status", "asset", "date_from", "date_to", "page")),
    Endpoint("renders-stream", "get", _p("/renders/stream/"), ("jobs", "view", "since")),
    Endpoint("renders-rerun", "post", _p("/renders/{w.job}/rerun/"), ("idempotency_key", "fast")),
    Endpoint("renders-download", "get", _p("/renders/{w.job}/download/"), ("file", "inline")),
    Endpoint("usage-report", "get", _p("/usage/"), ("start", "end", "group", "member")),
    Endpoint("usage-csv", "get", _p("/usage/usage.csv"), ("start", "end", "group", "member")),
    Endpoint("usage-report-admin", "get", _p("/usage/"), ("start", "end", "group", "member"),
             who="admin"),
    Endpoint("budget-set", "post", _p("/usage/budgets/{w.member}/"), ("monthly_cap",),
             who="admin"),
    Endpoint("budget-set-htmx", "post", _p("/usage/budgets/{w.member}/"), ("monthly_cap",),
             who="admin", headers={"HX-Request": "true"}),
    Endpoint("org-budget-set", "post", _p("/usage/budgets/organisation/"), ("monthly_cap",),
             who="admin"),
    Endpoint("budgets-page", "get", _p("/usage/budgets/"), ("q", "status", "page"), who="admin"),
    Endpoint("members-add", "post", _p("/members/add/"),
             ("username", "email", "first_name", "last_name", "role", "password"), who="admin"),
    Endpoint("members-edit", "post", _p("/members/{w.member}/edit/"), ("email", "role"),
             who="admin"),
    Endpoint("members-list", "get", _p("/members/"), ("q", "status", "page"), who="admin"),
    Endpoint("members-audit", "get", _p("/members/audit/"), ("action", "page"), who="admin"),
    Endpoint("tokens-create", "post", _p("/account/tokens/"), ("name",)),
    Endpoint("login", "post", _p("/login/"), ("username", "password", "next"), who="anon"),
    Endpoint("api-render", "post", _p("/api/render"),
             ("ref_image_url", "driving_video_url", "character_id", "scene_id",
              "character_mapping", "characters", "model", "background_mode", "bg_color", "fast"),
             who="api"),
    Endpoint("api-character-preprocess", "post", _p("/api/characters/preprocess"),
             ("name", "image_url"), who="api"),
    Endpoint("api-scene-preprocess", "post", _p("/api/scenes/preprocess"),
             ("name", "video_url", "model", "background_mode"), who="api"),
    Endpoint("api-character-list", "get", _p("/api/characters"), ("limit", "offset"), who="api"),
    Endpoint("api-scene-list", "get", _p("/api/scenes"), ("limit", "offset"), who="api"),
]  # fmt: skip


@pytest.fixture
def world(settings, media_root, admin_user, member, other_member, media_files):
    # Nothing here may reach out: no Viggle (a closed port, no retries), no private fetches.
    settings.VIGGLE_BASE_URL = "http://127.0.0.1:9"
    settings.VIGGLE_MAX_RETRIES = 0
    settings.ALLOW_PRIVATE_FETCH = False
    settings.GATEWAY_RATE_LIMIT_PER_MINUTE = 1_000_000
    image = asset_with_file(owner=member, kind="image", path=media_files.png)
    video = asset_with_file(owner=member, kind="video", path=media_files.mp4)
    job = render_services.job_submit(
        owner=member,
        idempotency_key="bad-input-0001",
        request=render_services.RenderRequest(character=image, motion=video),
    )
    job.output.save("out.mp4", ContentFile(media_files.mp4.read_bytes()))
    clients = {"anon": Client(), "member": Client(), "admin": Client(), "api": Client()}
    clients["member"].force_login(member)
    clients["admin"].force_login(admin_user)
    return SimpleNamespace(
        root=media_root,
        image=image.pk,
        video=video.pk,
        job=job.public_id,
        member=member.pk,
        plausible=[str(image.pk), str(video.pk), job.public_id, str(member.pk), "bob"],
        clients=clients,
        token=token_create(user=member, name="fuzz").raw,
    )


def snapshot(root: Path) -> tuple:
    counts = tuple(
        model.objects.count()
        for model in (Asset, RenderJob, CreditEntry, ViggleResource, ApiToken, User)
    )
    files = tuple(sorted(str(p) for p in root.rglob("*") if p.is_file()))
    return counts, files


def close(response) -> None:
    """Close a streaming answer without its signal closing the test's DB connection."""
    request_finished.disconnect(close_old_connections)
    try:
        response.close()
    finally:
        request_finished.connect(close_old_connections)


@contextmanager
def isolated():
    """Each example in a savepoint that is rolled back: one example's rows (or a database error
    it caused) do not leak into the next. Files are not rolled back, so they still count."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def check(response, before: tuple, after: tuple, what: str) -> None:
    status = response.status_code
    assert status < 500, f"{what} -> {status}"
    assert status not in (401, 403, 404, 405) or not what.startswith("login"), what
    if 400 <= status < 500:
        body = b"" if response.streaming else response.content
        assert body.strip(), f"{what} -> {status} with no message"
        assert before == after, f"{what} -> {status} but left rows/files: {before} -> {after}"


def send(world, endpoint: Endpoint, data: dict, *, path: str | None = None):
    client = world.clients[endpoint.who]
    headers = dict(endpoint.headers)
    if endpoint.who == "api":
        headers["Authorization"] = f"Bearer {world.token}"
    return getattr(client, endpoint.method)(path or endpoint.path(world), data, headers=headers)


@pytest.mark.django_db
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e.id for e in ENDPOINTS])
@FUZZ
@given(data=st.data())
def test_random_fields_get_a_4xx_or_a_normal_answer(world, endpoint: Endpoint, data) -> None:
    chosen = data.draw(
        st.fixed_dictionaries(
            {},
            optional={name: value(world.plausible) for name in endpoint.fields},
        ),
        label="fields",
    )
    extra = data.draw(st.dictionaries(TEXT, value(), max_size=2), label="extra fields")
    payload = {**extra, **chosen}
    with isolated():
        before = snapshot(world.root)
        response = send(world, endpoint, payload)
        close(response)
        after = snapshot(world.root)
    check(response, before, after, f"{endpoint.id} {payload!r:.300}")


PATH_ENDPOINTS = [
    Endpoint("api-render-detail", "get", _p("/api/render/{w.value}"), (), who="api"),
    Endpoint("api-render-delete", "delete", _p("/api/render/{w.value}"), (), who="api"),
    Endpoint("api-character", "get", _p("/api/characters/{w.value}"), (), who="api"),
    Endpoint("api-scene-delete", "delete", _p("/api/scenes/{w.value}"), (), who="api"),
    Endpoint("api-signed-file", "get", _p("/api/files/{w.value}"), (), who="api"),
    Endpoint("render-detail", "get", _p("/renders/{w.value}/"), ()),
    Endpoint("render-cancel", "post", _p("/renders/{w.value}/cancel/"), ()),
    Endpoint("set-password", "get", _p("/members/set-password/{w.value}/{w.value}/"), (),
             who="anon"),
]  # fmt: skip


@pytest.mark.django_db
@pytest.mark.parametrize("endpoint", PATH_ENDPOINTS, ids=[e.id for e in PATH_ENDPOINTS])
@FUZZ
@given(raw=SCALAR)
def test_random_ids_in_paths_are_refused_cleanly(world, endpoint: Endpoint, raw: str) -> None:
    path = endpoint.path(SimpleNamespace(value=quote(raw[:2000], safe="")))
    client = world.clients[endpoint.who]
    headers = {"Authorization": f"Bearer {world.token}"} if endpoint.who == "api" else {}
    with isolated():
        before = snapshot(world.root)
        response = getattr(client, endpoint.method)(path, headers=headers)
        close(response)
        after = snapshot(world.root)
    check(response, before, after, f"{endpoint.id} {path!r:.300}")


@pytest.mark.django_db
@FUZZ
@given(header=st.one_of(SCALAR, st.from_regex(r"bytes=-?[0-9]{0,25}-?[0-9]{0,25}", fullmatch=True)))
def test_random_range_headers_on_gallery_files(world, header: str) -> None:
    """Range requests (video seeking): a satisfiable range, the whole file, or 416 with the
    Content-Range header that says the size (the HTTP answer; no body needed)."""
    response = world.clients["member"].get(
        f"/gallery/{world.image}/file/", headers={"Range": header.replace("\x00", "")}
    )
    close(response)
    assert response.status_code in (200, 206, 416), (header, response.status_code)
    if response.status_code == 416:
        assert response["Content-Range"].startswith("bytes */")


JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), SCALAR),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(TEXT, children, max_size=3)
    ),
    max_leaves=8,
)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["/api/scenes/import", "/api/render", "/api/characters/preprocess"]
)
@FUZZ
@given(
    body=st.one_of(
        JSON.map(json.dumps),
        st.fixed_dictionaries({"template_id": SCALAR}, optional={"name": JSON}).map(json.dumps),
        st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
    ),
    content_type=st.sampled_from(
        ["application/json", "multipart/form-data", "multipart/form-data; boundary=x",
         "application/x-www-form-urlencoded", "text/plain"]
    ),
)  # fmt: skip
def test_random_bodies_to_the_api_are_refused_cleanly(world, path, body, content_type) -> None:
    with isolated():
        before = snapshot(world.root)
        response = world.clients["api"].post(
            path,
            body,
            content_type=content_type,
            headers={"Authorization": f"Bearer {world.token}"},
        )
        after = snapshot(world.root)
    check(response, before, after, f"{path} {content_type} {body!r:.300}")
    assert response.status_code >= 400 or path != "/api/render", body


@pytest.mark.django_db
@pytest.mark.parametrize("target", ["0", "foo", "gallery-index"])
def test_a_next_that_is_not_a_path_is_ignored(world, target) -> None:
    """`next` is for plain-form posts (no JavaScript); a value that is not a local path should
    fall back to the asset's page, as a foreign host already does."""
    response = world.clients["member"].post(f"/gallery/{world.image}/favourite/", {"next": target})
    assert response.status_code == 302
    assert response["Location"] == f"/gallery/{world.image}/"


@pytest.mark.django_db
def test_a_very_long_username_on_the_login_page_is_refused_with_a_message(world) -> None:
    response = world.clients["anon"].post("/login/", {"username": "u" * 300, "password": "x"})
    assert response.status_code == 200
    assert b"errorlist" in response.content or b"error" in response.content


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/characters", "/api/scenes"])
def test_a_huge_offset_is_a_validation_error(world, path) -> None:
    with isolated():
        response = world.clients["api"].get(
            path, {"offset": "9" * 30}, headers={"Authorization": f"Bearer {world.token}"}
        )
    assert response.status_code == 400


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/render/a%00b"),
        ("delete", "/api/render/a%00b"),
        ("get", "/api/characters/a%00b"),
        ("delete", "/api/characters/a%00b"),
        ("get", "/api/scenes/a%00b"),
        ("get", "/renders/a%00b/"),
        ("post", "/renders/a%00b/cancel/"),
        ("get", "/renders/a%00b/download/"),
    ],
)
def test_a_nul_byte_in_an_id_is_a_404(world, method, path) -> None:
    client = world.clients["api" if path.startswith("/api/") else "member"]
    with isolated():
        response = getattr(client, method)(path, headers={"Authorization": f"Bearer {world.token}"})
    assert response.status_code == 404
