"""The log line format: one record, one line, whatever its message holds.

A message quotes what others wrote (a maintenance reason from an annotation, an API server's
error, a URL): ``visible`` writes their newlines and escape sequences as escapes, so a record
can neither forge a second record nor drive the terminal that shows the log.
"""

from __future__ import annotations

import logging
from typing import TextIO

from exporter.redact import RedactingFilter
from exporter.visible_text import visible

FORMAT = "%(asctime)s level=%(levelname)s logger=%(name)s msg=%(message)s"


class OneLineFormatter(logging.Formatter):
    def __init__(self, fmt: str = FORMAT) -> None:
        super().__init__(fmt)

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = visible(record.message)
        return super().formatMessage(record)

    def format(self, record: logging.LogRecord) -> str:
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        original = record.exc_text
        if original:
            # A traceback is many lines by nature; what it quotes may not add more of them.
            record.exc_text = "\n".join("  " + visible(line) for line in original.splitlines())
        try:
            return super().format(record)
        finally:
            record.exc_text = original


def log_handler(stream: TextIO) -> logging.Handler:
    """The exporter's log handler: secrets masked, one visible line per record."""
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(OneLineFormatter())
    return handler
