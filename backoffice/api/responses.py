"""Every API answer is contract JSON; every error an ``ErrorBody`` with a stable dotted code."""

from __future__ import annotations

import logging
from typing import Any

from django.http import JsonResponse

import contract

log = logging.getLogger("backoffice.api")


def ok(message: Any, status: int = 200) -> JsonResponse:
    payload = message.to_json() if hasattr(message, "to_json") else message
    return JsonResponse(payload, status=status, json_dumps_params={"ensure_ascii": False})


def error(exc: contract.ContractError, *, extra: dict[str, Any] | None = None) -> JsonResponse:
    body = exc.body()
    if extra:
        body.update(extra)
    return JsonResponse(body, status=exc.status, json_dumps_params={"ensure_ascii": False})


def refuse(code: str, message: str, status: int) -> JsonResponse:
    return error(contract.ContractError(code, message, status=status))
