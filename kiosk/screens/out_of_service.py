"""Out of service: which service is unavailable and why (the device and its status)."""

from __future__ import annotations

from typing import Any

from flows.view import View
from kiosk.screens.base import KioskScreen, ScreenBody, UiContext, load_kv


class OutOfServiceBody(ScreenBody):
    def show(self, view: View, app: UiContext) -> None:
        ids, p = self.ids, view.params
        ids.title.text = app.tr(view.message or "oos.device_down")
        lines = []
        devices: list[dict[str, Any]] = list(p.get("devices", []))
        for d in devices:
            device, status = app.tr(f"device.{d.get('device')}"), app.tr(f"status.{d.get('status')}")
            line = app.tr("oos.reason", device=device, status=status)
            if d.get("detail"):
                line += f" ({d['detail']})"
            lines.append(line)
        if p.get("staff_reason"):  # the kiosk could not start (kiosk.start_failure): a category, no details
            lines.append(app.tr("oos.staff_reason", reason=app.tr(p["staff_reason"])))
        ids.reasons.text = "\n".join(lines)
        services = "、".join(app.tr(f"service.{s}") for s in p.get("services", []))
        ids.services.text = app.tr("oos.services", services=services) if services else ""
        ids.come_back.text = app.tr(p.get("come_back") or "oos.come_back")


class OutOfServiceScreen(KioskScreen):
    body_class = OutOfServiceBody


load_kv(__file__)
