"""The fleet as `make run` has it: the real runtime over `kiosk sim all`, enrolled with the real
back office. Its heartbeat reaches the back office, and a simulated device unplugged in the panel
shows there within a heartbeat or two, and so does plugging it back."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from runtime_support import Hands, wait_until
from sync_support import Backoffice, enrolled_runtime

from kiosk.runtime import KioskRuntime

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[KioskRuntime, Hands, Backoffice]]:
    tmp = tmp_path_factory.mktemp("fleet-runtime")
    faster = lambda text: text.replace("heartbeat_interval_s = 2", "heartbeat_interval_s = 1")  # noqa: E731
    with enrolled_runtime(tmp, faster) as running:
        yield running


def fingerprint_on_dashboard(backoffice: Backoffice) -> str | None:
    return backoffice.shell(
        "import json\nfrom backoffice.fleet.models import KioskState\n"
        "s = KioskState.objects.filter(kiosk__kiosk_id='qidu-sim').first()\n"
        "print(json.dumps(None if s is None else next((d['status'] for d in s.devices "
        "if d['name'] == 'fingerprint'), None)))")


def test_an_unplugged_device_shows_in_the_back_office_and_so_does_plugging_it_back(running) -> None:  # noqa: ANN001
    runtime, hands, backoffice = running
    assert runtime.heartbeat is not None and runtime.puller is not None
    wait_until(lambda: fingerprint_on_dashboard(backoffice) == "online", 60, "first heartbeat with the sensor up")
    hands("fingerprint", "unplug")
    try:
        wait_until(lambda: fingerprint_on_dashboard(backoffice) not in ("online", "busy"), 30,
                   "the dashboard to show the sensor down")
        outage = backoffice.shell("import json\nfrom backoffice.fleet.models import DeviceOutage\n"
                                  "print(json.dumps(DeviceOutage.objects.filter(device='fingerprint', "
                                  "ended_at=None).count()))")
        assert outage == 1
    finally:
        hands("fingerprint", "plug")
    wait_until(lambda: fingerprint_on_dashboard(backoffice) == "online", 30, "the dashboard to show it back")
    head = backoffice.shell("import json\nfrom backoffice.fleet.models import KioskState\n"
                            "s = KioskState.objects.get(kiosk__kiosk_id='qidu-sim')\n"
                            "print(json.dumps([s.audit_seq, s.audit_flag, s.staff_version]))")
    assert head[0] > 0 and head[1] == ""
