"""Page scans and PDFs in the document worker process: the same answers as in-process, typed errors,
background priority, and a worker that dies is replaced for the next call."""

from __future__ import annotations

import os
import re
import signal
import time

import numpy as np
import pytest

from devices.cancel import CancelToken
from devices.document import DocumentFrameError, scan_page
from devices.document.synthetic import a4_photo
from devices.document.worker import DocumentWorker, pages_pdf
from devices.errors import DeviceCancelled


@pytest.fixture(scope="module")
def worker():  # noqa: ANN201
    with DocumentWorker(background=True) as w:
        yield w


def worker_pids(worker: DocumentWorker) -> list[int]:
    return [p.pid for p in worker._pool._processes.values()]  # noqa: SLF001 - the process to inspect


def test_a_page_scanned_in_the_worker_matches_the_same_scan_in_process(worker: DocumentWorker) -> None:
    photo = a4_photo()
    remote, local = worker.scan(photo.frame), scan_page(photo.frame)
    assert remote.found and remote.quality.ok and remote.paper is not None and remote.paper.name == "A4"
    assert np.abs(remote.corners - photo.corners).max() < 3.0  # where the page really is, in pixels
    assert np.array_equal(remote.image, local.image)
    assert [c.data for c in remote.codes] == [c.data for c in local.codes] and remote.codes


def test_the_worker_and_all_its_threads_run_at_background_priority(worker: DocumentWorker) -> None:
    assert worker.probe() == "SCHED_IDLE"
    (pid,) = worker_pids(worker)
    tids = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    assert {os.sched_getscheduler(t) for t in tids} == {os.SCHED_IDLE}
    assert os.sched_getscheduler(0) != os.SCHED_IDLE


def test_a_bad_frame_comes_back_as_the_same_typed_error(worker: DocumentWorker) -> None:
    with pytest.raises(DocumentFrameError) as info:
        worker.scan(np.zeros((10, 10, 3), np.uint8))
    assert info.value.code == "document.bad_frame" and "too small" in info.value.message


def test_one_pdf_of_all_pages_of_a_paper(worker: DocumentWorker) -> None:
    page = scan_page(a4_photo().frame)
    pdf = worker.pdf([(page.image, page.dpi), (page.image, page.dpi)])
    assert pdf.startswith(b"%PDF") and len(re.findall(rb"/Type\s*/Page\b", pdf)) == 2
    assert len(re.findall(rb"/Type\s*/Page\b", pages_pdf([(page.image, page.dpi)]))) == 1


def test_a_worker_killed_mid_service_is_replaced_for_the_next_scan(worker: DocumentWorker) -> None:
    worker.probe()
    (pid,) = worker_pids(worker)
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.2)
    page = worker.scan(a4_photo().frame)
    assert page.found and worker_pids(worker) != [pid]


def test_a_cancelled_scan_returns_at_once() -> None:
    cancel = CancelToken()
    cancel.cancel()
    with DocumentWorker() as w, pytest.raises(DeviceCancelled):
        w.scan(a4_photo().frame, cancel=cancel)
