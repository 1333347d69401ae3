"""The client's address behind proxies (issue 14, point 4): taken from the configured trusted
proxies with django-ipware, the same in login throttling, the API's rate limits and the audit
log; a client cannot spoof it, and one address cannot lock a member out for everyone.

The last test runs the Procfile's own `web:` command (gunicorn with the uvicorn worker), as
README recommends deploying, and checks what the app sees of a loopback proxy's header.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from axes.models import AccessAttempt
from django.test import Client

from tests.hardening.servers import free_port
from tests.workers import ROOT, _database_url
from viggle_web.core.models import AuditEvent
from viggle_web.gateway.models import RateCounter

PROXY = "10.0.0.5"
ALICE_HOME = "203.0.113.7"
ATTACKER = "198.51.100.66"


def _via_proxy(client_address: str, *, written: str = "") -> dict[str, str]:
    """What the app receives from one reverse proxy (nginx with proxy_add_x_forwarded_for)."""
    forwarded = f"{written}, {client_address}" if written else client_address
    return {"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": forwarded}


def _login(client: Client, username: str, password: str, **meta: str):
    return client.post("/login/", {"username": username, "password": password}, **meta)


@pytest.fixture
def one_proxy(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.TRUSTED_PROXY_IPS = ["10.0.0.0/8"]


@pytest.mark.django_db
def test_without_configuration_the_header_is_ignored(settings) -> None:
    assert settings.TRUSTED_PROXY_COUNT == 0
    Client().get("/api/render/r_unknown", HTTP_X_FORWARDED_FOR="203.0.113.99")
    assert list(RateCounter.objects.values_list("key", flat=True)) == ["ip:127.0.0.1"]


@pytest.mark.django_db
def test_behind_a_trusted_proxy_each_client_keeps_its_address(one_proxy, member) -> None:
    Client().get("/api/render/r_unknown", **_via_proxy(ALICE_HOME))
    # A client that writes its own header in front gains nothing: the proxy's entry wins.
    Client().get("/api/render/r_unknown", **_via_proxy(ATTACKER, written="203.0.113.7"))
    keys = sorted(RateCounter.objects.values_list("key", flat=True))
    assert keys == [f"ip:{ATTACKER}", f"ip:{ALICE_HOME}"]
    _login(Client(), "bob", "wrong", **_via_proxy(ATTACKER))
    assert list(AccessAttempt.objects.values_list("ip_address", flat=True)) == [ATTACKER]


@pytest.mark.django_db
def test_a_request_that_skips_the_proxy_is_judged_by_its_own_address(one_proxy) -> None:
    Client().get("/api/render/r_unknown", REMOTE_ADDR="192.0.2.10", HTTP_X_FORWARDED_FOR=ALICE_HOME)
    assert list(RateCounter.objects.values_list("key", flat=True)) == ["ip:192.0.2.10"]


@pytest.mark.django_db
def test_one_address_cannot_lock_a_member_out_for_everyone(
    one_proxy, settings, member, password
) -> None:
    attacker = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT + 2):
        _login(attacker, "bob", "guess", **_via_proxy(ATTACKER))
    assert _login(attacker, "bob", password, **_via_proxy(ATTACKER)).status_code == 429
    # Bob, at home, behind the same proxy, still logs in.
    assert _login(Client(), "bob", password, **_via_proxy(ALICE_HOME)).status_code == 302


@pytest.mark.django_db
def test_the_audit_log_records_the_same_address(one_proxy, admin_user, member) -> None:
    admin = Client()
    admin.force_login(admin_user)
    admin.post(f"/members/{member.pk}/active/", {"active": "0"}, **_via_proxy(ALICE_HOME))
    event = AuditEvent.objects.get(action="member_deactivated")
    assert event.details["address"] == ALICE_HOME


def _procfile_web(port: int) -> list[str]:
    line = next(
        line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("web:")
    )
    command = line.removeprefix("web:").strip().replace("${PORT:-8000}", str(port))
    command = command.replace("${WEB_CONCURRENCY:-2}", "1")
    return shlex.split(command)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("proxies", "expected"),
    [("0", "127.0.0.1"), ("1", ALICE_HOME)],
    ids=["no-proxy-configured", "one-proxy"],
)
def test_the_procfile_server_leaves_the_address_to_the_app(
    tmp_path: Path, proxies: str, expected: str
) -> None:
    port = free_port()
    command = _procfile_web(port)
    assert command[0] == "gunicorn"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "viggle_web.settings_test",
        "DATABASE_URL": _database_url(),
        "TRUSTED_PROXY_COUNT": proxies,
        "LOG_LEVEL": "WARNING",
    }
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    server = subprocess.Popen(
        [gunicorn, *command[1:]],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base}/healthz", timeout=2)
                break
            except httpx.HTTPError:
                assert server.poll() is None, "gunicorn exited"
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.3)
        # A loopback peer (a proxy on this machine, or anyone who can reach the port) sends
        # a client's header, with a forged entry in front.
        httpx.get(
            f"{base}/api/render/r_unknown",
            headers={"X-Forwarded-For": f"192.0.2.1, {ALICE_HOME}"},
        )
        assert list(RateCounter.objects.values_list("key", flat=True)) == [f"ip:{expected}"]
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)
