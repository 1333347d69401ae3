"""Logging helpers: keep the logs to what someone reading them needs."""

from __future__ import annotations

import logging


class ClientErrorsWithoutTraceback(logging.Filter):
    """A refused request (403, 404, 400 ...) is one line: who asked for what. Django logs a
    PermissionDenied with its traceback, which says nothing about the refusal and buries real
    errors; 5xx keep theirs."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if isinstance(status, int) and 400 <= status < 500:
            record.exc_info = None
            record.exc_text = None
        return True
