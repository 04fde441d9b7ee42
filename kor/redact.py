"""Describing failures for the server log without client data.

Exception messages may carry values (a client code, a score) from deep inside a
library. The log gets the exception type and where it happened (file:line of
each frame), never the message.
"""

from __future__ import annotations

import traceback

__all__ = ["exception_summary"]


def exception_summary(exc: BaseException) -> str:
    """``TypeName at file:line <- file:line ...`` (innermost frame first), no message text."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = " <- ".join(f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno}" for f in reversed(frames))
    return f"{type(exc).__name__} at {where}" if where else type(exc).__name__
