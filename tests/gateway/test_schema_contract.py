"""The schema is the contract: schemathesis generates requests for every operation of the
gateway's OpenAPI document, sends them to the gateway on a live server with a member's valid
token (the gateway's own calls go to the simulator over HTTP) and checks every answer: never a
5xx, status, content type, headers and body as the schema says, and every token path refusing
a request without a valid token. The document it reads is the one /api/openapi.json serves."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    missing_required_header,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from viggle_web.gateway.openapi import openapi_document
from viggle_web.gateway.services import token_create

# Per operation (about 20 of them): keeps the run well under two minutes on two cores.
MAX_EXAMPLES = 20
SERVER = "http://placeholder.invalid"  # each call names the live server's address instead

schema = schemathesis.openapi.from_dict(openapi_document(server=SERVER))
COUNTS = {"cases": 0, "operations": set()}
# What the contract asks: no 5xx; status, content type, headers and body as documented; auth
# enforced wherever the schema asks for a token; undocumented methods refused. (Whether every
# schema-valid request is accepted is not checked: the input combinations of POST /api/render
# and the media checks are richer than a schema says.)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    ignored_auth,
    unsupported_method,
    missing_required_header,
]


@pytest.fixture(scope="module", autouse=True)
def report_count(request) -> Iterator[None]:
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    line = f"schemathesis: {COUNTS['cases']} cases over {len(COUNTS['operations'])} operations"
    if reporter is not None:
        reporter.write_line(line)


@pytest.fixture
def gateway(live_server, viggle_sim, member, settings) -> dict[str, str]:
    """The live gateway and a member's token (rate limits out of the way of the fuzzer)."""
    settings.GATEWAY_RATE_LIMIT_PER_MINUTE = 1_000_000
    settings.GATEWAY_PUBLIC_RATE_LIMIT_PER_MINUTE = 1_000_000
    return {"base_url": live_server.url, "token": token_create(user=member, name="fuzz").raw}


@pytest.mark.django_db(transaction=True)
def test_the_schema_read_is_the_one_served(live_server):
    import httpx

    served = httpx.get(f"{live_server.url}/api/openapi.json").json()
    assert served == openapi_document(server=live_server.url)


@pytest.mark.django_db(transaction=True)
@schema.parametrize()
@hypothesis_settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_the_gateway_keeps_to_its_own_schema(case, gateway):
    COUNTS["cases"] += 1
    COUNTS["operations"].add(case.operation.label)
    case.call_and_validate(
        base_url=gateway["base_url"],
        headers={"Authorization": f"Bearer {gateway['token']}"},
        checks=CHECKS,
    )
