"""Staff alerts: retried with growing back-off against a local HTTP receiver, delivered exactly once."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from alert_support import AlertReceiver

from devices.errors import ConfigError
from locker.db import Database
from locker.outbox import Backoff, Outbox, OutboxWorker, mask_ids_in_text


class Clock:
    def __init__(self) -> None:
        self.t = 1_000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    d = Database(tmp_path / "k.sqlite3")
    yield d
    d.close()


def test_retried_with_growing_backoff_across_restarts_and_delivered_once(db: Database) -> None:
    clock = Clock()
    backoff = Backoff(base_s=10, factor=2, max_s=3600)
    with AlertReceiver(fail_first=3) as rx:
        box = Outbox(db, [rx.url], clock=clock, backoff=backoff)
        box.enqueue("case.committed", "新案件 ABCD2345", "居民 44010119900101123X 已提交", case_id="ABCD2345")
        waits = []
        for attempt in range(1, 4):
            assert box.deliver_due() == 0
            (item,) = box.pending()
            assert item.attempts == attempt and item.last_error
            waits.append(item.next_attempt_at - clock.t)
            assert box.deliver_due() == 0  # not due yet: nothing is sent
            assert len(rx.posts) == attempt
            box = Outbox(db, [rx.url], clock=clock, backoff=backoff)  # the kiosk restarts
            clock.t = item.next_attempt_at
        assert waits == [10, 20, 40]
        assert box.deliver_due() == 1
        assert box.pending() == []
        clock.t += 10_000
        assert box.deliver_due() == 0
        assert Outbox(db, [rx.url], clock=clock).deliver_due() == 0
    assert len(rx.posts) == 4 and len(rx.received) == 1
    assert rx.received[0]["title"] == "新案件 ABCD2345"
    assert "44010119900101123X" not in json.dumps(rx.received[0], ensure_ascii=False)
    assert "4401************3X" in str(rx.received[0]["message"])
    (item,) = box.items()
    assert item.delivered_at is not None and item.attempts == 4


def test_each_target_is_retried_alone(db: Database) -> None:
    clock = Clock()
    with AlertReceiver(fail_first=0) as good, AlertReceiver(fail_first=1) as flaky:
        box = Outbox(db, [good.url, flaky.url], clock=clock)
        box.enqueue("alert", "t", "b")
        assert box.deliver_due() == 1
        clock.t += 3600
        assert box.deliver_due() == 1
    assert len(good.posts) == 1 and len(flaky.received) == 1


def test_a_claimed_row_is_not_sent_by_a_second_process(db: Database) -> None:
    clock = Clock()
    with AlertReceiver(fail_first=0) as rx:
        box = Outbox(db, [rx.url], clock=clock, lease_s=60)
        (row_id,) = box.enqueue("alert", "t", "b")
        assert box._claim(row_id)  # another process claimed it and then crashed mid-send
        assert box.deliver_due() == 0
        clock.t += 61  # lease expired: the at-least-once window reopens
        assert box.deliver_due() == 1
    assert len(rx.posts) == 1


def test_worker_thread_delivers_after_enqueue(db: Database) -> None:
    with AlertReceiver(fail_first=0) as rx:
        box = Outbox(db, [rx.url])
        worker = OutboxWorker(box, interval_s=60)
        worker.start()
        try:
            box.enqueue("alert", "t", "b")
            end = time.monotonic() + 10
            while box.pending() and time.monotonic() < end:
                time.sleep(0.02)
        finally:
            worker.stop()
        assert box.pending() == []
    assert len(rx.posts) == 1


def test_bad_url_is_a_config_error_and_no_url_queues_nothing(db: Database) -> None:
    with pytest.raises(ConfigError):
        Outbox(db, ["notaservice://x"])
    assert Outbox(db, []).enqueue("k", "t", "b") == []


def test_id_numbers_are_masked_but_other_numbers_are_not() -> None:
    text = "ID 44010119900101123X, old 440101900101123, phone 13800138000, order 1234567890123456789"
    masked = mask_ids_in_text(text)
    assert "4401************3X" in masked and "4401*********23" in masked
    assert "13800138000" in masked and "1234567890123456789" in masked
