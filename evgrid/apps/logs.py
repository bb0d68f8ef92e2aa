"""Logging for ``evgrid serve``: JSON lines for log shippers, or the classic text line.

JSON lines: one object per line, so that Loki, Elasticsearch or ``jq`` read the stream
without a parser for our text format, and a multi-line traceback stays inside its record::

    {"ts": "2026-11-26T21:00:00.123Z", "level": "INFO", "logger": "evgrid.commands.serve",
     "message": "serving", "worker": "node-1-4242", "url": "https://0.0.0.0:8443"}

Keys: ``ts`` (ISO 8601, UTC, milliseconds), ``level``, ``logger``, ``message`` (the
formatted text), ``worker`` (which ``serve`` process, for logs merged from several),
``exc`` (the traceback, when there is one), then the ``extra={...}`` fields a caller
passed (``log.info("stopped", extra={"signal": "SIGTERM"})``); they never replace the
keys above. Values JSON cannot hold are written as their ``str``.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import TextIO

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Every attribute a LogRecord has without `extra`: what is left over is the caller's.
_RECORD_KEYS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class JsonLinesFormatter(logging.Formatter):
    """Formats a record as one JSON object on one line (see the module docstring)."""

    def __init__(self, worker: str) -> None:
        super().__init__()
        self.worker = worker

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "worker": self.worker,
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exc"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        for key, value in vars(record).items():
            if key not in _RECORD_KEYS and key not in entry:
                entry[key] = value
        # json escapes newlines inside strings: a traceback cannot break the one-line rule.
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure_logging(level: str, format: str, worker: str, *, stream: TextIO | None = None) -> None:
    """Send every log record to ``stream`` (default stderr) as JSON lines or text, from ``level`` up.

    Replaces the root logger's handlers, so calling it again reconfigures rather than
    doubling every line; warnings go to the log too (``logging.captureWarnings``).

    Args:
        level: DEBUG, INFO, WARNING or ERROR.
        format: ``json`` (:class:`JsonLinesFormatter`) or ``text`` (``time LEVEL logger: message``).
        worker: the ``worker`` field of every JSON line.
        stream: where to write; stderr by default.
    """
    handler = logging.StreamHandler(stream or sys.stderr)
    if format == "json":
        handler.setFormatter(JsonLinesFormatter(worker))
    elif format == "text":
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    else:
        raise ValueError(f"unknown log format {format!r}: json or text")
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)
