"""URL converters. Our public ids are short and URL-safe; anything else (a NUL byte, a slash, a
megabyte of text) is a 404 before a query runs."""

from __future__ import annotations


class PublicIdConverter:
    regex = r"[A-Za-z0-9_-]{1,80}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value
