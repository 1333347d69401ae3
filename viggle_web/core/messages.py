"""Messages that leave the server (job and asset errors, API refusals, the token-less status
endpoint) carry no server path, no address a host resolved to, no stack trace and no upstream
id. Every place that stores or answers such a message passes it through :func:`public_message`;
the full detail goes to the log instead."""

from __future__ import annotations

import re
from collections.abc import Iterable

_TRACEBACK = re.compile(r"Traceback \(most recent call last\):.*", re.DOTALL)
_POSIX_PATH = re.compile(r"""(?<![\w.:/])/(?:[^\s'"/]+/)*[^\s'",;)]*""")
_WINDOWS_PATH = re.compile(r"""\b[A-Za-z]:\\[^\s'",;)]*""")
_IPV4 = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b")
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9a-fA-F]{0,4}:){2,7}[0-9a-fA-F]{0,4}(?![\w:])")
_UPSTREAM_ID = re.compile(r"\b(?:job|char|scene|tmpl|task)_[0-9A-Za-z]{6,}\b")
_ERRNO = re.compile(r"\[Errno \d+\]\s*")
_QUOTED_EMPTY = re.compile(r"""\s*:?\s*(['"])\s*\1""")


def public_message(text: str, *, upstream_ids: Iterable[str] = (), limit: int = 500) -> str:
    """``text`` without internal details; never empty when ``text`` was not."""
    if not text:
        return text
    cleaned = _TRACEBACK.sub("", text)
    for ident in upstream_ids:
        if ident:
            cleaned = cleaned.replace(ident, "")
    cleaned = _UPSTREAM_ID.sub("", cleaned)
    cleaned = _WINDOWS_PATH.sub("", cleaned)
    cleaned = _POSIX_PATH.sub("", cleaned)
    cleaned = _IPV4.sub("", cleaned)
    cleaned = _IPV6.sub("", cleaned)
    cleaned = _ERRNO.sub("", cleaned)
    cleaned = _QUOTED_EMPTY.sub("", cleaned)
    cleaned = re.sub(r"\(\s*\)", "", cleaned)
    cleaned = re.sub(r"\s+", " ", cleaned).strip(" :,;")
    return (cleaned or "Something went wrong.")[:limit]
