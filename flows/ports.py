"""What the flows need of the locker service and the alert outbox, as protocols.

The flows are written against these shapes (``locker.service.LockerService`` and
``locker.outbox.Outbox`` satisfy them), so a flow test can also run against the real service on
the locker simulator, and the flows do not break while the locker layer grows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from devices.cancel import CancelToken
from devices.status import StatusTracker


class LockerPort(Protocol):
    def free_counts(self) -> dict[Any, int]: ...

    def compartments(self) -> list[Any]: ...

    def reserve(self, size: Any, *, case_code: str, purpose: str = "deposit") -> Any: ...

    def release(self, compartment_id: str, *, actor: str) -> None: ...

    def open(
        self,
        compartment_id: str,
        *,
        case_code: str | None,
        purpose: str,
        actor: str,
        reason: str | None = None,
        cancel: CancelToken | None = None,
    ) -> Any: ...

    def wait_closed(
        self,
        tx: Any,
        *,
        timeout: float | None = None,
        cancel: CancelToken | None = None,
        on_reminder: Callable[..., None] | None = None,
    ) -> bool: ...

    def holding(self) -> list[Any]: ...

    def unfinished(self) -> list[Any]: ...

    def history(self, *, compartment_id: str | None = None, case_code: str | None = None) -> list[Any]: ...

    def compartment(self, compartment_id: str) -> Any: ...

    def check_door(
        self, compartment_id: str, *, actor: str, timeout: float = 300.0, cancel: CancelToken | None = None
    ) -> Any: ...

    def back_in_service(
        self, compartment_id: str, *, actor: str, reason: str = "", holding: bool | None = None
    ) -> None: ...


class AlertPort(Protocol):
    def enqueue(self, kind: str, title: str, body: str, case_id: str | None = None) -> list[int]: ...


class AuditPort(Protocol):
    """The hash-chained audit log (``locker.audit.AuditLog``)."""

    def append(
        self, actor: str, action: str, *, case_code: str | None = None, detail: dict[str, Any] | None = None
    ) -> int: ...


#: Every device of the running kiosk with its status (``KioskRuntime.trackers``).
DeviceStatuses = Callable[[], Mapping[str, StatusTracker]]
#: Staff's "test devices": probe each device now (reopen the lost ones) and return one line per
#: device (its answer or its error); the trackers show the status afterwards. Blocking.
DeviceCheck = Callable[[CancelToken], Mapping[str, str]]
