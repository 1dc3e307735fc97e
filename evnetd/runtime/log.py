"""Logging to the journal with structured fields, or to stderr when not under systemd.

Call sites attach fields with ``log.info("...", extra=fields(FAULT="pen"))``; in the
journal they become searchable (``journalctl FAULT=pen``), on a terminal they are
appended to the line.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

_FIELDS = "journal_fields"


def fields(**values: Any) -> dict[str, dict[str, str]]:
    """The ``extra=`` argument carrying journal fields (names upper-case, values as text)."""
    return {_FIELDS: {key.upper(): str(value) for key, value in values.items()}}


class _StderrFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        extra: dict[str, str] = getattr(record, _FIELDS, {})
        if extra:
            text += " [" + " ".join(f"{k}={v}" for k, v in extra.items()) + "]"
        return text


class _JournalHandler(logging.Handler):
    """Sends each record with its fields; the journal adds unit, PID and time itself."""

    _PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3}

    def __init__(self, identifier: str) -> None:
        super().__init__()
        from systemd import journal  # imported only under systemd

        self._send = journal.send
        self._identifier = identifier

    def emit(self, record: logging.LogRecord) -> None:
        try:
            extra: dict[str, str] = getattr(record, _FIELDS, {})
            self._send(
                self.format(record),
                PRIORITY=str(self._PRIORITY.get(record.levelno, 2)),
                SYSLOG_IDENTIFIER=self._identifier,
                LOGGER=record.name,
                CODE_FILE=record.pathname,
                CODE_LINE=record.lineno,  # python-systemd formats it as an integer
                **extra,
            )
        except Exception:
            self.handleError(record)


def _under_journald() -> bool:
    """True when stderr is connected to journald (systemd sets JOURNAL_STREAM to its dev:ino)."""
    stream = os.environ.get("JOURNAL_STREAM")
    if not stream:
        return False
    try:
        st = os.fstat(sys.stderr.fileno())
    except (OSError, ValueError):
        return False
    return stream == f"{st.st_dev}:{st.st_ino}"


def setup_logging(identifier: str, level: str = "info") -> None:
    """Route the root logger to the journal or stderr."""
    root = logging.getLogger()
    root.handlers.clear()
    root.setLevel(level.upper())
    handler: logging.Handler
    if _under_journald():
        try:
            handler = _JournalHandler(identifier)
        except ImportError:
            handler = logging.StreamHandler()
            handler.setFormatter(_StderrFormatter("%(levelname)s %(name)s: %(message)s"))
        else:
            handler.setFormatter(logging.Formatter("%(message)s"))
    else:
        handler = logging.StreamHandler()
        handler.setFormatter(
            _StderrFormatter(f"%(asctime)s {identifier} %(levelname)s %(name)s: %(message)s")
        )
    root.addHandler(handler)
