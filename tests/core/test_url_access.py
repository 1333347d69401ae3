"""Every URL pattern, walked anonymously: it must send the visitor to log in (or answer 401/403
for APIs), unless it is listed here by name as deliberately public. Generated from the URL conf,
so a new view cannot be forgotten."""

from __future__ import annotations

import re
import uuid

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

# Deliberately public, by name, and why.
PUBLIC = {
    "login": "the login page itself",
    "healthz": "load-balancer liveness probe; says only 'ok'",
    "members:set_password": "the one-time set-password link a new member follows",
    "batches:shared": "a share link for outsiders: the signed, expiring link is the credential",
    "batches:shared_video": "the shared page's video and download, under the same signed link",
    "batches:shared_item": "one video of a shared collection, under the same signed link",
}
# Whole namespaces that are APIs with their own token auth (they answer 401, never a redirect).
API_NAMESPACES = {"simulator", "gateway"}
# Token-authenticated API endpoints outside those namespaces (mounted by the project URL conf).
API_NAMES = {"api_batches"}
# Endpoints that answer without auth by design, as the Viggle contract requires.
PUBLIC_API = {
    "simulator:render_detail": "Viggle's status endpoint needs no auth (documented)",
    "simulator:cdn_file": "stands in for Viggle's public CDN",
    "simulator:control": "test-only fault knobs, on only where the simulator is",
    "gateway:render_detail": "Viggle-compatible status endpoint: unguessable id, no token",
    "gateway:openapi": "the API's own description",
    "gateway:signed_download": "signed, expiring link: the signature is the credential",
}


def _walk(resolver: URLResolver, prefix: str = "", namespace: str = ""):
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            ns = entry.namespace or namespace
            full_ns = f"{namespace}:{entry.namespace}" if namespace and entry.namespace else ns
            yield from _walk(entry, prefix + str(entry.pattern), full_ns)
        elif isinstance(entry, URLPattern):
            if entry.name is None:
                continue
            name = f"{namespace}:{entry.name}" if namespace else entry.name
            yield name, prefix + str(entry.pattern)


def _fill(route: str) -> str:
    """Turn a route pattern into a concrete path with plausible values."""
    route = route.lstrip("^").rstrip("$")
    route = re.sub(r"<int:\w+>", "1", route)
    route = re.sub(r"<uuid:\w+>", str(uuid.uuid4()), route)
    route = re.sub(r"<path:\w+>", "x/y.mp4", route)
    route = re.sub(r"<(?:\w+:)?\w+>", "x", route)
    route = re.sub(r"\(\?P<\w+>[^)]*\)", "x", route)
    return "/" + route


ALL = sorted(set(_walk(get_resolver())))


def test_the_walk_sees_the_app() -> None:
    names = {name for name, _ in ALL}
    assert {"home", "login", "members:list", "members:add"} <= names


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "route"), ALL, ids=[n for n, _ in ALL])
def test_anonymous_access(client, name: str, route: str) -> None:
    path = _fill(route)
    namespace = name.split(":")[0] if ":" in name else ""
    for method in ("get", "post"):
        response = getattr(client, method)(path)
        if name in PUBLIC or name in PUBLIC_API:
            assert response.status_code != 500, f"{name} {method} {path} crashed"
            continue
        if namespace in API_NAMESPACES or name in API_NAMES:
            assert response.status_code in (401, 403, 404, 405), (
                f"{name} {method} {path} answered {response.status_code} without a token"
            )
            continue
        if response.status_code == 405:
            continue  # the method is not served at all
        assert response.status_code == 302, f"{name} {method} {path} -> {response.status_code}"
        assert response["Location"].startswith("/login/"), (
            f"{name} {method} {path} redirects to {response['Location']}"
        )
