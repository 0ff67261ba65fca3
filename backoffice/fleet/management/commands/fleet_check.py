"""``python -m backoffice fleet_check [--every S]``: mark silent kiosks offline and send the queued
alert messages. A systemd timer runs it every 30 s (systemd/backoffice-fleet-check.timer); with
``--every`` it loops (``make run``)."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand

from backoffice.fleet import actions


class Command(BaseCommand):
    help = "Mark kiosks that missed their heartbeats offline (one alert each) and send queued alert messages."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--every", type=float, default=0.0, help="repeat every this many seconds")

    def handle(self, *args: Any, every: float = 0.0, **options: Any) -> None:
        while True:
            went = actions.check_fleet()
            sent, failed = actions.send_notifications()
            if went or sent or failed or not every:
                self.stdout.write(f"offline: {', '.join(went) or 'none'}; messages sent {sent}, failed {failed}")
            if not every:
                return
            time.sleep(every)
