"""``manage.py ratings_forward``: send ratings not yet forwarded to the provincial 好差评 platform."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from backoffice.ratings import actions


class Command(BaseCommand):
    help = "Forward ratings to the provincial 好差评 platform (RATINGS forward / forward_url)."

    def handle(self, *args, **opts) -> None:  # type: ignore[no-untyped-def]
        sent, failed = actions.forward_due()
        self.stdout.write(f"ratings: {sent} forwarded, {failed} waiting")
