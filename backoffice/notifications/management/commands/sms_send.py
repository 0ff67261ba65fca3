"""``manage.py sms_send [--loop S] [--now]``: deliver queued text messages; with ``--loop`` keep going.
On a server systemd/backoffice-sms-send.timer runs it every 30 s; ``make run`` loops it every 5 s
against the SMS gateway simulator (``sms_gateway_sim``)."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand

from backoffice.notifications import actions


class Command(BaseCommand):
    help = "Send queued text messages to residents (retried with back-off when the gateway is down)."

    def add_arguments(self, parser) -> None:  # type: ignore[no-untyped-def]
        parser.add_argument("--loop", type=float, default=0.0, help="repeat every this many seconds")
        parser.add_argument("--now", action="store_true", help="make every waiting message due now first")

    def handle(self, *args, **opts) -> None:  # type: ignore[no-untyped-def]
        if opts["now"]:
            actions.make_all_due()
        while True:
            sent, failed = actions.send_due()
            if sent or failed or not opts["loop"]:  # a loop says something only when something happened
                self.stdout.write(f"sms: {sent} sent, {failed} not sent")
                self.stdout.flush()
            if not opts["loop"]:
                return
            time.sleep(opts["loop"])
