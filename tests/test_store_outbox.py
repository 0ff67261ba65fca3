"""Staff alerts: retried with growing back-off against a local HTTP receiver, delivered exactly once."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from devices.errors import ConfigError
from locker.db import Database
from locker.outbox import Backoff, Outbox, OutboxWorker, mask_ids_in_text


class Receiver:
    """A local webhook that answers 500 to the first ``fail_first`` posts, then 200."""

    def __init__(self, fail_first: int) -> None:
        self.fail_first = fail_first
        self.posts: list[dict[str, object]] = []
        self.accepted: list[dict[str, object]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                receiver.posts.append(body)
                ok = len(receiver.posts) > receiver.fail_first
                if ok:
                    receiver.accepted.append(body)
                self.send_response(200 if ok else 500)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"json://127.0.0.1:{self.server.server_address[1]}/alerts"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


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
    with Receiver(fail_first=3) as rx:
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
    assert len(rx.posts) == 4 and len(rx.accepted) == 1
    assert rx.accepted[0]["title"] == "新案件 ABCD2345"
    assert "44010119900101123X" not in json.dumps(rx.accepted[0], ensure_ascii=False)
    assert "4401************3X" in str(rx.accepted[0]["message"])
    (item,) = box.items()
    assert item.delivered_at is not None and item.attempts == 4


def test_each_target_is_retried_alone(db: Database) -> None:
    clock = Clock()
    with Receiver(fail_first=0) as good, Receiver(fail_first=1) as flaky:
        box = Outbox(db, [good.url, flaky.url], clock=clock)
        box.enqueue("alert", "t", "b")
        assert box.deliver_due() == 1
        clock.t += 3600
        assert box.deliver_due() == 1
    assert len(good.posts) == 1 and len(flaky.accepted) == 1


def test_a_claimed_row_is_not_sent_by_a_second_process(db: Database) -> None:
    clock = Clock()
    with Receiver(fail_first=0) as rx:
        box = Outbox(db, [rx.url], clock=clock, lease_s=60)
        (row_id,) = box.enqueue("alert", "t", "b")
        assert box._claim(row_id)  # another process claimed it and then crashed mid-send
        assert box.deliver_due() == 0
        clock.t += 61  # lease expired: the at-least-once window reopens
        assert box.deliver_due() == 1
    assert len(rx.posts) == 1


def test_worker_thread_delivers_after_enqueue(db: Database) -> None:
    with Receiver(fail_first=0) as rx:
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
