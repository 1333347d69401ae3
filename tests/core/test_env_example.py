""".env.example documents every variable the settings read, and loads as it is with
``docker run --env-file`` and systemd's ``EnvironmentFile=``: KEY=VALUE lines, comments only on
lines of their own (neither tool strips a comment after a value: it would become the value)."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / ".env.example"
ENV_HELPERS = {"env_str", "env_bool", "env_int", "env_float", "env_list", "env_choice"}
ENV_HELPERS |= {"env_required"}
LINE = re.compile(r"^(?P<key>[A-Za-z_][A-Za-z0-9_]*)=(?P<value>.*)$")


def variables_read() -> set[str]:
    """Every environment variable the application reads: the first argument of each env_*
    helper call and of os.environ.get / os.getenv, in every module of viggle_web."""
    names: set[str] = set()
    for path in (ROOT / "viggle_web").rglob("*.py"):
        if path.name == "settings_test.py" or "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            environ_get = ast.unparse(func) == "os.environ.get"
            if name in ENV_HELPERS or environ_get or name == "getenv":
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    names.add(first.value)
    return names


def parse_like_systemd(text: str) -> dict[str, str]:
    """EnvironmentFile= semantics, strict: blank lines and lines starting with # or ; are
    skipped, every other line is KEY=VALUE with nothing around the "=". A value keeps
    everything after the "=", so it may not hold an inline comment or quotes (docker's
    --env-file would keep the quotes; systemd would strip them)."""
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith(("#", ";")):
            continue
        match = LINE.match(line)
        assert match, f"line {number} is not KEY=VALUE: {line!r}"
        key, value = match["key"], match["value"]
        assert "#" not in value, f"line {number}: an inline comment would be part of {key}"
        assert value == value.strip(), f"line {number}: white space around the value of {key}"
        assert not value.startswith(("'", '"')), f"line {number}: quotes in the value of {key}"
        assert key not in values, f"line {number}: {key} given twice"
        values[key] = value
    return values


def test_the_reader_finds_the_variables_of_every_helper():
    names = variables_read()
    # One of each helper: a string, a boolean, an int, a float, a list, a choice, a required.
    assert {"TIME_ZONE", "DEBUG", "Q_WORKERS", "VIGGLE_TIMEOUT_SECONDS"} <= names
    assert {"ALLOWED_HOSTS", "STORAGE_BACKEND", "SECRET_KEY", "AWS_STORAGE_BUCKET_NAME"} <= names


def test_the_systemd_parser_refuses_what_systemd_and_docker_would_misread():
    for bad in ("DB_POOL=true   # a comment", "KEY = value", 'KEY="quoted"', "export KEY=1"):
        try:
            parse_like_systemd(bad)
        except AssertionError:
            continue
        raise AssertionError(f"accepted {bad!r}")
    assert parse_like_systemd("# c\n\n; c\nA=1\nB=\n") == {"A": "1", "B": ""}


def test_the_example_lists_every_variable_the_settings_read():
    listed = set(parse_like_systemd(EXAMPLE.read_text()))
    read = variables_read()
    assert sorted(read - listed) == [], "document these in .env.example"
    assert sorted(listed - read) == [], ".env.example lists variables nothing reads"


def test_the_example_as_loaded_by_systemd_starts_the_production_settings():
    """Every value in it is a valid one: Django starts with exactly that environment."""
    environ = {"PATH": os.environ["PATH"], **parse_like_systemd(EXAMPLE.read_text())}
    environ["DJANGO_SETTINGS_MODULE"] = "viggle_web.settings"
    run = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('started')"],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "started"
