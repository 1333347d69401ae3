"""The rules of a test run (tests/ci_rules.py and pyproject's pytest settings): under CI=true a
skipped test fails the run, the real-API tests are deselected unless asked for, and every test
has a timeout. Each is proved by running pytest on a small file of its own."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SAMPLE = """
import threading

import pytest


def test_passes():
    pass


def test_skips_for_a_missing_binary():
    pytest.skip("redis-server is not installed")


@pytest.mark.skipif(True, reason="needs a binary")
def test_marked_skip():
    pass


@pytest.mark.xfail(reason="a known bug", strict=True)
def test_known_bug():
    assert False


@pytest.mark.realapi
def test_on_the_real_api():
    pass


def test_hangs():
    threading.Event().wait()
"""


def _run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_sample.py").write_text(SAMPLE)
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    realapi: opt-in\n")
    environ = {k: v for k, v in os.environ.items() if k not in ("CI", "VIGGLE_REAL_API")}
    environ.update(env, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.ci_rules", "-p", "no:django"]
        + ["-p", "no:cacheprovider", "-rA", "-o", "timeout=5", *args],
        cwd=tmp_path,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _outcomes(output: str) -> dict[str, str]:
    outcomes = {}
    for line in output.splitlines():
        word, _, rest = line.partition(" ")
        if word in ("PASSED", "FAILED", "ERROR", "SKIPPED", "XFAIL") and "::" in rest:
            outcomes[rest.split("::")[1].split(" ")[0]] = word
    return outcomes


def test_under_ci_a_skipped_test_fails_the_run(tmp_path):
    run = _run(tmp_path, "-k", "not hangs", CI="true")
    outcomes = _outcomes(run.stdout)
    assert run.returncode == 1, run.stdout
    assert outcomes["test_passes"] == "PASSED"
    assert outcomes["test_skips_for_a_missing_binary"] == "FAILED"
    assert outcomes["test_marked_skip"] == "ERROR"  # skipped while set up
    assert "skipped under CI=true" in run.stdout
    assert "redis-server is not installed" in run.stdout
    # An expected failure is not a skip, and the opt-in real-API test is not run at all.
    assert outcomes["test_known_bug"] == "XFAIL"
    assert "test_on_the_real_api" not in outcomes
    assert "2 deselected" in run.stdout  # the real-API test and, by -k, the hanging one


def test_outside_ci_a_skip_is_reported_as_a_skip(tmp_path):
    run = _run(tmp_path, "-k", "not hangs")
    assert run.returncode == 0, run.stdout
    assert "2 skipped" in run.stdout
    assert "2 deselected" in run.stdout  # the real-API test and, by -k, the hanging one


def test_the_real_api_tests_run_only_when_asked_for(tmp_path):
    run = _run(tmp_path, "-k", "real_api", VIGGLE_REAL_API="1", VIGGLE_API_KEY="sk-x")
    assert _outcomes(run.stdout) == {"test_on_the_real_api": "PASSED"}


def test_a_hanging_test_fails_at_its_timeout(tmp_path):
    run = _run(tmp_path, "-k", "hangs")
    assert run.returncode == 1, run.stdout
    assert _outcomes(run.stdout) == {"test_hangs": "FAILED"}
    assert "Timeout" in run.stdout


def test_every_test_of_the_suite_has_a_timeout(request):
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert int(config["timeout"]) >= 60
    assert "-p tests.ci_rules" in config["addopts"]
    assert float(request.config.getini("timeout")) == float(config["timeout"])
