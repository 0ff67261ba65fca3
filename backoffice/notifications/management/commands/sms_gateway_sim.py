"""``python -m backoffice sms_gateway_sim --port P --log FILE``: the SMS gateway simulator as a
process (``make run``). Point ``BACKOFFICE_SMS_GATEWAY`` at the URL it prints; every text it takes
is appended to FILE, the simulated resident's phone (see ``notifications.sim_gateway`` for why the
whole text, pickup code included, is acceptable there). Simulator mode only."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from backoffice.notifications.sim_gateway import SmsGatewaySim, make_server


class Command(BaseCommand):
    help = "Run the SMS gateway simulator (simulator mode only): texts go to a 'phone' log file."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
        parser.add_argument("--log", required=True, help="the simulated phone: one line per text received")
        parser.add_argument("--down", action="store_true", help="answer 503 to everything (a gateway that is down)")

    def handle(self, *args: Any, port: int = 0, log: str = "", down: bool = False, **options: Any) -> None:
        phone = Path(log)
        try:
            phone.parent.mkdir(parents=True, exist_ok=True)
            phone.touch(mode=0o600)  # pickup codes: readable by the tester's account only
        except OSError as exc:
            raise CommandError(f"cannot write the phone log {phone}: {exc.strerror}") from None
        sim = SmsGatewaySim(phone_log=phone, down=down)
        try:
            server = make_server(sim, port=port)
        except OSError as exc:
            raise CommandError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}") from None

        def stop(signum: int, frame: object) -> None:
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, stop)  # make run's ordered stop: close the socket, say so
        self.stdout.write(f"ready: SMS gateway simulator at {sim.url}{' (down: answering 503)' if down else ''}; "
                          f"texts to residents go to {phone}")
        self.stdout.flush()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
        self.stdout.write(f"stopped: {len(sim.received)} text(s) taken, {sim.refused} refused")
