"""Viggle's ``bg_color``: "R,G,B", three whole numbers 0-255 (docs/viggle-api.md), green when
absent. The one parser of it, shared by the render form and services, the gateway and the
simulator; each turns the ``ValueError`` into its own refusal (a form error, an API error code).
"""

from __future__ import annotations

import re

DEFAULT_BG_COLOR = "0,255,0"
BG_COLOR_MESSAGE = 'bg_color must be "R,G,B" with values 0-255'

_RGB = re.compile(r"^\s*(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})\s*$")
_HEX = re.compile(r"^#?([0-9a-fA-F]{2})([0-9a-fA-F]{2})([0-9a-fA-F]{2})$")


def parse_bg_color(value: str | None, *, allow_hex: bool = False) -> str:
    """``value`` as Viggle's canonical "R,G,B" (empty: the default green). With ``allow_hex``
    a colour picker's "#rrggbb" is accepted too. Raises ValueError(BG_COLOR_MESSAGE)."""
    value = (value or "").strip()
    if not value:
        return DEFAULT_BG_COLOR
    match = _HEX.match(value) if allow_hex else None
    if match:
        return ",".join(str(int(part, 16)) for part in match.groups())
    match = _RGB.match(value)
    if not match or any(int(part) > 255 for part in match.groups()):
        raise ValueError(BG_COLOR_MESSAGE)
    return ",".join(str(int(part)) for part in match.groups())
