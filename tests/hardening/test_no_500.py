"""No 500s, property-based, over the whole URL conf (issue 14, point 7): every page, list page,
form and API endpoint is found by walking the URL conf (a new one is covered without editing
this file), and hypothesis throws arbitrary query strings at it (GET) and arbitrary form values
(POST), as an admin, a member and a token's script. Any answer but a 5xx passes; Django's test
client raises a view's exception, so a crash fails with its traceback.

Also the two 500s found by hand: a usage report for the year 9999 (a form error) and a huge
Range header (416; the Range paths are in test_file_serving.py).
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

import pytest
from django import forms
from django.core.signals import request_finished
from django.db import close_old_connections, transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import viggle_web
from tests.renders.factories import asset_with_file
from viggle_web.gateway.services import download_sign, token_create
from viggle_web.notify import services as notify_services
from viggle_web.renders import services as render_services

pytestmark = pytest.mark.django_db

EXAMPLES = 3
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
# Long-lived by design (an event stream that stays open): fuzzed in test_bad_input.py with its
# own stop condition.
NOT_HERE = {"renders:stream", "exports:stream"}

JUNK = [
    "", " ", "0", "-1", "1", "2", "2147483648", "9" * 40, "1e309", "NaN", "true", "on", "null",
    "[]", "{}", "../../etc/passwd", "/etc/passwd", "a\x00b", "%00", "<script>x</script>",
    "' OR 1=1 --", "{{7*7}}", "\u202e", "😀", "x" * 3000, "9999-12-31", "0001-01-01",
    "2026-02-30", "2026-11-01", "http://127.0.0.1:9/x.mp4", "file:///etc/passwd", "#00ff00",
    "#zzzzzz", "V4_Preview", "original", "transparent", "month", "day", "admin", "member",
    "complete", "failed", "output", "poster", "mask", "newest", "//evil.example/", "2026-W01",
]  # fmt: skip


def _field_names() -> list[str]:
    """Every field name of every form in the app, plus the query names views read directly."""
    for module in pkgutil.walk_packages(viggle_web.__path__, "viggle_web."):
        if module.name.startswith("viggle_web.simulator."):
            continue  # its own process, not installed in the app (tests/simulator covers it)
        if module.name.rsplit(".", 1)[-1] in ("forms", "views", "account_views"):
            importlib.import_module(module.name)
    names: set[str] = {"page", "rows", "next", "q", "limit", "offset", "file", "inline", "view"}
    pending = list(forms.Form.__subclasses__()) + list(forms.ModelForm.__subclasses__())
    while pending:
        form = pending.pop()
        pending.extend(form.__subclasses__())
        names.update(getattr(form, "base_fields", {}).keys())
    return sorted(names)


FIELDS = _field_names()
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
SCALAR = st.one_of(
    st.sampled_from(JUNK),
    TEXT,
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.dates().map(lambda d: d.isoformat()),
)
VALUES = st.dictionaries(
    st.one_of(st.sampled_from(FIELDS), st.sampled_from(FIELDS), TEXT),
    st.one_of(SCALAR, SCALAR, st.lists(SCALAR, min_size=2, max_size=3)),
    max_size=6,
)


def _patterns(resolver: URLResolver | None = None, namespace: str = "") -> list[URLPattern]:
    found: list[tuple[str, URLPattern]] = []
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            found.extend(_patterns(entry, inner))
        elif entry.name:
            found.append((f"{namespace}{entry.name}", entry))
    return found


NAMES = sorted(name for name, _ in _patterns() if name not in NOT_HERE)


def _sole(values: dict[str, Any]) -> dict[str, Any]:
    return {k.replace("\x00", ""): v for k, v in values.items()}


@pytest.fixture
def world(settings, media_root, admin_user, member, media_files):
    # Nothing here may reach out: no Viggle (a closed port, no retries), no private fetches.
    settings.VIGGLE_BASE_URL = "http://127.0.0.1:9"
    settings.VIGGLE_MAX_RETRIES = 0
    settings.ALLOW_PRIVATE_FETCH = False
    settings.GATEWAY_RATE_LIMIT_PER_MINUTE = 1_000_000
    settings.GATEWAY_PUBLIC_RATE_LIMIT_PER_MINUTE = 1_000_000
    image = asset_with_file(owner=member, kind="image", path=media_files.png)
    video = asset_with_file(owner=member, kind="video", path=media_files.mp4)
    job = render_services.job_submit(
        owner=member,
        idempotency_key="no-500-0001",
        request=render_services.RenderRequest(character=image, motion=video),
    )
    token = token_create(user=member, name="fuzz")
    settings.ALLOW_PRIVATE_FETCH = True  # only to add the endpoint; no delivery is made here
    endpoint = notify_services.endpoint_create(
        actor=member, url="http://127.0.0.1:9/hook", events=["completed"], org_wide=False
    ).endpoint
    assert endpoint is not None
    delivery = notify_services.endpoint_send_test(endpoint=endpoint, actor=member)
    settings.ALLOW_PRIVATE_FETCH = False
    kwargs = {
        "pk": image.pk,
        "asset_pk": image.pk,  # batches: an asset of a collection
        "item": 0,  # batches: the first video of a share link
        "member_id": member.pk,
        "token_id": token.token.pk,
        "public_id": job.public_id,
        "job_id": job.public_id,
        "character_id": "c_missing",
        "scene_id": "s_missing",
        "token": download_sign(kind="job", ident=job.public_id, which="output"),
        "uidb64": "MQ",
        "name": "missing.mp4",
        "fmt": "webm",
        "endpoint_id": endpoint.pk,
        "delivery_id": delivery.pk,
        "upload_id": "00000000-0000-4000-8000-000000000000",  # a resumable upload nobody started
    }
    return {"kwargs": kwargs, "token": token.raw, "admin": admin_user, "member": member}


def _path(world: dict, name: str) -> str:
    pattern = dict(_patterns())[name]
    wanted = list(pattern.pattern.converters) or [
        part.strip("<>").split(":")[-1]
        for part in str(pattern.pattern).split("/")
        if part.startswith("<")
    ]
    return reverse(name, kwargs={key: world["kwargs"][key] for key in wanted})


def _client(world: dict, who: str) -> tuple[Client, dict[str, str]]:
    client = Client(raise_request_exception=True)
    if who == "api":
        return client, {"Authorization": f"Bearer {world['token']}"}
    client.force_login(world[who])
    return client, {}


def _no_500(response) -> bool:
    """Below 500, or the API's own 502 for "Viggle is unreachable" (Viggle is a closed port
    here), which is an answer, not a crash."""
    if response.status_code < 500:
        return True
    return response.status_code == 502 and b"UPSTREAM_UNAVAILABLE" in response.content


def _closed(response) -> int:
    _close(response)
    return response.status_code


def _close(response) -> None:
    """Close a streamed answer without its signal closing the test's database connection."""
    request_finished.disconnect(close_old_connections)
    try:
        response.close()
    finally:
        request_finished.connect(close_old_connections)


def _fuzz(world: dict, who: str, name: str, path: str) -> None:
    @FUZZ
    @given(query=VALUES, form=VALUES, htmx=st.booleans())
    def fuzz(query: dict, form: dict, htmx: bool) -> None:
        # Each example in a savepoint rolled back after: an admin's random POST (deactivate,
        # delete) does not change what the next example finds.
        with transaction.atomic():
            client, headers = _client(world, who)
            if htmx:
                headers = {**headers, "HX-Request": "true"}
            got = client.get(path, _sole(query), headers=headers)
            _close(got)
            assert _no_500(got), (name, "GET", query)
            posted = client.post(path, _sole(form), headers=headers)
            _close(posted)
            assert _no_500(posted), (name, "POST", form)
            transaction.set_rollback(True)

    fuzz()


@pytest.mark.timeout(120)
@pytest.mark.parametrize("who", ["admin", "member", "api"])
def test_no_page_form_or_endpoint_answers_500(world, who) -> None:
    paths = {name: _path(world, name) for name in NAMES}
    assert len(paths) > 40  # the walk found the URL conf
    if who == "api":  # a token opens the API only; the pages are the other runs'
        paths = {name: path for name, path in paths.items() if path.startswith("/api/")}
    elif who == "member":  # admin-only pages refuse a member at the door (the admin run has them)
        probe, _ = _client(world, "member")
        paths = {
            name: path
            for name, path in paths.items()
            if not path.startswith("/api/") and _closed(probe.get(path)) != 403
        }

    for name, path in paths.items():
        _fuzz(world, who, name, path)


def test_a_usage_report_for_the_year_9999_is_a_form_error(admin_client) -> None:
    for query in (
        {"start": "9999-12-01", "end": "9999-12-31"},
        {"start": "9999-12-31"},
        {"end": "9999-12-31", "group": "month"},
        {"start": "0001-01-01", "end": "0001-01-31"},
    ):
        response = admin_client.get("/usage/", query)
        assert response.status_code == 400, query
        assert "year" in response.content.decode().lower(), query
        csv = admin_client.get("/usage/usage.csv", query)
        assert csv.status_code == 400, query
