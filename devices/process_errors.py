"""Typed errors across a process boundary (the face and document worker processes).

Why: ``KioskError`` takes keyword-only arguments, so pickle cannot rebuild it on the other side;
a worker sends the error's class name and fields instead, and the app rebuilds the same typed
error (its ``recovery`` and ``code`` intact) so the flow handles it as if it were raised in-process.
Only classes under ``devices.`` are rebuilt; anything else becomes the caller's fallback class.
"""

from __future__ import annotations

import importlib
from typing import Any

from devices.errors import KioskError, Recovery


def error_reply(exc: BaseException, device: str) -> tuple[Any, ...]:
    """("err", module, qualname, message, code, recovery, device) for any exception."""
    if isinstance(exc, KioskError):
        cls = type(exc)
        return ("err", cls.__module__, cls.__qualname__, exc.message, exc.code, exc.recovery.value, exc.device)
    return ("err", None, None, f"{device} worker: {type(exc).__name__}: {exc}", None, None, device)


def rebuild_error(reply: tuple[Any, ...], fallback: type[KioskError], device: str) -> KioskError:
    """The typed error an ``error_reply`` describes, or ``fallback`` when its class is unknown."""
    _, module, qualname, message, code, recovery, err_device = reply
    cls: Any = None
    if isinstance(module, str) and module.startswith("devices.") and isinstance(qualname, str):
        try:
            cls = getattr(importlib.import_module(module), qualname, None)
        except ImportError:
            cls = None
    if not (isinstance(cls, type) and issubclass(cls, KioskError)):
        return fallback(message, device=device)
    return cls(message, code=code, recovery=None if recovery is None else Recovery(recovery), device=err_device)
