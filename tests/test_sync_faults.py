"""Refusals the kiosk must survive without losing a case: a revoked or forged credential, a package
the back office will not take (malformed, oversized, a newer contract), a clock wrong by hours."""

from __future__ import annotations

import json
import logging
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sync_support import REPO, Backoffice, Clock, Kiosk, deposit, kiosk_at, worker_for

import contract
from kiosk.sync.credential import credential_path, load_credential, new_credential, save_credential
from kiosk.sync.enrol import enrol
from kiosk.sync.status import findings
from locker.outbox import Outbox
from locker.retention import DAY, RetentionJob

_ids = iter(range(1, 1000))


@pytest.fixture
def enrolled(tmp_path: Path, backoffice: Backoffice) -> Iterator[tuple[Kiosk, str]]:
    kiosk_id = f"shengze-{next(_ids):02d}"
    code = backoffice.new_kiosk(kiosk_id, town="shengze")
    with kiosk_at(tmp_path, backoffice.url) as k:
        enrol(k.cfg, backoffice.url, code)
        yield k, kiosk_id


def staff_alerts(k: Kiosk) -> Outbox:
    """An alert outbox with one target (nothing listens: the rows stay, which is what is counted)."""
    return Outbox(k.store.db, ["json://127.0.0.1:9/alerts"])


def by_what(k: Kiosk) -> dict[str, object]:
    return {f.what: f for f in findings(k.cfg)}


def test_revoked_kiosk_is_refused_logged_shown_and_backs_off_until_enrolled_again(
        enrolled: tuple[Kiosk, str], backoffice: Backoffice, caplog: pytest.LogCaptureFixture) -> None:
    k, kiosk_id = enrolled
    alerts = staff_alerts(k)
    worker = worker_for(k, alerts=alerts)
    backoffice.revoke(kiosk_id)
    code = deposit(k, service_id="property_certificate_print", scan_bytes=50_000)
    with caplog.at_level(logging.ERROR, logger="kiosk.sync.worker"):
        assert worker.run_once().stopped == "revoked"
    assert "refused this kiosk (kiosk.revoked)" in caplog.text
    assert worker.queue.get(code).acknowledged_at is None  # kept
    access = by_what(k)["back office access"]
    assert not access.ok and "kiosk.revoked" in access.detail and "kiosk enrol" in access.fix  # type: ignore[attr-defined]
    refusals = len(backoffice.refusals())
    # It does not hammer: the next rounds ask nothing until refused_retry_s has passed …
    for _ in range(3):
        assert worker.run_once().stopped == "revoked"
    assert len(backoffice.refusals()) == refusals
    assert [i.kind for i in alerts.items()] == ["kiosk_revoked"]  # … and staff hear it once
    # A new code from the admin: delivery resumes at once, the case arrives.
    enrol(k.cfg, backoffice.url, backoffice.new_code(kiosk_id), force=True)
    assert worker.run_once().acknowledged == [code]
    assert code in backoffice.cases()
    assert "back office access" not in by_what(k)


def test_forged_credential_is_refused_and_the_back_office_logs_it(enrolled: tuple[Kiosk, str],
                                                                   backoffice: Backoffice) -> None:
    k, kiosk_id = enrolled
    path = credential_path(k.cfg)
    real = load_credential(path)
    forged = new_credential(kiosk_id, f"{kiosk_id}.{secrets.token_urlsafe(32)}", real.kiosk_name, real.town, real.url)
    save_credential(path, forged)
    code = deposit(k, service_id="property_certificate_print", scan_bytes=50_000)
    worker = worker_for(k)
    assert worker.run_once().stopped == "revoked"
    assert code not in backoffice.cases()
    assert backoffice.refusals()[-1]["code"] == "kiosk.credential_invalid"
    assert "kiosk.credential_invalid" in by_what(k)["back office access"].detail  # type: ignore[attr-defined]
    assert oct(path.stat().st_mode & 0o777) == "0o600"


@pytest.mark.parametrize(("mangle", "code", "words"), [
    (lambda d: d | {"contract": contract.CONTRACT_VERSION + 1}, "contract.version_unsupported", "contract version"),
    (lambda d: d | {"phone": "12345"}, "contract.malformed", "case.phone"),
    (lambda d: d | {"service": {**d["service"], "name_zh": "办" * 300}}, "contract.malformed", "name_zh"),
])
def test_a_refused_package_is_kept_shown_alerted_once_and_never_purged(
        enrolled: tuple[Kiosk, str], backoffice: Backoffice, mangle, code: str, words: str,  # noqa: ANN001
        caplog: pytest.LogCaptureFixture) -> None:
    k, _ = enrolled
    alerts = staff_alerts(k)
    worker = worker_for(k, alerts=alerts)
    case_code = deposit(k, service_id="property_certificate_print", scan_bytes=50_000)
    good = deliverable_package(worker, case_code)
    worker.queue.freeze(case_code, json.dumps(mangle(good), ensure_ascii=False).encode())  # as a bad build would
    with caplog.at_level(logging.ERROR, logger="kiosk.sync.worker"):
        report = worker.run_once()
    assert f"back office refused case {case_code} ({code})" in caplog.text and "the kiosk keeps it" in caplog.text
    assert case_code in report.refused and words in report.refused[case_code]
    assert "refused 4" in report.refused[case_code]  # the back office's answer, not a local check
    d = worker.queue.get(case_code)
    assert d.acknowledged_at is None and d.error_code == code and d.refused_at is not None
    line = by_what(k)[f"case {case_code}"]
    assert not line.ok and code in line.detail and words in line.detail  # type: ignore[attr-defined]
    assert case_code not in backoffice.cases()  # never half-stored
    k.store.db.execute("UPDATE deliveries SET next_attempt_at = 0")
    assert case_code in worker.run_once().refused  # tried again later, still refused, still kept
    assert [i.kind for i in alerts.items()] == ["delivery_refused"]
    k.store.submissions.mark_collected(case_code, staff="staff:04****C3")
    job = RetentionJob(k.store.submissions, days=1, clock=lambda: time.time() + 30 * DAY)
    assert job.run().purged_cases == []


def test_an_oversized_package_is_refused_with_a_clear_error(enrolled: tuple[Kiosk, str]) -> None:
    k, _ = enrolled
    worker = worker_for(k)
    case_code = deposit(k, service_id="property_certificate_print", scan_bytes=50_000)
    good = deliverable_package(worker, case_code)
    bloated = json.dumps(good).encode() + b" " * (contract.MAX_PACKAGE_BYTES + 1)
    worker.queue.freeze(case_code, bloated)
    report = worker.run_once()
    assert "limit is" in report.refused[case_code]
    assert worker.queue.get(case_code).error_code == "contract.too_large"
    assert "contract.too_large" in by_what(k)[f"case {case_code}"].detail  # type: ignore[attr-defined]
    # The technician's view, and a retry at once after the fix (not in refused_retry_s).
    config = str(k.cfg.path)
    listed = subprocess.run([sys.executable, "-m", "kiosk.cli", "--config", config, "deliveries"],
                            capture_output=True, text=True, timeout=120, cwd=REPO)
    assert f"{case_code}  REFUSED" in listed.stdout and "contract.too_large" in listed.stdout, listed.stderr
    assert worker.queue.get(case_code).next_attempt_at > time.time() + 60
    retried = subprocess.run([sys.executable, "-m", "kiosk.cli", "--config", config, "deliveries", "retry"],
                             capture_output=True, text=True, timeout=120, cwd=REPO)
    assert retried.returncode == 0 and "1 case(s) due now" in retried.stdout
    assert worker.queue.due() == [case_code]


def deliverable_package(worker, case_code: str) -> dict:  # noqa: ANN001
    from kiosk.sync.package import build_package

    cred = load_credential(worker.credential_file)
    return build_package(worker.store.submissions, worker.guide, cred.kiosk_id, case_code).to_json()


def test_a_kiosk_clock_wrong_by_hours_still_delivers_and_the_back_office_corrects_the_times(
        tmp_path: Path, backoffice: Backoffice) -> None:
    kiosk_id = f"shengze-{next(_ids):02d}"
    enrol_code = backoffice.new_kiosk(kiosk_id, town="shengze")
    clock = Clock(offset=5 * 3600)  # five hours ahead
    with kiosk_at(tmp_path, backoffice.url, clock=clock) as k:
        enrol(k.cfg, backoffice.url, enrol_code)
        worker = worker_for(k)
        first = deposit(k, service_id="property_certificate_print", scan_bytes=50_000)
        committed = time.time()
        assert worker.run_once().acknowledged == [first]
        held = backoffice.cases()[first]
        assert held["deposited_at"] == pytest.approx(committed, abs=120)  # the clerk sees the real time
        assert held["clock_skew_s"] == pytest.approx(-5 * 3600, abs=120)

        # Down while the clock is wrong: the back-off waits are reckoned on the wrong clock …
        backoffice.stop()
        try:
            second = deposit(k, service_id="property_certificate_print", scan_bytes=50_000, seed=7)
            for _ in range(4):
                k.store.db.execute("UPDATE deliveries SET next_attempt_at = 0 WHERE acknowledged_at IS NULL")
                assert worker.run_once().stopped == "unreachable"
        finally:
            backoffice.start()
        clock.offset = 0  # … then someone sets it right: the next try now lies hours ahead,
        assert worker.queue.get(second).next_attempt_at > clock() + 3600
        assert worker.run_once().acknowledged == [second]  # but the case is not parked for hours
        assert second in backoffice.cases()
