"""Smaller rooms: no service module (nor the Viggle client) grows past 400 lines. A module that
would is split by concern into a package or sibling modules (docs/architecture.md, "Packages")."""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "viggle_web"
LIMIT = 400


def _rooms() -> list[Path]:
    found = set(PACKAGE.glob("**/services*.py"))
    found |= set(PACKAGE.glob("**/services/*.py"))
    found |= set(PACKAGE.glob("viggle/client*.py"))
    return sorted(p for p in found if "migrations" not in p.parts)


def test_the_rooms_are_found():
    names = {p.relative_to(PACKAGE).as_posix() for p in _rooms()}
    assert "viggle/client.py" in names
    assert "renders/services/submit.py" in names
    assert "assets/services/preprocess.py" in names
    assert "gateway/services.py" in names


def test_no_service_module_is_over_400_lines():
    too_long = {
        p.relative_to(PACKAGE).as_posix(): n
        for p in _rooms()
        if (n := len(p.read_text().splitlines())) > LIMIT
    }
    assert too_long == {}
