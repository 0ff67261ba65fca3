"""The SAM module at the far end of a pty, speaking the same frames as a real reader.

Card presence follows the module's rule: find answers 9F only while a card lies on the field and
has not been read since it was placed, so a card left behind by the last resident is not found
again until it is lifted (``remove``) and placed (``insert``). Failures are injected per answer
(``fail``: any SW3; ``corrupt``: a wrong check byte; ``silence``: no answers at all).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from devices.idcard.errors import IdCardChecksumError, IdCardError, IdCardLengthError
from devices.idcard.protocol import (
    ADDRESS_SIZE,
    BAUD_BY_CODE,
    CardData,
    Command,
    FrameReader,
    Request,
    Response,
    SamId,
    Sw3,
    card_data_payload,
    parse_request,
)
from devices.idcard.records import record_from_dict
from devices.idcard.sample_cards import DEFAULT_CARD, SimCard, sample_cards
from devices.idcard.wlt import encode_sim_photo, load_photo
from devices.pty_sim import PtySimulator

log = logging.getLogger(__name__)

_COMMAND_NAMES = {
    "find": Command.FIND,
    "select": Command.SELECT,
    "read": Command.READ_TEXT_PHOTO,
    "read_fingerprint": Command.READ_TEXT_PHOTO_FINGERPRINT,
    "newest_address": Command.READ_NEWEST_ADDRESS,
    "sam_reset": Command.SAM_RESET,
    "sam_status": Command.SAM_STATUS,
    "sam_id": Command.SAM_ID,
    "set_baud": Command.SET_BAUD,
}


@dataclass
class _Failure:
    sw3: Sw3
    times: int
    command: Command | None


class IdCardSimulator(PtySimulator):
    """A resident ID card reader (SAM module) on a pseudo-terminal."""

    name = "idcard"

    def __init__(
        self,
        *,
        baudrate: int = 115200,
        pacing: bool = True,
        link: str | None = None,
        cards: dict[str, SimCard] | None = None,
        sam_id: SamId | None = None,
    ) -> None:
        super().__init__(baudrate=baudrate, pacing=pacing, link=link)
        self.cards: dict[str, SimCard] = cards if cards is not None else sample_cards()
        self.sam_id = sam_id or SamId.from_parts(5, 1, 20200101, 12345, 987654321)
        self.card: SimCard | None = None
        self.card_name = ""
        self.read_since_placed = False
        self.selected = False
        self.reads = 0  # successful card reads, for tests and the panel
        self._frames = FrameReader()
        self._failures: list[_Failure] = []
        self._corrupt = 0
        self._photo_cache: dict[int, tuple[SimCard, bytes]] = {}
        # the serving thread and control calls (tests, panel) change the same card state
        self._state_lock = threading.RLock()

    # -- wire -----------------------------------------------------------------------------
    def on_bytes(self, data: bytes) -> None:
        self._frames.feed(data)
        while True:
            try:
                body = self._frames.next_frame()
            except IdCardChecksumError:
                self._answer(Response(Sw3.CHECKSUM_ERROR))
                continue
            except IdCardLengthError:
                self._answer(Response(Sw3.LENGTH_ERROR))
                continue
            if body is None:
                return
            try:
                req = parse_request(body)
            except IdCardError:
                self._answer(Response(Sw3.BAD_COMMAND))
                continue
            self._handle(req)

    def _answer(self, resp: Response) -> None:
        frame = bytearray(resp.encode())
        if self._corrupt > 0:
            self._corrupt -= 1
            frame[-1] ^= 0xFF
        self.send(bytes(frame))

    def _injected(self, req: Request) -> Sw3 | None:
        for f in self._failures:
            if f.command is None or f.command is req.command:
                f.times -= 1
                if f.times <= 0:
                    self._failures.remove(f)
                return f.sw3
        return None

    def _handle(self, req: Request) -> None:
        with self._state_lock:
            self._handle_locked(req)

    def _handle_locked(self, req: Request) -> None:
        failure = self._injected(req)
        if failure is not None:
            self._answer(Response(failure))
            return
        cmd = req.command
        card = self.card
        fresh = card is not None and not self.read_since_placed
        if cmd is Command.FIND:
            self._answer(Response(Sw3.CARD_FOUND, bytes(4)) if fresh else Response(Sw3.FIND_FAILED))
        elif cmd is Command.SELECT:
            if fresh and card is not None:
                self.selected = True
                self._answer(Response(Sw3.OK, card.serial))
            else:
                self._answer(Response(Sw3.SELECT_FAILED))
        elif cmd in (Command.READ_TEXT_PHOTO, Command.READ_TEXT_PHOTO_FINGERPRINT):
            if card is None or not self.selected:
                self._answer(Response(Sw3.READ_FAILED))
                return
            with_fp = cmd is Command.READ_TEXT_PHOTO_FINGERPRINT
            data = CardData(card.record.encode(), self._photo(card), card.fingerprint)
            # state first, answer second: the host may act (lift the card) as soon as it has the
            # answer. The card stays selected: a host may repeat the read after a garbled answer,
            # but find/select refuse it until it has been lifted and placed again.
            self.read_since_placed = True
            self.reads += 1
            self._answer(Response(Sw3.OK, card_data_payload(data, with_fingerprint=with_fp)))
        elif cmd is Command.READ_NEWEST_ADDRESS:
            if card is None:
                self._answer(Response(Sw3.READ_FAILED))
                return
            raw = card.newest_address.encode("utf-16-le")[:ADDRESS_SIZE]
            raw += " ".encode("utf-16-le") * ((ADDRESS_SIZE - len(raw)) // 2)
            self._answer(Response(Sw3.OK, raw))
        elif cmd in (Command.SAM_RESET, Command.SAM_STATUS):
            self._answer(Response(Sw3.OK))
        elif cmd is Command.SAM_ID:
            self._answer(Response(Sw3.OK, self.sam_id.raw))
        elif cmd is Command.SET_BAUD:
            baud = BAUD_BY_CODE.get(req.para)
            if baud is None:
                self._answer(Response(Sw3.BAD_COMMAND))
                return
            self._answer(Response(Sw3.OK))  # the answer still goes out at the old rate
            self.baudrate = baud

    def _photo(self, card: SimCard) -> bytes:
        key = id(card)
        cached = self._photo_cache.get(key)
        if cached is None or cached[0] is not card:
            field = bytes(1024) if card.photo is None else encode_sim_photo(load_photo(card.photo))
            cached = self._photo_cache[key] = (card, field)  # holding card keeps its id unique
        return cached[1]

    # -- control --------------------------------------------------------------------------
    def ctl_insert(self, card: str | dict[str, Any] = DEFAULT_CARD) -> dict[str, Any]:
        """Place a card on the reader: a prepared identity's name or a dict of record fields."""
        if isinstance(card, dict):
            values = dict(card)
            photo = values.pop("photo", None)
            fingerprint = values.pop("fingerprint", None)
            newest = str(values.pop("newest_address", ""))
            record = record_from_dict(values)
            if isinstance(photo, list):
                photo = np.asarray(photo, dtype=np.uint8)
            sim_card = SimCard(
                record,
                photo,
                bytes.fromhex(fingerprint) if isinstance(fingerprint, str) else fingerprint,
                newest,
            )
            name = f"custom:{record.masked_id_number}"
        else:
            if card not in self.cards:
                raise KeyError(f"no prepared card {card!r}; known: {sorted(self.cards)}")
            sim_card, name = self.cards[card], card
        with self._state_lock:
            self.card, self.card_name = sim_card, name
            self.read_since_placed = False
            self.selected = False
        return self.ctl_state()

    def ctl_remove(self) -> dict[str, Any]:
        """Lift the card off the reader."""
        with self._state_lock:
            self.card, self.card_name = None, ""
            self.read_since_placed = self.selected = False
        return self.ctl_state()

    def ctl_fail(self, sw3: str | int = "read_failed", times: int = 1, command: str | None = None) -> dict[str, Any]:
        """Answer the next command(s) with a failure SW3 (hex like 41 or a name like sam_self_test_failed)."""
        code = Sw3.parse(sw3)
        cmd = None
        if command is not None:
            if command not in _COMMAND_NAMES:
                raise KeyError(f"unknown command {command!r}; known: {sorted(_COMMAND_NAMES)}")
            cmd = _COMMAND_NAMES[command]
        with self._state_lock:
            self._failures.append(_Failure(code, int(times), cmd))
        return self.ctl_state()

    def ctl_corrupt(self, times: int = 1) -> dict[str, Any]:
        """Send the next answer(s) with a wrong check byte."""
        with self._state_lock:
            self._corrupt += int(times)
        return self.ctl_state()

    def ctl_silence(self, on: bool = True) -> dict[str, Any]:
        """Stop answering (on=True) or answer again (on=False), as if the module hung."""
        self.unplugged = bool(on)
        return self.ctl_state()

    def ctl_cards(self) -> dict[str, Any]:
        """List the prepared identities that insert accepts."""
        return {name: str(c.record) for name, c in self.cards.items()}

    def ctl_state(self) -> dict[str, Any]:
        """Card on the field, whether it was read, pending failures, baud rate."""
        return {
            **super().ctl_state(),
            "card": self.card_name or None,
            "card_read": self.read_since_placed,
            "reads": self.reads,
            "pending_failures": [
                {"sw3": f.sw3.name.lower(), "times": f.times, "command": f.command.name.lower() if f.command else None}
                for f in self._failures
            ],
            "pending_corrupt": self._corrupt,
            "silent": self.unplugged,
            "baudrate": self.baudrate,
        }
