"""``manage.py results_check``: results left in a locker longer than RESIDENT.unfetched_days raise a
staff task and a reminder text message (once each). Run daily (systemd/backoffice-results-check.timer,
08:00); running it more often changes nothing."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from backoffice.track import results


class Command(BaseCommand):
    help = "Raise a staff task and remind the resident for every result not fetched after N days."

    def handle(self, *args, **opts) -> None:  # type: ignore[no-untyped-def]
        self.stdout.write(f"results not fetched: {results.check_unfetched()} new task(s)")
