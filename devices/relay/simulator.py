"""An LCUS-type relay module at the far end of a pty: switch commands and the FF status query."""

from __future__ import annotations

import threading
import time
from typing import Any

from devices.errors import ProtocolError
from devices.pty_sim import PtySimulator
from devices.relay.protocol import START, STATUS_QUERY, encode_status_answer, parse_switch


class RelaySimulator(PtySimulator):
    """Relays hold their last commanded state, as the real module does (also across our crash)."""

    name = "relay"

    def __init__(
        self,
        *,
        baudrate: int = 9600,
        pacing: bool = True,
        link: str | None = None,
        channels: int = 1,
        answers_status: bool = True,
    ) -> None:
        super().__init__(baudrate=baudrate, pacing=pacing, link=link)
        self.channels = channels
        self.answers_status = answers_status
        self.relays = [False] * channels
        self.history: list[tuple[float, int, bool]] = []  # (time.time(), channel, on) per switch
        self._buf = bytearray()
        self._lock = threading.Lock()

    def on_bytes(self, data: bytes) -> None:
        self._buf += data
        while self._buf:
            if self._buf[0] == STATUS_QUERY[0]:
                del self._buf[0]
                if self.answers_status:
                    with self._lock:
                        answer = encode_status_answer(self.relays)
                    self.send(answer)
                continue
            if self._buf[0] != START:
                del self._buf[0]
                continue
            if len(self._buf) < 4:
                return
            try:
                cmd = parse_switch(bytes(self._buf[:4]))
            except ProtocolError:
                del self._buf[0]  # the module ignores a bad command
                continue
            del self._buf[:4]
            if cmd.channel <= self.channels:
                self._set(cmd.channel, cmd.on)

    def _set(self, channel: int, on: bool) -> None:
        with self._lock:
            self.relays[channel - 1] = on
            self.history.append((time.time(), channel, on))

    def ctl_set(self, channel: int = 1, on: bool = True) -> dict[str, Any]:
        """Put a relay in a state by hand (e.g. left on by a kiosk that crashed)."""
        self._set(channel, on)
        return {"channel": channel, "on": on}

    def ctl_state(self) -> dict[str, Any]:
        """Which relays are on, and every switch with its time."""
        state = super().ctl_state()
        with self._lock:
            state.update(
                on={str(i): on for i, on in enumerate(self.relays, 1)},
                history=[{"at": at, "channel": ch, "on": on} for at, ch, on in self.history],
            )
        return state
