"""The authorisation matrix: every named URL pattern x {anonymous, owner, other member, admin}
x {GET, POST} (and DELETE where the API serves it), each with the outcome class it must get.

Generated from the URL conf: a URL name that is not in EXPECTED fails the test with a message
saying so, and so does an entry in EXPECTED that no longer exists. Real objects are created so
every id resolves (an asset, a web render and an API render owned by `member`, API characters and
scenes, tokens, a set-password link), so a 404 means "refused", not "no such row".

The rules (issue #8): the gallery and renders are shared with the team for reading; changing or
deleting takes the owner or an admin; Members, budgets, the audit log and the token overview are
admin-only; each member sees only their own usage report; the /api/ gateway needs a personal
token (a session cookie is not enough); the simulator needs the Viggle key.

Each request runs in a savepoint that is rolled back, so one role's delete does not change what the
next role sees.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import SimpleNamespace

import pytest
from django.core.files.base import ContentFile
from django.core.signals import request_finished
from django.db import close_old_connections, transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from tests.renders.factories import asset_with_file
from viggle_web.accounts.services import member_set_password_path
from viggle_web.assets.resumable import resumable_create
from viggle_web.batches import services as batch_services
from viggle_web.gateway.models import ApiObject
from viggle_web.gateway.services import download_sign, token_create
from viggle_web.notify import services as notify_services
from viggle_web.renders import services as render_services
from viggle_web.renders.models import RenderJob
from viggle_web.usage.services import org_budget_set

ROLES = ("anon", "owner", "other", "admin")

# Outcome classes, one letter each, in ROLES order:
#   L  302 to the login page          U  401 (API without a valid token/key)
#   A  allowed: 200/201/204/206, or a 302 that is not to login
#   B  let in, but the (empty) input refused: 400 (a form re-rendered with its errors, or an
#      API's validation error): the request passed the access check and reached the handler
#   F  403                            N  404                         M  405
#   G  410 (a share link that is not, or no longer, valid)
ALLOWED = {200, 201, 204, 206}


def _walk(resolver: URLResolver, prefix: str = "", namespace: str = ""):
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            ns = entry.namespace or namespace
            full_ns = f"{namespace}:{entry.namespace}" if namespace and entry.namespace else ns
            yield from _walk(entry, prefix + str(entry.pattern), full_ns)
        elif isinstance(entry, URLPattern) and entry.name is not None:
            name = f"{namespace}:{entry.name}" if namespace else entry.name
            yield name, prefix + str(entry.pattern)


ROUTES = dict(sorted(_walk(get_resolver())))


@dataclass(frozen=True)
class Expect:
    get: str
    post: str
    delete: str | None = None  # only for API endpoints that serve DELETE
    values: dict[str, str] | None = None  # route parameter -> world attribute
    query: str = ""  # world attribute holding a query string, or a literal "?..."


def _e(get: str, post: str, delete: str | None = None, query: str = "", **values: str) -> Expect:
    return Expect(
        get.replace(" ", ""),
        post.replace(" ", ""),
        delete and delete.replace(" ", ""),
        values or None,
        query,
    )


ADMIN_ONLY_GET = "L F F A"
#                                    anon/owner/other/admin for GET, then POST
EXPECTED: dict[str, Expect] = {
    # core
    "home": _e("L A A A", "L M M M"),
    "healthz": _e("A A A A", "M M M M"),
    "login": _e("A A A A", "A A A A"),
    # logout is POST-only and sends everyone (back) to the login page
    "logout": _e("L M M M", "L L L L"),
    # members (admin only); the set-password link is the credential itself
    # (the list view serves POST like GET: it only reads; harmless, noted in the report)
    "members:list": _e(ADMIN_ONLY_GET, "L F F A"),
    "members:add": _e(ADMIN_ONLY_GET, "L F F A"),
    "members:audit": _e(ADMIN_ONLY_GET, "L F F M"),
    "members:edit": _e(ADMIN_ONLY_GET, "L F F A", member_id="member_id"),
    "members:set_active": _e("L F F M", "L F F A", member_id="member_id"),
    "members:password_link": _e("L F F M", "L F F A", member_id="member_id"),
    "members:set_password": _e("A A A A", "A A A A", uidb64="uidb64", token="reset_token"),
    # gallery: shared for reading and using, changing needs the uploader or an admin
    "gallery:index": _e("L A A A", "L M M M"),
    "gallery:upload": _e("L M M M", "L A A A"),
    # resumable uploads (tus): a POST without Tus-Resumable is refused; an upload is its member's
    "gallery:resumable_start": _e("L M M M", "L B B B"),
    "gallery:resumable": _e("L A N N", "L M M M", "L A N N", upload_id="upload_id"),
    "gallery:import": _e("L A A A", "L A A A"),
    "gallery:detail": _e("L A A A", "L M M M", pk="asset_id"),
    "gallery:card": _e("L A A A", "L M M M", pk="asset_id"),
    "gallery:rename": _e("L A F A", "L A F A", pk="asset_id"),
    "gallery:tags": _e("L M M M", "L A F A", pk="asset_id"),
    "gallery:favourite": _e("L M M M", "L A A A", pk="asset_id"),
    "gallery:delete": _e("L M M M", "L A F A", pk="asset_id"),
    "gallery:preprocess": _e("L M M M", "L A A A", pk="asset_id"),
    "gallery:file": _e("L A A A", "L M M M", pk="asset_id"),
    "gallery:preview": _e("L A A A", "L M M M", pk="asset_id"),
    # renders: shared for reading (and "render again" as oneself), changing needs owner/admin;
    # an empty POST to a form that anyone may send is let in and refused on its input (B)
    "renders:list": _e("L A A A", "L M M M"),
    "renders:new": _e("L A A A", "L B B B"),
    "renders:stream": _e("L A A A", "L M M M", query="stream_query"),
    "renders:detail": _e("L A A A", "L M M M", public_id="job_id"),
    "renders:cancel": _e("L M M M", "L A F A", public_id="job_id"),
    "renders:rerun": _e("L M M M", "L B B B", public_id="job_id"),
    "renders:delete_files": _e("L M M M", "L A F A", public_id="job_id"),
    "renders:download": _e("L A A A", "L M M M", public_id="job_id", query="?file=output"),
    # settling a send of unknown outcome is for admins only; their empty form is refused (400)
    "renders:resolve": _e("L M M M", "L F F B", public_id="job_id"),
    # alpha exports on the job page: asking needs the owner or an admin (an empty form comes
    # back to the page with its message); following them is for the team like the job page;
    # the world's render is opaque, so it has no export file to download (404 once let in)
    "exports:request": _e("L M M M", "L A F A", public_id="job_id"),
    "exports:stream": _e("L A A A", "L M M M", public_id="job_id", query="?since=x"),
    "exports:download": _e("L N N N", "L M M M", public_id="job_id", fmt="export_format"),
    # batches: shared for reading like renders; cancel/retry need the owner or an admin
    "batches:list": _e("L A A A", "L M M M"),
    "batches:new": _e("L A A A", "L B B B"),
    "batches:detail": _e("L A A A", "L M M M", public_id="batch_id"),
    "batches:stream": _e("L A A A", "L M M M", public_id="batch_id"),
    "batches:cancel": _e("L M M M", "L A F A", public_id="batch_id"),
    "batches:retry": _e("L M M M", "L B F B", public_id="batch_id"),
    "batches:zip": _e("L A A A", "L M M M", public_id="batch_id"),
    # the world's asset is an upload, not a render's result: nobody can approve it
    "batches:result_approve": _e("L M M M", "L F F F", pk="asset_id"),
    "batches:share_create": _e("L M M M", "L N N N", pk="asset_id"),
    "batches:shares": _e("L A A A", "L M M M"),
    "batches:share_revoke": _e("L M M M", "L N N N", pk="asset_id"),
    # public share pages: a token that is not a signed link is "no longer shared" (410)
    "batches:shared": _e("G G G G", "M M M M", token="missing"),
    "batches:shared_video": _e("G G G G", "M M M M", token="missing"),
    # collections: the team's; the world has none, so a named one is not found (404)
    "batches:collections": _e("L A A A", "L B B B"),
    "batches:collection": _e("L N N N", "L N N N", pk="asset_id"),
    "batches:collection_remove": _e("L M M M", "L N N N", pk="asset_id", asset_pk="asset_id"),
    "batches:collection_delete": _e("L M M M", "L N N N", pk="asset_id"),
    "batches:collection_share": _e("L M M M", "L N N N", pk="asset_id"),
    "batches:shared_item": _e("G G G G", "M M M M", token="missing", item="asset_id"),
    # POST /api/batches takes a token, never a session (tests/batches/test_batch_api.py)
    "api_batches": _e("U U U U", "U U U U"),
    # usage: each member sees only their own report; budgets are admin-only
    "usage:report": _e("L A F A", "L M M M", query="member_query"),
    "usage:csv": _e("L A F A", "L M M M", query="member_query"),
    "usage:budgets": _e(ADMIN_ONLY_GET, "L F F M"),
    "usage:org_budget_set": _e("L F F M", "L F F A"),
    "usage:budget_set": _e("L F F M", "L F F A", member_id="member_id"),
    # token pages (session login): own tokens for everyone, the overview for admins
    "tokens:list": _e("L A A A", "L A A A"),
    "tokens:admin": _e(ADMIN_ONLY_GET, "L M M M"),
    "tokens:revoke": _e("L M M M", "L A F A", token_id="token_id"),
    "tokens:api_help": _e("L A A A", "L M M M"),
    # the gateway: personal tokens; the roles below send their own token, anon sends none. As
    # Viggle does, a token path answers 401 to a request without a key whatever its method.
    "gateway:render_create": _e("U M M M", "U B B B"),
    "gateway:render_detail": _e("A A A A", "U M M M", "U A F A", job_id="api_job_id"),
    "gateway:character_list": _e("U A A A", "U M M M"),
    "gateway:character_preprocess": _e("U M M M", "U B B B"),
    "gateway:character_detail": _e("U A N A", "U M M M", "U A N A", character_id="character_id"),
    "gateway:scene_list": _e("U A A A", "U M M M"),
    "gateway:scene_preprocess": _e("U M M M", "U B B B"),
    "gateway:scene_import": _e("U M M M", "U B B B"),
    "gateway:scene_detail": _e("U A N A", "U M M M", "U A N A", scene_id="scene_id"),
    "gateway:credits": _e("U A A A", "U M M M"),
    # the exports of an API render: listed for every token holder (the team reads renders);
    # asking for one needs the owner's or an admin's token, and then a format (400 without)
    "gateway:render_exports": _e("U A A A", "U B F B", job_id="api_job_id"),
    "gateway:signed_download": _e("A A A A", "M M M M", token="signed_token"),
    "gateway:openapi": _e("A A A A", "M M M M"),
    # notifications and webhooks: each member their own; an endpoint and its deliveries are its
    # owner's (and admins'); another member gets 404 (no such endpoint, for them)
    "notify:settings": _e("L A A A", "L A A A"),
    "notify:notices": _e("L A A A", "L M M M"),
    "notify:webhooks": _e("L A A A", "L B B B"),
    "notify:script_rotate": _e("L M M M", "L A A A"),
    "notify:endpoint": _e("L A N A", "L M M M", endpoint_id="endpoint_id"),
    "notify:endpoint_rotate": _e("L M M M", "L A N A", endpoint_id="endpoint_id"),
    "notify:endpoint_enable": _e("L M M M", "L A N A", endpoint_id="endpoint_id"),
    "notify:endpoint_delete": _e("L M M M", "L A N A", endpoint_id="endpoint_id"),
    "notify:endpoint_test": _e("L M M M", "L A N A", endpoint_id="endpoint_id"),
    "notify:redeliver": _e("L M M M", "L A N A", delivery_id="delivery_id"),
    # (the simulator is not in the app's URL conf: it runs as its own process)
}


def test_every_url_name_has_an_expectation() -> None:
    missing = sorted(set(ROUTES) - set(EXPECTED))
    stale = sorted(set(EXPECTED) - set(ROUTES))
    assert not missing, (
        f"URL names with no authorisation expectation: {missing}. Add each to EXPECTED in "
        "tests/hardening/test_authz_matrix.py with the outcome every role must get."
    )
    assert not stale, f"EXPECTED lists names that are no longer in the URL conf: {stale}"


def _world(admin_user, member, other_member, files) -> SimpleNamespace:
    image = asset_with_file(owner=member, kind="image", path=files.png, name="Hero")
    image.preview.save("hero-preview.jpg", ContentFile(files.jpg.read_bytes()))
    video = asset_with_file(owner=member, kind="video", path=files.mp4, name="Dance")
    job = render_services.job_submit(
        owner=member,
        idempotency_key="matrix-web-0001",
        request=render_services.RenderRequest(character=image, motion=video),
    )
    job.output.save("out.mp4", ContentFile(files.mp4.read_bytes()))
    api_job = render_services.job_submit(
        owner=member,
        idempotency_key="matrix-api-0001",
        request=render_services.RenderRequest(character=image, motion=video),
        source=RenderJob.Source.API,
    )
    api_job.output.save("out.mp4", ContentFile(files.mp4.read_bytes()))
    batch = batch_services.batch_submit(
        owner=member,
        idempotency_key="matrix-batch-0001",
        characters=[image],
        motions=[video],
        options=batch_services.BatchOptions(),
    )
    character = ApiObject.objects.create(kind="character", asset=image, owner=member, name="c")
    scene = ApiObject.objects.create(
        kind="scene", asset=video, owner=member, name="s", model="V4_Preview"
    )
    # An organisation budget, set as an admin sets it: /api/credits then answers from our own
    # ledger (without one it asks Viggle, which this test does not run).
    org_budget_set(actor=admin_user, monthly_cap=100_000)
    link = member_set_password_path(user=member).rstrip("/").split("/")
    endpoint = notify_services.endpoint_create(
        actor=member, url="http://127.0.0.1:9/hook", events=["completed"], org_wide=False
    ).endpoint
    assert endpoint is not None
    delivery = notify_services.endpoint_send_test(endpoint=endpoint, actor=member)
    upload = resumable_create(user=member, length_header="1000", metadata_header="")
    tokens = {
        "owner": token_create(user=member, name="owner").raw,
        "other": token_create(user=other_member, name="other").raw,
        "admin": token_create(user=admin_user, name="admin").raw,
    }
    return SimpleNamespace(
        users={"owner": member, "other": other_member, "admin": admin_user},
        tokens=tokens,
        member_id=str(member.pk),
        endpoint_id=str(endpoint.pk),
        delivery_id=str(delivery.pk),
        upload_id=str(upload.pk),
        asset_id=str(image.pk),
        job_id=job.public_id,
        api_job_id=api_job.public_id,
        batch_id=batch.public_id,
        character_id=character.public_id,
        scene_id=scene.public_id,
        token_id=str(member.api_tokens.get().pk),
        uidb64=link[-2],
        reset_token=link[-1],
        signed_token=download_sign(kind="job", ident=api_job.public_id, which="output"),
        stream_query=f"?jobs={job.public_id}&view=row",
        member_query=f"?member={member.pk}",
        missing="does-not-exist",
        export_format="webm",
        missing_cdn="nothing/here.mp4",
    )


def _path(route: str, expect: Expect, world: SimpleNamespace) -> str:
    values = expect.values or {}

    def fill(match: re.Match) -> str:
        param = match.group(1)
        assert param in values, f"route {route!r}: no value for <{param}> in EXPECTED"
        return getattr(world, values[param])

    path = "/" + re.sub(r"<(?:\w+:)?(\w+)>", fill, route)
    query = expect.query
    if query and not query.startswith("?"):
        query = getattr(world, query)
    return path + query


def _classify(response) -> str:
    status = response.status_code
    if status == 302:
        return "L" if response["Location"].startswith("/login/") else "A"
    if status in ALLOWED:
        return "A"
    return {400: "B", 401: "U", 403: "F", 404: "N", 405: "M", 410: "G"}.get(status, str(status))


def _close(response) -> None:
    """Close a (streaming) response without its request_finished signal closing the test's
    database connection, as the test client itself does."""
    request_finished.disconnect(close_old_connections)
    try:
        response.close()
    finally:
        request_finished.connect(close_old_connections)


def _client(role: str, name: str, world: SimpleNamespace) -> tuple[Client, dict[str, str]]:
    client = Client()
    headers: dict[str, str] = {}
    if role == "anon":
        return client, headers
    if name.startswith("gateway:"):
        headers["Authorization"] = f"Bearer {world.tokens[role]}"
    else:
        client.force_login(world.users[role])
    return client, headers


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(ROUTES))
def test_authorisation_matrix(name, admin_user, member, other_member, media_files) -> None:
    if name not in EXPECTED:
        pytest.fail(
            f"{name} ({ROUTES[name]}) has no authorisation expectation: add it to EXPECTED in "
            "tests/hardening/test_authz_matrix.py"
        )
    expect = EXPECTED[name]
    world = _world(admin_user, member, other_member, media_files)
    path = _path(ROUTES[name], expect, world)
    methods = {"get": expect.get, "post": expect.post}
    if expect.delete:
        methods["delete"] = expect.delete
    wrong: list[str] = []
    for method, wanted in methods.items():
        for role, want in zip(ROLES, wanted, strict=True):
            client, headers = _client(role, name, world)
            with transaction.atomic():
                response = getattr(client, method)(path, headers=headers)
                got = _classify(response)
                _close(response)
                transaction.set_rollback(True)
            if got != want:
                wrong.append(
                    f"{method.upper()} {path} as {role}: expected {want}, got {got} "
                    f"({response.status_code} {response.get('Location', '')})"
                )
    assert not wrong, "\n".join(wrong)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name", sorted(n for n in ROUTES if n.startswith("gateway:")), ids=lambda n: n
)
def test_a_session_cookie_is_not_an_api_token(name, admin_user, member, other_member, media_files):
    """The gateway is CSRF-exempt, so a browser session must never authenticate it."""
    expect = EXPECTED[name]
    world = _world(admin_user, member, other_member, media_files)
    path = _path(ROUTES[name], expect, world)
    client = Client()
    client.force_login(admin_user)
    for method, wanted in {"get": expect.get, "post": expect.post, "delete": expect.delete}.items():
        if wanted is None:
            continue
        with transaction.atomic():
            response = getattr(client, method)(path)
            _close(response)
            transaction.set_rollback(True)
        assert _classify(response) == wanted[0], f"{method.upper()} {path} with only a session"
