"""Ratings (好差评) from the kiosk to the back office: the queued ones go in one batch each round
of the puller (``POST /api/v1/ratings``). The back office answers per rating; one refused for an
unknown case (the case package not delivered yet) stays queued and goes again next round."""

from __future__ import annotations

import json
import logging

import contract
from kiosk.sync.client import BackofficeClient
from locker.resident import ResidentStore

log = logging.getLogger(__name__)


def push_ratings(client: BackofficeClient, resident: ResidentStore, kiosk_id: str) -> int:
    """Send what waits; returns how many the back office now holds."""
    pending = resident.pending_ratings()
    if not pending:
        return 0
    batch = contract.RatingBatch(kiosk_id, tuple(pending))
    _, raw = client.request("POST", "/ratings", contract.dumps(batch))
    answer = contract.EventsReceipt.from_json(json.loads(raw.decode("utf-8")))
    resident.ratings_answered(answer.accepted, answer.refused)
    if answer.refused:
        log.info("%d rating(s) wait for their case to reach the back office", len(answer.refused))
    return len(answer.accepted)
