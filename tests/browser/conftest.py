from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Iterator

import pytest
from playwright.sync_api import Error as PlaywrightError

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    # Debian's chromium, never a downloaded browser; flags keep it off the (closed) network.
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


@pytest.fixture
def login(page, live_server):
    def do_login(username: str, password: str) -> None:
        page.goto(f"{live_server.url}/login/")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"{live_server.url}/")

    return do_login


class _InFlight:
    """Wraps the live server's WSGI app and counts the requests not yet finished (a streamed
    response counts until its iterator is closed)."""

    def __init__(self, app: Callable) -> None:
        self.app = app
        self.count = 0
        self.changed = threading.Condition()

    def _done(self) -> None:
        with self.changed:
            self.count -= 1
            self.changed.notify_all()

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        with self.changed:
            self.count += 1
        try:
            result = self.app(environ, start_response)
        except BaseException:
            self._done()
            raise
        return _Closing(result, self._done)

    def wait_idle(self, timeout: float) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: self.count == 0, timeout=timeout)


class _Closing:
    def __init__(self, result: Iterable[bytes], done: Callable[[], None]) -> None:
        self.result = result
        self.done = done

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.result)

    def close(self) -> None:
        try:
            close = getattr(self.result, "close", None)
            if close is not None:
                close()
        finally:
            self.done()


@pytest.fixture(scope="session")
def live_server_requests(live_server) -> _InFlight:
    httpd = live_server.thread.httpd
    counter = _InFlight(httpd.get_app())
    httpd.set_app(counter)
    return counter


@pytest.fixture
def new_context(new_context, live_server_requests):
    """pytest-playwright's contexts, closed before the test's database is flushed and only once
    the live server has finished every request they made (a page's live stream included): a
    request still running against the flush can deadlock Postgres' TRUNCATE."""
    made = []

    def make(**kwargs):
        context = new_context(**kwargs)
        made.append(context)
        return context

    yield make
    for context in made:
        with contextlib.suppress(ValueError, PlaywrightError):  # the test closed it already
            context.close()
    if not live_server_requests.wait_idle(timeout=20):
        pytest.fail(
            f"{live_server_requests.count} live-server request(s) still running 20 s after the"
            " test's pages closed (a live stream that does not notice the tab is gone?)"
        )
