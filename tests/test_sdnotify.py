"""The watchdog ping reaches a real AF_UNIX datagram socket in systemd's format."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from kiosk.sdnotify import Notifier, watchdog_interval


@pytest.fixture
def notify_socket(tmp_path: Path):
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(2)
    yield str(path), sock
    sock.close()


def test_ready_and_watchdog_datagrams(notify_socket) -> None:
    path, sock = notify_socket
    n = Notifier(path)
    assert n.ready("idle screen shown")
    assert sock.recv(4096) == b"READY=1\nSTATUS=idle screen shown"
    assert n.watchdog()
    assert sock.recv(4096) == b"WATCHDOG=1"
    n.close()


def test_abstract_namespace_socket() -> None:
    name = f"kiosk-test-{os.getpid()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(b"\0" + name.encode())
    sock.settimeout(2)
    try:
        assert Notifier("@" + name).watchdog()
        assert sock.recv(4096) == b"WATCHDOG=1"
    finally:
        sock.close()


def test_without_systemd_nothing_is_sent_and_nothing_fails(monkeypatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert not Notifier().enabled
    assert Notifier().watchdog() is False


def test_gone_socket_is_reported_not_raised(tmp_path: Path) -> None:
    assert Notifier(str(tmp_path / "nobody-listens.sock")).watchdog() is False


def test_watchdog_interval_is_half_the_timeout(monkeypatch) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "20000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert watchdog_interval() == 10.0
    monkeypatch.setenv("WATCHDOG_PID", str(os.getppid()))  # the app as cage's child
    assert watchdog_interval() == 10.0
    monkeypatch.setenv("WATCHDOG_PID", "999999999")
    assert watchdog_interval() is None
