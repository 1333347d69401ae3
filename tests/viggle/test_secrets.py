"""The API key never shows: not in reprs, errors, exception chains or log records."""

from __future__ import annotations

import logging
import traceback

import pytest

from viggle_web.viggle.client import ViggleClient, get_client
from viggle_web.viggle.errors import ViggleError

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "sk-very-secret-key-0123456789"


def _assert_hidden(exc: ViggleError, caplog: pytest.LogCaptureFixture) -> None:
    texts = [str(exc), repr(exc), exc.message, "".join(traceback.format_exception(exc))]
    texts += [record.getMessage() for record in caplog.records]
    texts += [repr(record.args) for record in caplog.records]
    for text in texts:
        assert SECRET not in text
    assert exc.__cause__ is None and exc.__context__ is None


def test_repr_of_the_client_hides_the_key() -> None:
    client = ViggleClient(
        base_url="http://127.0.0.1:9", api_key=SECRET, timeout=1, upload_timeout=1, max_retries=0
    )
    assert SECRET not in repr(client) and SECRET not in str(client)
    client.close()


def test_a_rejected_key_does_not_leak(viggle_sim, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    with viggle_sim.client(api_key=SECRET) as client, pytest.raises(ViggleError) as exc:
        client.credits()
    assert exc.value.code == "CS-UORC01-007"
    _assert_hidden(exc.value, caplog)


def test_retried_failures_do_not_leak(viggle_sim, settings, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    viggle_sim.set_keys([SECRET])
    for kind in ("500", "drop", "malformed", "429"):
        viggle_sim.fault(kind, count=1, path_prefix="/api/credits", retry_after=0)
    with viggle_sim.client(api_key=SECRET, max_retries=3) as client:
        with pytest.raises(ViggleError) as exc:
            client.credits()
    assert len(caplog.records) >= 3
    _assert_hidden(exc.value, caplog)


def test_an_unsendable_key_does_not_leak(caplog) -> None:
    caplog.set_level(logging.DEBUG)
    bad = SECRET + "\n"
    client = ViggleClient(
        base_url="http://127.0.0.1:9", api_key=bad, timeout=1, upload_timeout=1, max_retries=0
    )
    with pytest.raises(ViggleError) as exc:
        client.credits()
    _assert_hidden(exc.value, caplog)


def test_get_client_follows_settings(viggle_sim, settings) -> None:
    first = get_client()
    assert first.base_url == viggle_sim.base_url
    assert get_client() is first
    assert first.credits().balance == 10_000
    settings.VIGGLE_BASE_URL = "http://127.0.0.1:9"
    second = get_client()
    assert second is not first and second.base_url == "http://127.0.0.1:9"
    settings.VIGGLE_API_KEY = "sk-other"
    assert get_client() is not second
