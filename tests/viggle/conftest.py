"""`api`: the client under contract test, on the simulator, or on the real Viggle API when
VIGGLE_REAL_API=1 and VIGGLE_API_KEY are set (marker `realapi`; skipped otherwise).

Tests that need the simulator's knobs call `api.need_sim()`, which skips on the real API.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.viggle_fixtures import SimHelper
from viggle_web.viggle.client import ViggleClient

REAL = os.environ.get("VIGGLE_REAL_API") == "1" and bool(os.environ.get("VIGGLE_API_KEY"))


@dataclass
class Api:
    client: ViggleClient
    sim: SimHelper | None

    def need_sim(self) -> SimHelper:
        if self.sim is None:
            pytest.skip("needs the simulator's knobs")
        return self.sim

    def wait_for(self, job_id: str, timeout: float = 60.0) -> Any:
        import time

        deadline = time.monotonic() + timeout
        while True:
            status = self.client.render_status(job_id)
            if status.is_final:
                return status
            assert time.monotonic() < deadline, f"{job_id} still {status.status}"
            time.sleep(0.1 if self.sim else 4.0)

    def wait_ready(self, get: Any, ident: str, timeout: float = 60.0) -> Any:
        import time

        deadline = time.monotonic() + timeout
        while True:
            item = get(ident)
            if item.status in ("ready", "failed"):
                return item
            assert time.monotonic() < deadline, f"{ident} still {item.status}"
            time.sleep(0.1 if self.sim else 5.0)


@pytest.fixture(
    params=[
        "sim",
        pytest.param(
            "real",
            marks=[
                pytest.mark.realapi,
                pytest.mark.skipif(not REAL, reason="VIGGLE_REAL_API=1 and a key not set"),
            ],
        ),
    ]
)
def api(request: pytest.FixtureRequest) -> Iterator[Api]:
    if request.param == "real":
        client = ViggleClient(
            base_url=os.environ.get("VIGGLE_BASE_URL", "https://apis.viggle.ai"),
            api_key=os.environ["VIGGLE_API_KEY"],
            timeout=30,
            upload_timeout=600,
            max_retries=3,
        )
        yield Api(client=client, sim=None)
    else:
        sim: SimHelper = request.getfixturevalue("viggle_sim")
        client = sim.client()
        yield Api(client=client, sim=sim)
    client.close()
