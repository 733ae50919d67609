"""Structured logs: one JSON object per line on stderr.

Modules only call ``logging.getLogger(__name__)`` and pass context with ``extra={...}``; the
long-running commands call :func:`configure_json_logging` once. Fields: ``ts`` (ISO 8601 UTC),
``level``, ``logger``, ``msg``, the ``extra`` keys, and ``exc`` (type and message, plus the
traceback) when an exception is attached. Values that are not JSON types are written with ``str()``:
configuration secrets are pydantic ``SecretStr`` and print as ``**********``.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from datetime import UTC, datetime
from typing import TextIO

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRIBUTES and not key.startswith("_"):
                entry[key] = value
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            entry["exc"] = {
                "type": type(error).__name__,
                "message": str(error),
                "stack": "".join(traceback.format_exception(*record.exc_info)),
            }
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure_json_logging(level: str | int = "INFO", stream: TextIO | None = None) -> None:
    """Route the root logger to one JSON handler on ``stream`` (stderr); idempotent."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_addlink_json", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler._addlink_json = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    # Client libraries log connection chatter at INFO; keep their warnings only.
    for noisy in ("kafka", "elastic_transport", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
