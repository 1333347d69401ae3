"""Rules of the run, loaded as a plugin (``-p tests.ci_rules`` in pyproject's addopts) so that a
test can run pytest with them on a file of its own (tests/core/test_ci_rules.py)."""

from __future__ import annotations

import os

import pytest

REAL_API = os.environ.get("VIGGLE_REAL_API") == "1" and bool(os.environ.get("VIGGLE_API_KEY"))
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The real-API contract tests are opt-in: without VIGGLE_REAL_API=1 and a key they are not
    part of the run at all (deselected and counted as such), rather than reported as skipped."""
    if REAL_API:
        return
    kept = [item for item in items if item.get_closest_marker("realapi") is None]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in kept])
        items[:] = kept


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Under CI a skipped test is a failed one: a missing binary or package must not turn a
    green run into a run that tested less. (An expected failure, xfail, stays what it is.)"""
    report = yield
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, which counts as a failure: {reason}"
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector):
    """The same for a whole module skipped while it is collected (``pytest.importorskip``)."""
    report = yield
    if IN_CI and report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, which counts as a failure: {reason}"
    return report
