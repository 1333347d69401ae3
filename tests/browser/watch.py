"""Watching a job page update itself, one atomic read per turn: the live swap can replace an
element between a locator's count() and a later read (which would then wait for one gone)."""

from __future__ import annotations

from playwright.sync_api import Page


def watch_progress(page: Page, *, turns: int) -> set[int]:
    """The progress values the page showed until the result video appeared (or `turns` of
    100 ms passed)."""
    seen: set[int] = set()
    for _ in range(turns):
        now = page.evaluate(
            """() => ({
                value: document.querySelector('#job-status [role=progressbar]')
                    ?.getAttribute('aria-valuenow'),
                done: document.querySelector('#job-status video') !== null,
            })"""
        )
        if now["value"] is not None:
            seen.add(int(now["value"]))
        if now["done"]:
            break
        page.wait_for_timeout(100)
    return seen
