"""LCUS-type USB relay module as the entrance-door relay (see ``protocol.py`` for the bytes)."""

from __future__ import annotations

import logging

from devices.cancel import Deadline
from devices.errors import DeviceOffline, DeviceTimeout, ProtocolError
from devices.relay.base import DoorRelay
from devices.relay.errors import RelayConfigError, RelayOffline, RelayStuck
from devices.relay.protocol import (
    MAX_CHANNELS,
    STATUS_QUERY,
    encode_switch,
    parse_status_answer,
    status_answer_length,
)
from devices.serial_link import SerialLink
from devices.status import DeviceStatus

log = logging.getLogger(__name__)


class LcusRelay(DoorRelay):
    """One channel of an LCUS-1/2/4/8 module.

    ``query_status=False`` is for modules that do not answer the ``FF`` status query (reported for
    some LCUS-1 boards): then switching is fire-and-forget and ``probe`` can only check the port.
    """

    def __init__(
        self,
        port: str,
        baudrate: int = 9600,
        *,
        channel: int = 1,
        channels: int = 1,
        timeout: float = 0.5,
        query_status: bool = True,
        name: str = "door_relay",
    ) -> None:
        super().__init__(name)
        if not 1 <= channel <= channels <= MAX_CHANNELS:
            raise RelayConfigError(f"channel {channel} of a {channels}-channel module", device=name)
        self.channel = channel
        self.channels = channels
        self.timeout = timeout
        self.query_status = query_status
        self._link = SerialLink(port, baudrate, device=name)

    # -- life cycle ---------------------------------------------------------------------------
    def open(self) -> None:
        """Open the port and switch the relay off: it may still be on from a crashed run."""
        with self._link.lock:
            try:
                self._link.open()
            except DeviceOffline as exc:
                self.status.set(DeviceStatus.OFFLINE, str(exc))
                raise RelayOffline(exc.message, device=self.name) from exc
        self.release()

    def close(self) -> None:
        """Switch off (best effort) and close the port."""
        try:
            self.release()
        except (RelayOffline, RelayStuck, DeviceOffline) as exc:
            log.warning("%s: switch-off at close failed: %s", self.name, exc)
        with self._link.lock:
            self._link.close()
        self.status.set(DeviceStatus.OFFLINE, "closed")

    def probe(self) -> str:
        if not self._link.is_open:
            self.open()
        if not self.query_status:
            return f"LCUS relay on {self._link.port}, channel {self.channel} (status query disabled)"
        states = self.read_states()
        shown = ", ".join(f"CH{c} {'on' if on else 'off'}" for c, on in sorted(states.items()))
        return f"LCUS relay, {len(states)} channel(s): {shown}"

    # -- wire ---------------------------------------------------------------------------------
    def read_states(self, timeout: float | None = None) -> dict[int, bool]:
        """Ask the module which relays are on."""
        wait = self.timeout if timeout is None else timeout
        with self._link.lock:
            try:
                self._reopen()
                self._link.discard_input()
                self._link.write(STATUS_QUERY)
                data = self._link.read_exact(
                    status_answer_length(self.channels), Deadline(wait, "relay status", self.name)
                )
                states = parse_status_answer(data)
            except DeviceOffline as exc:
                self._link.close()
                self.status.set(DeviceStatus.OFFLINE, str(exc))
                raise RelayOffline(exc.message, device=self.name) from exc
            except (DeviceTimeout, ProtocolError) as exc:
                self.status.set(DeviceStatus.OFFLINE, f"no valid status answer: {exc.message}")
                raise RelayOffline(f"relay module gives no valid status: {exc.message}", device=self.name) from exc
        self.status.set(DeviceStatus.ONLINE, "")
        return states

    def _switch(self, on: bool) -> None:
        with self._link.lock:
            try:
                self._reopen()
                self._link.write(encode_switch(self.channel, on))
            except DeviceOffline as exc:
                self._link.close()
                self.status.set(DeviceStatus.OFFLINE, str(exc))
                raise RelayOffline(exc.message, device=self.name) from exc
            if not self.query_status:
                self.status.set(DeviceStatus.ONLINE, "unverified (no status query)")
                return
            states = self.read_states()
        if states.get(self.channel) != on:
            self.status.set(DeviceStatus.HARDWARE_ERROR, f"channel {self.channel} did not switch")
            raise RelayStuck(
                f"channel {self.channel} reports {'on' if states.get(self.channel) else 'off'} "
                f"after switching {'on' if on else 'off'}",
                device=self.name,
            )

    def _reopen(self) -> None:
        if not self._link.is_open:
            self._link.open()
