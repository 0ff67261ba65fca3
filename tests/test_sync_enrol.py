"""Enrolment and the channel: `kiosk enrol URL CODE`, the credential beside the key file, HTTPS
checked against the configured certificate, and plain http refused outside simulator mode."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from sync_support import REPO, Backoffice, TlsFront, deposit, kiosk_at, self_signed_cert, worker_for, write_config

from kiosk.sync.credential import credential_path, load_credential, save_credential
from kiosk.sync.enrol import enrol
from kiosk.sync.errors import Unreachable


def kiosk_cmd(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kiosk.cli", "--config", str(config), *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120)


def test_kiosk_enrol_keeps_the_credential_beside_the_key_file(tmp_path: Path, backoffice: Backoffice) -> None:
    config = write_config(tmp_path, backoffice.url)
    code = backoffice.new_kiosk("qidu-enrol")
    doctor = kiosk_cmd(config, "doctor", "--no-devices")
    assert re.search(r"FAIL\s+back office\s+this kiosk is not enrolled", doctor.stdout), doctor.stdout
    assert "fix: kiosk enrol URL CODE" in doctor.stdout
    wrong = kiosk_cmd(config, "enrol", backoffice.url, "AAAA-BBBB-CCCC")
    assert wrong.returncode != 0 and "kiosk.enrol_code_invalid" in wrong.stderr

    done = kiosk_cmd(config, "enrol", backoffice.url, code)
    assert done.returncode == 0, done.stderr
    assert "enrolled as qidu-enrol (七都便民服务中心, 七都镇)" in done.stdout
    cred_file = tmp_path / "var" / "keys" / "backoffice.credential"
    key_file = tmp_path / "var" / "keys" / "kiosk.key"
    assert cred_file.stat().st_mode & 0o777 == 0o600
    secret = load_credential(cred_file).token.split(".", 1)[1]
    assert secret not in done.stdout + done.stderr  # shown nowhere
    if key_file.exists():
        assert (cred_file.stat().st_uid, cred_file.stat().st_gid) == (key_file.stat().st_uid, key_file.stat().st_gid)

    doctor = kiosk_cmd(config, "doctor", "--no-devices")
    assert re.search(r"OK\s+back office\s+enrolled as qidu-enrol", doctor.stdout), doctor.stdout

    again = kiosk_cmd(config, "enrol", backoffice.url, code)
    assert again.returncode == 2 and "already enrolled as qidu-enrol" in again.stderr and "--force" in again.stderr
    kept = kiosk_cmd(config, "enrol", "--if-needed", backoffice.url, code)  # the code is spent; the credential works
    assert kept.returncode == 0 and "already enrolled as qidu-enrol" in kept.stdout
    assert load_credential(cred_file).token.split(".", 1)[1] == secret

    cred = load_credential(cred_file)  # a credential the back office does not take (damaged, forged) …
    save_credential(cred_file, replace(cred, token=f"qidu-enrol.{'x' * 43}"))
    stale = kiosk_cmd(config, "enrol", "--if-needed", backoffice.url, backoffice.new_code("qidu-enrol"))
    assert stale.returncode == 0 and stale.stdout.startswith("enrolled as qidu-enrol")  # … is replaced
    assert load_credential(cred_file).token.split(".", 1)[1] != secret


def test_plain_http_is_refused_outside_simulator_mode(tmp_path: Path) -> None:
    config = write_config(tmp_path, "http://backoffice.example.gov.cn", simulator=False)
    check = kiosk_cmd(config, "config", "check")
    assert check.returncode == 2
    assert "backoffice.url" in check.stderr and "plain http://" in check.stderr and "https://" in check.stderr
    sim = kiosk_cmd(write_config(tmp_path / "sim", "http://127.0.0.1:8765"), "config", "check")
    assert sim.returncode == 0 and "back office      enabled   http://127.0.0.1:8765" in sim.stdout


def test_https_with_the_configured_certificate_and_nothing_else(tmp_path: Path, backoffice: Backoffice) -> None:
    cert, key = self_signed_cert(tmp_path / "tls")
    front = TlsFront(backoffice.port, cert, key)
    try:
        code = backoffice.new_kiosk("qidu-tls")
        with kiosk_at(tmp_path / "trusting", front.url, simulator=False, extra=f'\nca_file = "{cert}"') as k:
            assert k.cfg.backoffice.ca_file == cert
            enrol(k.cfg, front.url, code)
            case_code = deposit(k, service_id="property_certificate_print", scan_bytes=50_000)
            assert worker_for(k).run_once().acknowledged == [case_code]
        assert case_code in backoffice.cases()

        # A kiosk that was not given this certificate will not talk to it (no personal data leaves).
        with kiosk_at(tmp_path / "other", front.url, simulator=False) as k2:
            with pytest.raises(Unreachable, match="did not prove who it is"):
                enrol(k2.cfg, front.url, backoffice.new_code("qidu-tls"))
            assert not credential_path(k2.cfg).exists()
    finally:
        front.close()
