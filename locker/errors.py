"""Errors of the durable store, hung under the one ``KioskError`` tree.

A store error almost never goes away by itself: a full disk, a bad key file or a schema from a
newer release needs someone with a screwdriver or a shell, a broken audit chain needs someone to
look. So the recoveries here lean towards MAINTENANCE and STAFF.
"""

from __future__ import annotations

from devices.errors import KioskError, Recovery


class StoreError(KioskError):
    """The submission store could not do what was asked."""

    recovery = Recovery.MAINTENANCE
    code = "store.error"


class SchemaTooNew(StoreError):
    """The database was written by a newer release; opening it here could corrupt it."""

    code = "store.schema_too_new"


class DiskFull(StoreError):
    """No space left where the database or the scan files live."""

    code = "store.disk_full"


class KeyFileError(StoreError):
    """The encryption key file is missing, unreadable, malformed or readable by others."""

    code = "store.key_file"


class DecryptionError(StoreError):
    """A ciphertext failed its authentication tag: tampered, truncated or moved to another row."""

    recovery = Recovery.STAFF
    code = "store.decrypt"


class AuditChainBroken(StoreError):
    """The audit log's hash chain does not verify (raised by callers that require a clean chain)."""

    recovery = Recovery.STAFF
    code = "store.audit_broken"

    def __init__(self, message: str, *, report: object | None = None) -> None:
        super().__init__(message)
        self.report = report


class CaseNotFound(StoreError):
    """No case with that code (or pickup code) exists."""

    recovery = Recovery.USER
    code = "store.case_not_found"


class InvalidTransition(StoreError):
    """A case was asked to move to a state it cannot reach from where it is."""

    recovery = Recovery.STAFF
    code = "store.invalid_transition"


class IncompleteSubmission(StoreError):
    """A required paper has neither a scan nor a 容缺 (accepted-later) mark."""

    recovery = Recovery.USER
    code = "store.incomplete"


class ScanIntegrityError(StoreError):
    """A scan file is missing or its bytes no longer match the recorded checksum."""

    recovery = Recovery.STAFF
    code = "store.scan_integrity"
