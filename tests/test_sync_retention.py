"""What the kiosk keeps: a case the back office has not acknowledged is never purged, however old;
once acknowledged it follows the kiosk's retention like any other."""

from __future__ import annotations

from pathlib import Path

import pytest
from sync_support import Clock, deposit, kiosk_at

from kiosk.sync.package import build_package
from kiosk.sync.queue import DeliveryQueue
from locker.errors import CaseNotFound
from locker.retention import DAY, RetentionJob


def test_a_case_is_never_purged_before_the_back_office_acknowledged_it(tmp_path: Path) -> None:
    clock = Clock()
    with kiosk_at(tmp_path, "http://127.0.0.1:9", clock=clock) as k:
        code = deposit(k, service_id="property_certificate_print", scan_bytes=20_000)
        k.store.submissions.mark_collected(code, staff="staff:04****C3")
        queue = DeliveryQueue(k.store.db, k.store.cipher, clock=clock)
        queue.freeze(code, b'{"frozen": "package"}')  # a first try happened: the package is kept encrypted

        clock.offset = 400 * DAY  # far past retention_days: the back office has been unreachable for a year
        job = RetentionJob(k.store.submissions, days=k.cfg.store.retention_days, clock=clock)
        assert job.run().purged_cases == []
        assert k.store.submissions.identity(code).name == "张三"
        assert build_package(k.store.submissions, k.guide, "qidu-01", code).files  # still deliverable, scans too

        queue.acknowledge(code)
        assert queue.frozen_package(code) is None  # the delivery copy of the personal data goes at once
        assert job.run().purged_cases == [code]
        with pytest.raises(CaseNotFound):
            k.store.submissions.identity(code)


def test_without_a_back_office_retention_does_not_wait_for_one(tmp_path: Path) -> None:
    clock = Clock()
    with kiosk_at(tmp_path, "http://127.0.0.1:9", clock=clock) as k:
        code = deposit(k, service_id="property_certificate_print", scan_bytes=20_000)
        k.store.submissions.mark_collected(code, staff="staff:04****C3")
        clock.offset = 40 * DAY
        job = RetentionJob(k.store.submissions, days=30, clock=clock, hold_undelivered=False)
        assert job.run().purged_cases == [code]
