"""Who is at the kiosk now, and the wipe at the end of every path.

One resident's personal data — the card record, the card photo, the face session's encodings, the
fingerprint template — lives only in one ``KioskSession`` for as long as the resident is at the
screen. Every flow ends by ``SessionHolder.end()``, whichever way it ends (done, cancel, time-out,
refusal, crash of a step), and the wipe zeroes the arrays in place before dropping them, so a copy
cannot linger in a buffer some other object still references.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

import numpy as np

from devices.face import FaceSession
from devices.idcard import CardRead, IdentityRecord
from flows.errors import FlowBusy

log = logging.getLogger(__name__)


@dataclass
class KioskSession:
    flow: str
    card: CardRead | None = None
    record: IdentityRecord | None = None
    photo: np.ndarray | None = None
    face: FaceSession | None = None
    template: bytearray | None = None
    extra: dict[str, object] = field(default_factory=dict)
    wiped: bool = False

    def set_card(self, read: CardRead) -> None:
        self.card = read
        self.record = read.record
        self.photo = read.photo

    def set_template(self, template: bytes) -> None:
        self.zero_template()
        self.template = bytearray(template)

    def zero_template(self) -> None:
        if self.template is not None:
            self.template[:] = bytes(len(self.template))
        self.template = None

    def close_face(self) -> None:
        if self.face is not None:
            self.face.close()
        self.face = None

    def wipe(self) -> None:
        """Zero and drop everything personal; idempotent."""
        self.close_face()
        self.zero_template()
        if self.photo is not None and self.photo.flags.writeable:
            self.photo.fill(0)
        if self.card is not None and self.card.photo is not None and self.card.photo.flags.writeable:
            self.card.photo.fill(0)
        self.photo = None
        self.card = None
        self.record = None
        self.extra.clear()
        self.wiped = True


class SessionHolder:
    """The one session of the kiosk's screen; a second flow cannot start while one runs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._current: KioskSession | None = None
        self.wipes = 0  # for tests: every begin() is matched by one wipe

    @property
    def current(self) -> KioskSession | None:
        return self._current

    def begin(self, flow: str) -> KioskSession:
        with self._lock:
            if self._current is not None:
                raise FlowBusy(f"the kiosk is in use ({self._current.flow})")
            self._current = KioskSession(flow)
            return self._current

    def end(self, session: KioskSession | None = None) -> None:
        with self._lock:
            s = self._current if session is None else session
            if s is None:
                return
            s.wipe()
            self.wipes += 1
            if self._current is s:
                self._current = None
            log.debug("kiosk session of %s wiped", s.flow)
