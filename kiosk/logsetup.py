"""The one logging set-up of every `kiosk` command: our handler, our level, Kivy's lines through it.

Why this exists: Kivy, imported after ``logging.basicConfig``, adds its own console handler to the
root logger and sets the root level to NOTSET, so under the service every line appeared twice,
INFO and DEBUG reached the journal and ``-v`` changed nothing. Setting ``KIVY_LOG_MODE=PYTHON``
*before* Kivy is imported makes Kivy's ``Logger`` an ordinary Python logger that propagates to
ours; the level lives on our handler too, so Kivy raising its own logger's level at import cannot
let more through.

Under systemd (stderr is the journal stream named by ``$JOURNAL_STREAM``) each line starts with an
sd-daemon priority prefix (``<4>`` for a warning, see sd-daemon(3)), so ``journalctl -p warning``
shows warnings and worse; the journal adds its own time stamp, so the line carries none.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TextIO

# sd-daemon(3) priorities: emerg 0 .. debug 7
_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3, logging.CRITICAL: 2}
CONSOLE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
JOURNAL_FORMAT = "%(name)s: %(message)s"
_HANDLER_NAME = "kiosk"


def priority(levelno: int) -> int:
    """The syslog priority of a Python level (levels between the named ones round down in urgency)."""
    for level in sorted(_PRIORITY, reverse=True):
        if levelno >= level:
            return _PRIORITY[level]
    return 7


class JournalFormatter(logging.Formatter):
    """``<N>logger: message`` with every continuation line (a traceback) carrying the prefix too.

    journald splits a stream at newlines and reads a prefix per line; without it a traceback's
    lines would be stored at the default priority (info) and vanish from ``journalctl -p err``.
    """

    def format(self, record: logging.LogRecord) -> str:
        prefix = f"<{priority(record.levelno)}>"
        return "\n".join(prefix + line for line in super().format(record).splitlines() or [""])


def stream_is_journal(stream: TextIO) -> bool:
    """True when ``stream`` is the journal stream systemd connected (``$JOURNAL_STREAM`` = dev:inode)."""
    expected = os.environ.get("JOURNAL_STREAM", "")
    dev, sep, ino = expected.partition(":")
    if not sep:
        return False
    try:
        st = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return f"{st.st_dev}:{st.st_ino}" == f"{dev}:{ino}"


def level_for(verbose: bool) -> int:
    """``-v`` means DEBUG; else ``$KIOSK_LOG_LEVEL`` (e.g. INFO on a kiosk being set up), else WARNING."""
    if verbose:
        return logging.DEBUG
    name = os.environ.get("KIOSK_LOG_LEVEL", "").strip().upper()
    level = logging.getLevelName(name) if name else logging.WARNING
    return level if isinstance(level, int) else logging.WARNING


def setup_logging(
    verbose: bool = False, *, stream: TextIO | None = None, journal: bool | None = None
) -> logging.Handler:
    """Install our one handler on the root logger (replacing any), and make Kivy use it.

    Call before anything imports Kivy. ``journal`` forces the journald prefixes on or off (tests);
    by default they are on exactly when ``stream`` is the journal stream.
    """
    os.environ["KIVY_LOG_MODE"] = "PYTHON"
    os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")
    out = stream if stream is not None else sys.stderr
    use_journal = stream_is_journal(out) if journal is None else journal
    level = level_for(verbose)
    handler = logging.StreamHandler(out)
    handler.set_name(_HANDLER_NAME)
    handler.setLevel(level)
    handler.setFormatter(JournalFormatter(JOURNAL_FORMAT) if use_journal else logging.Formatter(CONSOLE_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # Kivy sets its logger's level from its own config at import; ours decides.
    logging.getLogger("kivy").setLevel(logging.NOTSET)
    logging.captureWarnings(True)
    return handler
