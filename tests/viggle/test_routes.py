"""The Viggle API's documented paths are one table (viggle/routes.py) that both the app's gateway
and the simulator serve: each documented path resolves in the app to the gateway view of its name,
and the simulator (its own process, over HTTP) answers it as an API endpoint, not as a page its
URL conf does not know."""

from __future__ import annotations

import pytest
from django.urls import resolve

from tests.viggle_fixtures import *  # noqa: F403
from viggle_web.gateway import views as gateway_views
from viggle_web.viggle.routes import API_PATHS

# The endpoints of shared/docs/viggle-api.md with the method the doc gives each, an id where the
# doc writes {job_id}, {character_id}, {scene_id} or {id}.
DOCUMENTED = [
    ("POST", "render"),
    ("GET", "render/job_unknown"),
    ("GET", "characters"),
    ("POST", "characters/preprocess"),
    ("GET", "characters/char_unknown"),
    ("GET", "scenes"),
    ("POST", "scenes/preprocess"),
    ("POST", "scenes/import"),
    ("GET", "scenes/scene_unknown"),
    ("GET", "credits"),
]


def test_the_table_holds_every_documented_path_once() -> None:
    names = [name for _, name in API_PATHS]
    assert len(names) == len(set(names)) == len(DOCUMENTED)


@pytest.mark.parametrize(("method", "path"), DOCUMENTED)
def test_a_documented_path_is_served_by_the_gateway_and_the_simulator(
    viggle_sim, method: str, path: str
) -> None:
    app = resolve(f"/api/{path.replace('_unknown', '_' + 'a' * 16)}")
    assert app.namespace == "gateway"
    assert app.func is getattr(gateway_views, app.url_name)

    answer = viggle_sim.http.request(
        method,
        f"{viggle_sim.base_url}/api/{path}",
        headers={"Authorization": f"Bearer {viggle_sim.key}"},
    )
    # An endpoint answers: a result, or Viggle's error for this call (bad input, an unknown id).
    # What a path the simulator's URL conf does not know gets is its not-found answer.
    assert answer.json() != _not_routed(viggle_sim), (path, answer.status_code, answer.text)


def _not_routed(viggle_sim) -> object:
    answer = viggle_sim.http.get(f"{viggle_sim.base_url}/api/renders")
    assert answer.status_code == 404
    return answer.json()
