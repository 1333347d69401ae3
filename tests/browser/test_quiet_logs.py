"""Quiet, useful logs and a friendly 404: a refused page is one log line (no traceback), a
missing page is the studio's own 404 also in development (DEBUG), and an idle worker logs
nothing while its scheduled poll loop runs."""

from __future__ import annotations

import logging
import time

import pytest
from playwright.sync_api import expect

from tests.workers import QCluster

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_403_is_one_log_line_without_a_traceback(
    page, live_server, member, password, login, caplog
):
    login("bob", password)
    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = page.goto(f"{live_server.url}/members/")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    refused = [r for r in caplog.records if getattr(r, "status_code", None) == 403]
    assert len(refused) == 1, caplog.records
    text = caplog.handler.format(refused[0])
    assert refused[0].exc_info is None
    assert "Traceback" not in text and "\n" not in text.strip(), text
    assert "/members/" in text


def test_a_missing_page_is_the_friendly_404_also_with_debug(
    page, live_server, member, password, login, settings
):
    settings.DEBUG = True
    login("bob", password)
    response = page.goto(f"{live_server.url}/no-such-page/")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    assert "URLconf" not in page.content()  # not Django's technical page
    # A missing render too (an id that matches the pattern but no job).
    page.goto(f"{live_server.url}/renders/r_nosuchjobatall00000000000/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Not found")


def test_an_idle_worker_logs_nothing_while_its_poll_loop_runs(settings):
    worker = QCluster("idle", LOG_LEVEL="INFO").start()
    try:
        # The poller runs from the start, claiming (nothing) every half second.
        time.sleep(5)
        assert worker.process is not None and worker.process.poll() is None
    finally:
        worker.stop()
    log = worker.stderr()
    lines = [line for line in log.splitlines() if " INFO " in line]
    assert lines == [], log
