"""Driver of a ZhianTec / Synochip fingerprint sensor (ZFM-20, R30x, R503, AS608) on a serial port.

Two levels: one method per sensor instruction (gen_img, img2tz, search, up_char, ...) that raises a
typed error for every non-OK confirmation, and the helpers flows use (capture, enroll, verify,
identify) that poll for the finger, honour a time-out and a cancel token, and turn the sensor's
answers into "press again" / "lift your finger" errors the screen can show.

The kiosk keeps templates on the host (tied to the resident's case), so ``enroll`` returns the
512-byte template and ``verify`` downloads it into the sensor for a 1:1 match; the sensor's own
library (store/search) serves 1:N identification, e.g. for staff.
"""

from __future__ import annotations

import contextlib
import logging
import struct
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

from devices.cancel import CancelToken, Deadline
from devices.errors import DeviceCancelled, DeviceError, DeviceOffline, DeviceTimeout
from devices.fingerprint.codes import error_for
from devices.fingerprint.errors import (
    FingerprintAddressError,
    FingerprintBadTemplate,
    FingerprintError,
    FingerprintFrameError,
    FingerprintHardwareError,
    FingerprintInvalidRegister,
    FingerprintNoFinger,
    FingerprintNoMatch,
    FingerprintNotFound,
    FingerprintNotLifted,
    FingerprintPacketError,
    FingerprintProtocolError,
    FingerprintWrongPassword,
)
from devices.fingerprint.protocol import (
    BAUD_UNIT,
    DEFAULT_ADDRESS,
    HEADER_LEN,
    IMAGE_SIZE,
    START,
    TEMPLATE_SIZE,
    Ack,
    Confirmation,
    DataAssembler,
    Instruction,
    Packet,
    SysParam,
    SystemParameters,
    decode_ack,
    decode_count,
    decode_header,
    decode_index_table,
    decode_packet,
    decode_score,
    decode_search,
    decode_sys_para,
    encode_command,
    encode_data,
)
from devices.serial_link import SerialLink
from devices.status import DeviceStatus, StatusTracker
from devices.wire_time import wire_seconds

log = logging.getLogger(__name__)

BUFFER_1 = 1
BUFFER_2 = 2
MODULE_OK_BYTE = 0x55
_T = TypeVar("_T")


class FingerprintSensor:
    """One sensor on one serial port; thread-safe (one command at a time)."""

    def __init__(
        self,
        port: str,
        baudrate: int = 57600,
        *,
        address: int = DEFAULT_ADDRESS,
        password: int = 0,
        timeout: float = 2.0,
        finger_timeout: float = 15.0,
        poll_interval: float = 0.05,
        name: str = "fingerprint",
        protocol_retries: int = 2,
    ) -> None:
        self.name = name
        self.protocol_retries = protocol_retries  # garbled answers asked again before giving up
        self.address = address
        self.password = password
        self.timeout = timeout  # one command and its answer
        self.finger_timeout = finger_timeout  # waiting for a person to place or lift the finger
        self.poll_interval = poll_interval
        self.link = SerialLink(port, baudrate, device=name)
        self.status = StatusTracker(name)
        self.params: SystemParameters | None = None
        self._depth = 0  # nesting of _busy, so only the outermost call sets the status

    # -- life cycle --------------------------------------------------------------------------
    def open(self, *, timeout: float | None = None, cancel: CancelToken | None = None) -> None:
        """Open the port, verify the password and read the parameters (packet size, capacity)."""
        try:
            self.link.open()
            with self._busy("open"):
                self._verify_password(timeout, cancel)
                self.read_sys_para(timeout=timeout, cancel=cancel)
        except DeviceError as exc:
            self.link.close()
            if self.status.status is not DeviceStatus.HARDWARE_ERROR:
                self.status.set(DeviceStatus.OFFLINE, f"open failed: {exc}")
            raise
        log.info("%s: open on %s, %s", self.name, self.link.port, self._describe())

    def close(self) -> None:
        self.link.close()
        self.status.set(DeviceStatus.OFFLINE, "closed")

    def __enter__(self) -> FingerprintSensor:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def probe(self, *, timeout: float | None = None, cancel: CancelToken | None = None) -> str:
        """One line about the sensor, e.g. "capacity 300, 12 templates, packet 128 B, level 3"."""
        with self._busy("probe"):
            self.read_sys_para(timeout=timeout, cancel=cancel)
            count = self.template_count(timeout=timeout, cancel=cancel)
        return f"{self._describe()}, {count} templates"

    def _describe(self) -> str:
        p = self.params
        if p is None:
            return "parameters unknown"
        return (
            f"capacity {p.capacity}, packet {p.packet_size} B, security level {p.security_level}, "
            f"{p.baudrate} baud, address {p.address:08X}"
        )

    # -- status ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _busy(self, what: str) -> Iterator[None]:
        """Hold the port for a whole operation and keep the status true around it."""
        with self.link.lock:
            self._depth += 1
            outer = self._depth == 1
            if outer:
                self.status.set(DeviceStatus.BUSY, what)
            try:
                yield
            except DeviceOffline as exc:
                self.status.set(DeviceStatus.OFFLINE, str(exc))
                raise
            except DeviceTimeout as exc:
                # A command without answer: unplugged, powered off or wrong baud rate.
                self.status.set(DeviceStatus.OFFLINE, str(exc))
                raise
            except (FingerprintHardwareError, FingerprintWrongPassword, FingerprintAddressError) as exc:
                self.status.set(DeviceStatus.HARDWARE_ERROR, str(exc))
                raise
            except BaseException:
                if outer:
                    self.status.set(DeviceStatus.ONLINE if self.link.is_open else DeviceStatus.OFFLINE)
                raise
            else:
                if outer:
                    self.status.set(DeviceStatus.ONLINE)
            finally:
                self._depth -= 1

    # -- wire --------------------------------------------------------------------------------
    def _deadline(self, what: str, timeout: float | None) -> Deadline:
        return Deadline(self.timeout if timeout is None else timeout, f"fingerprint {what}", self.name)

    def _read_packet(self, deadline: Deadline, cancel: CancelToken | None) -> Packet:
        """The next packet, skipping noise up to a start code ``EF 01``."""
        link = self.link
        link.read_until_byte(START[:1], deadline, cancel)
        while True:
            second = link.read_exact(1, deadline, cancel)
            if second == START[1:]:
                head = START + link.read_exact(HEADER_LEN - 2, deadline, cancel)
                try:
                    header = decode_header(head)
                except FingerprintFrameError:
                    log.debug("%s: skipping noise %s", self.name, head.hex(" "))
                    link.read_until_byte(START[:1], deadline, cancel)
                    continue
                packet = decode_packet(head + link.read_exact(header.length, deadline, cancel))
                if packet.address != self.address:
                    raise FingerprintFrameError(
                        f"answer from address {packet.address:08X}, expected {self.address:08X}",
                        device=self.name,
                    )
                return packet
            if second != START[:1]:
                link.read_until_byte(START[:1], deadline, cancel)

    def _send_command(
        self, instruction: Instruction, params: bytes, deadline: Deadline, cancel: CancelToken | None
    ) -> Ack:
        self.link.discard_input()  # a late answer to an earlier, timed-out command
        self.link.write(encode_command(instruction, params, self.address))
        try:
            return decode_ack(self._read_packet(deadline, cancel))
        except FingerprintProtocolError as exc:
            exc.device = self.name
            raise

    def _command(
        self,
        instruction: Instruction,
        params: bytes = b"",
        *,
        timeout: float | None = None,
        cancel: CancelToken | None = None,
        accept: tuple[Confirmation, ...] = (Confirmation.OK,),
        deadline: Deadline | None = None,
    ) -> Ack:
        """Send one command; return its ack when the code is in ``accept``, else raise its error.

        A "password needed" answer means the sensor was power-cycled behind our back: verify the
        password again and repeat the command once.
        """
        what = instruction.name.lower()
        deadline = deadline or self._deadline(what, timeout)
        with self._busy(what):
            for attempt in range(self.protocol_retries + 1):
                try:
                    return self._command_once(instruction, params, what, deadline, timeout, cancel, accept)
                except (FingerprintProtocolError, FingerprintPacketError) as exc:
                    # A garbled answer (noise on the wire, a sensor mid-reboot) says nothing about the
                    # finger: ask again a couple of times before the resident's session hears of it.
                    # Every command this driver sends may be repeated (they read, or write the same).
                    if attempt >= self.protocol_retries or deadline.expired:
                        raise
                    log.warning(
                        "%s: %s answer garbled (%s); asking again (%d/%d)",
                        self.name, what, exc.message, attempt + 1, self.protocol_retries,
                    )
            raise AssertionError("unreachable")  # pragma: no cover

    def _command_once(
        self,
        instruction: Instruction,
        params: bytes,
        what: str,
        deadline: Deadline,
        timeout: float | None,
        cancel: CancelToken | None,
        accept: tuple[Confirmation, ...],
    ) -> Ack:
        ack = self._send_command(instruction, params, deadline, cancel)
        if ack.confirmation is Confirmation.PASSWORD_NEEDED and instruction is not Instruction.VFY_PWD:
            log.warning("%s: sensor asks for the password again (was it reset?)", self.name)
            self._verify_password(timeout, cancel)
            ack = self._send_command(instruction, params, deadline, cancel)
        if ack.confirmation not in accept:
            raise error_for(ack.confirmation, what, self.name)
        return ack

    def _verify_password(self, timeout: float | None, cancel: CancelToken | None) -> None:
        ack = self._command(
            Instruction.VFY_PWD,
            struct.pack(">I", self.password),
            timeout=timeout,
            cancel=cancel,
            accept=(Confirmation.OK, Confirmation.WRONG_PASSWORD, Confirmation.PASSWORD_NEEDED),
        )
        if not ack.ok:
            raise FingerprintWrongPassword(
                "the sensor refuses the configured password", device=self.name
            )

    # -- system instructions -------------------------------------------------------------------
    def handshake(self, *, timeout: float | None = None, cancel: CancelToken | None = None) -> None:
        self._command(Instruction.HANDSHAKE, timeout=timeout, cancel=cancel)

    def get_echo(self, *, timeout: float | None = None, cancel: CancelToken | None = None) -> None:
        """Ask the module whether it is alive (answers 55 "module ok")."""
        self._command(Instruction.GET_ECHO, timeout=timeout, cancel=cancel, accept=(Confirmation.MODULE_OK,))

    def read_sys_para(
        self, *, timeout: float | None = None, cancel: CancelToken | None = None
    ) -> SystemParameters:
        ack = self._command(Instruction.READ_SYS_PARA, timeout=timeout, cancel=cancel)
        try:
            self.params = decode_sys_para(ack.data)
        except FingerprintProtocolError as exc:
            exc.device = self.name
            raise
        return self.params

    def set_sys_para(
        self,
        param: SysParam,
        value: int,
        *,
        timeout: float | None = None,
        cancel: CancelToken | None = None,
    ) -> None:
        """Change the baud multiplier (N x 9600), security level (1-5) or packet size code (0-3)."""
        if not 0 <= value <= 0xFF:
            raise FingerprintInvalidRegister(f"value {value} does not fit one byte", device=self.name)
        with self._busy("set_sys_para"):
            self._command(Instruction.SET_SYS_PARA, bytes([param, value]), timeout=timeout, cancel=cancel)
            if param == SysParam.BAUD:
                # The sensor switches speed after its answer: follow it on the same port.
                self.link.close()
                self.link.baudrate = value * BAUD_UNIT
                self.link.open()
            self.read_sys_para(timeout=timeout, cancel=cancel)

    def set_password(
        self, password: int, *, timeout: float | None = None, cancel: CancelToken | None = None
    ) -> None:
        """Store a new handshake password in the sensor; the driver uses it from now on."""
        self._command(Instruction.SET_PWD, struct.pack(">I", password), timeout=timeout, cancel=cancel)
        self.password = password

    def soft_reset(self, *, timeout: float | None = None, cancel: CancelToken | None = None) -> None:
        """Reset the module; it answers, then sends 55 when ready; the password is verified again."""
        deadline = self._deadline("soft_reset", timeout)
        with self._busy("soft_reset"):
            self._command(Instruction.SOFT_RESET, deadline=deadline, cancel=cancel)
            ready = self.link.read_exact(1, deadline, cancel)
            if ready[0] != MODULE_OK_BYTE:
                raise FingerprintProtocolError(
                    f"soft reset: expected 55 when ready, got {ready.hex()}", device=self.name
                )
            self._verify_password(timeout, cancel)

    def template_count(self, *, timeout: float | None = None, cancel: CancelToken | None = None) -> int:
        ack = self._command(Instruction.TEMPLATE_NUM, timeout=timeout, cancel=cancel)
        return self._decode(decode_count, ack)

    def read_index_table(
        self,
        index_page: int | None = None,
        *,
        timeout: float | None = None,
        cancel: CancelToken | None = None,
    ) -> list[int]:
        """Used pages: of one index page (256 pages each), or of the whole library when None."""
        with self._busy("read_index_table"):
            if index_page is None:
                capacity = (self.params or self.read_sys_para(timeout=timeout, cancel=cancel)).capacity
                index_pages = range((capacity + 255) // 256)
            else:
                index_pages = range(index_page, index_page + 1)
            used: list[int] = []
            for page in index_pages:
                ack = self._command(
                    Instruction.READ_INDEX_TABLE, bytes([page]), timeout=timeout, cancel=cancel
                )
                used += self._decode(decode_index_table, ack, page)
            return used

    def _decode(self, fn: Callable[..., _T], ack: Ack, *args: int) -> _T:
        try:
            return fn(ack, *args)
        except FingerprintProtocolError as exc:
            exc.device = self.name
            raise

    # -- fingerprint instructions --------------------------------------------------------------
    def gen_img(self, *, timeout: float | None = None, cancel: CancelToken | None = None) -> None:
        """Take an image; FingerprintNoFinger when nothing is on the glass."""
        self._command(Instruction.GEN_IMG, timeout=timeout, cancel=cancel)

    def img2tz(
        self, buffer: int = BUFFER_1, *, timeout: float | None = None, cancel: CancelToken | None = None
    ) -> None:
        """Extract features of the image into a char buffer (1 or 2)."""
        self._command(Instruction.IMG2TZ, bytes([_buffer(buffer)]), timeout=timeout, cancel=cancel)

    def reg_model(self, *, timeout: float | None = None, cancel: CancelToken | None = None) -> None:
        """Combine buffers 1 and 2 into one template (left in both buffers)."""
        self._command(Instruction.REG_MODEL, timeout=timeout, cancel=cancel)

    def store(
        self,
        buffer: int,
        page: int,
        *,
        timeout: float | None = None,
        cancel: CancelToken | None = None,
    ) -> None:
        self._command(
            Instruction.STORE, struct.pack(">BH", _buffer(buffer), _u16(page)), timeout=timeout, cancel=cancel
        )

    def load_char(
        self,
        buffer: int,
        page: int,
        *,
        timeout: float | None = None,
        cancel: CancelToken | None = None,
    ) -> None:
        self._command(
            Instruction.LOAD_CHAR,
            struct.pack(">BH", _buffer(buffer), _u16(page)),
            timeout=timeout,
            cancel=cancel,
        )

    def match(self, *, timeout: float | None = None, cancel: CancelToken | None = None) -> int:
        """Score of buffer 1 against buffer 2; FingerprintNoMatch (with ``.score``) below threshold."""
        ack = self._command(
            Instruction.MATCH,
            timeout=timeout,
            cancel=cancel,
            accept=(Confirmation.OK, Confirmation.NO_MATCH),
        )
        score = decode_score(ack) if len(ack.data) >= 2 else 0
        if not ack.ok:
            err = FingerprintNoMatch(f"match: templates do not match (score {score})", device=self.name)
            err.score = score
            raise err
        return score

    def search(
        self,
        buffer: int = BUFFER_1,
        start: int = 0,
        count: int | None = None,
        *,
        timeout: float | None = None,
        cancel: CancelToken | None = None,
    ) -> tuple[int, int]:
        """(page, score) of the best stored template for a char buffer; FingerprintNotFound if none."""
        with self._busy("search"):
            if count is None:
                capacity = (self.params or self.read_sys_para(timeout=timeout, cancel=cancel)).capacity
                count = max(0, capacity - start)
            ack = self._command(
                Instruction.SEARCH,
                struct.pack(">BHH", _buffer(buffer), _u16(start), _u16(count)),
                timeout=timeout,
                cancel=cancel,
            )
            return self._decode(decode_search, ack)

    def up_char(
        self, buffer: int = BUFFER_1, *, timeout: float | None = None, cancel: CancelToken | None = None
    ) -> bytes:
        """The template in a char buffer, sent by the sensor as data packets."""
        deadline = self._deadline("up_char", timeout)
        with self._busy("up_char"):
            self._command(Instruction.UP_CHAR, bytes([_buffer(buffer)]), deadline=deadline, cancel=cancel)
            assembler = DataAssembler(limit=TEMPLATE_SIZE)
            try:
                while not assembler.add(self._read_packet(deadline, cancel)):
                    pass
            except FingerprintProtocolError as exc:
                exc.device = self.name
                raise
            return assembler.data()

    def up_image(
        self, *, timeout: float | None = None, cancel: CancelToken | None = None
    ) -> bytes:
        """The last finger image (256 x 288, 4 bits per pixel) for staff diagnostics.

        36 KiB take seconds at 57600 baud, so the default time-out grows with the wire time.
        """
        if timeout is None:
            timeout = max(self.timeout, 2 * wire_seconds(IMAGE_SIZE * 12 // 10, self.link.baudrate) + 1)
        deadline = self._deadline("up_image", timeout)
        with self._busy("up_image"):
            self._command(Instruction.UP_IMAGE, deadline=deadline, cancel=cancel)
            assembler = DataAssembler(limit=IMAGE_SIZE)
            try:
                while not assembler.add(self._read_packet(deadline, cancel)):
                    pass
            except FingerprintProtocolError as exc:
                exc.device = self.name
                raise
            return assembler.data()

    def down_char(
        self,
        buffer: int,
        template: bytes,
        *,
        timeout: float | None = None,
        cancel: CancelToken | None = None,
    ) -> None:
        """Send a template to a char buffer as data packets of the sensor's packet size."""
        if len(template) != TEMPLATE_SIZE:
            raise FingerprintBadTemplate(
                f"a template has {TEMPLATE_SIZE} bytes, not {len(template)}", device=self.name
            )
        with self._busy("down_char"):
            params = self.params or self.read_sys_para(timeout=timeout, cancel=cancel)
            self._command(Instruction.DOWN_CHAR, bytes([_buffer(buffer)]), timeout=timeout, cancel=cancel)
            self.link.write(encode_data(template, params.packet_size, self.address))

    def delete(
        self,
        page: int,
        count: int = 1,
        *,
        timeout: float | None = None,
        cancel: CancelToken | None = None,
    ) -> None:
        self._command(
            Instruction.DELETE, struct.pack(">HH", _u16(page), _u16(count)), timeout=timeout, cancel=cancel
        )

    def empty(self, *, timeout: float | None = None, cancel: CancelToken | None = None) -> None:
        """Delete every template in the sensor's library."""
        self._command(Instruction.EMPTY, timeout=timeout, cancel=cancel)

    # -- what flows use ------------------------------------------------------------------------
    def capture(
        self,
        buffer: int = BUFFER_1,
        timeout: float | None = None,
        cancel: CancelToken | None = None,
    ) -> None:
        """Wait for a finger, take its image and extract features into ``buffer``.

        No finger: keep polling until the time-out (FingerprintNoFinger) or cancel. A bad image
        (failed, messy, too few features, invalid) raises its "press again" user error at once so
        the screen can tell the resident.
        """
        deadline = Deadline(
            self.finger_timeout if timeout is None else timeout, "waiting for a finger", self.name
        )
        with self._busy("capture"):
            while True:
                ack = self._command(
                    Instruction.GEN_IMG,
                    cancel=cancel,
                    accept=(Confirmation.OK, Confirmation.NO_FINGER),
                )
                if ack.ok:
                    break
                self._pause(deadline, cancel, FingerprintNoFinger, "no finger placed")
            self.img2tz(buffer, cancel=cancel)

    def wait_finger_lifted(self, timeout: float | None = None, cancel: CancelToken | None = None) -> None:
        """Poll until the sensor sees no finger (between the two enrolment captures)."""
        deadline = Deadline(
            self.finger_timeout if timeout is None else timeout, "waiting for the finger to lift", self.name
        )
        with self._busy("wait_finger_lifted"):
            while True:
                ack = self._command(
                    Instruction.GEN_IMG,
                    cancel=cancel,
                    accept=(Confirmation.OK, Confirmation.NO_FINGER, Confirmation.IMAGE_FAILED),
                )
                if ack.confirmation is Confirmation.NO_FINGER:
                    return
                self._pause(deadline, cancel, FingerprintNotLifted, "finger not lifted")

    def _pause(
        self,
        deadline: Deadline,
        cancel: CancelToken | None,
        error: type[FingerprintError],
        message: str,
    ) -> None:
        """Wait one poll interval; raise the user error at the deadline, DeviceCancelled on cancel."""
        if deadline.expired:
            raise error(f"{message} within {deadline.seconds:.1f} s", device=self.name)
        wait = min(self.poll_interval, deadline.remaining())
        if cancel is None:
            time.sleep(wait)
        elif cancel.wait(wait):
            raise DeviceCancelled(f"{message}: cancelled", device=self.name)

    def enroll(
        self,
        timeout: float | None = None,
        cancel: CancelToken | None = None,
        *,
        page: int | None = None,
        on_step: Callable[[str], None] | None = None,
    ) -> bytes:
        """Two captures with a lift between, combined into the 512-byte template.

        ``timeout`` applies to each wait for the person. With ``page`` the template is also stored
        in the sensor's library. FingerprintEnrollMismatch when the two captures differ.
        ``on_step`` hears "first_captured", "lifted" and "second_captured" as they happen, so the
        screen can tell the resident to lift the finger and press again.
        """
        step = on_step or (lambda _what: None)
        with self._busy("enroll"):
            self.capture(BUFFER_1, timeout, cancel)
            step("first_captured")
            self.wait_finger_lifted(timeout, cancel)
            step("lifted")
            self.capture(BUFFER_2, timeout, cancel)
            step("second_captured")
            self.reg_model(cancel=cancel)
            template = self.up_char(BUFFER_1, cancel=cancel)
            if page is not None:
                self.store(BUFFER_1, page, cancel=cancel)
            return template

    def verify(
        self,
        template: bytes,
        timeout: float | None = None,
        cancel: CancelToken | None = None,
    ) -> tuple[bool, int]:
        """1:1: does the finger on the sensor match this stored template? (matched, score)."""
        with self._busy("verify"):
            self.down_char(BUFFER_2, template, cancel=cancel)
            self.capture(BUFFER_1, timeout, cancel)
            try:
                return True, self.match(cancel=cancel)
            except FingerprintNoMatch as exc:
                return False, exc.score

    def identify(
        self,
        timeout: float | None = None,
        cancel: CancelToken | None = None,
        *,
        start: int = 0,
        count: int | None = None,
    ) -> tuple[int, int] | None:
        """1:N over the sensor's library: (page, score) of the finger placed, None if unknown."""
        with self._busy("identify"):
            self.capture(BUFFER_1, timeout, cancel)
            try:
                return self.search(BUFFER_1, start, count, cancel=cancel)
            except FingerprintNotFound:
                return None


def _buffer(buffer: int) -> int:
    if buffer not in (BUFFER_1, BUFFER_2):
        raise FingerprintInvalidRegister(f"char buffer must be 1 or 2, not {buffer}")
    return buffer


def _u16(value: int) -> int:
    if not 0 <= value <= 0xFFFF:
        raise FingerprintInvalidRegister(f"{value} does not fit two bytes")
    return value

