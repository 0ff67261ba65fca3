"""``python -m backoffice demo_setup``: a town to try the back office with (idempotent).

Creates 七都 with its centre and a few village kiosks, 盛泽 with one clerk (to see that towns
are kept apart), a user of each role with a fresh password, an export API key, and a fresh
one-time enrol code for the simulated kiosk. Everything a script needs is printed as
``KEY=value`` lines (``ENROL_CODE=...``); ``make run`` reads them.
"""

from __future__ import annotations

import secrets

from django.core.management.base import BaseCommand
from django.db import transaction

from backoffice.accounts import actions as accounts
from backoffice.accounts.models import Role
from backoffice.kiosks import actions as kiosks
from backoffice.kiosks.models import Kiosk

QIDU_KIOSKS = [
    ("qidu-centre", "七都便民服务中心自助服务室", "七都镇区"),
    ("qidu-kaixiangong", "开弦弓村自助服务点", "开弦弓村"),
    ("qidu-lugang", "陆港村自助服务点", "陆港村"),
    ("qidu-fengmin", "丰民村自助服务点", "丰民村"),
]


def _password() -> str:
    return secrets.token_urlsafe(9)


class Command(BaseCommand):
    help = "Create (or refresh) the demo town 七都, its kiosks and users; print passwords and an enrol code."

    def add_arguments(self, parser) -> None:  # type: ignore[no-untyped-def]
        parser.add_argument("--sim-kiosk-id", default="qidu-sim", help="the simulated kiosk's ID")
        parser.add_argument("--sim-kiosk-name", default="七都便民服务中心 24 小时自助服务室（模拟）")

    @transaction.atomic
    def handle(self, *args, **opts) -> None:  # type: ignore[no-untyped-def]
        qidu = accounts.ensure_town("qidu", "七都")
        shengze = accounts.ensure_town("shengze", "盛泽")
        for kiosk_id, name, village in QIDU_KIOSKS:
            if not Kiosk.objects.filter(kiosk_id=kiosk_id).exists():
                kiosks.create_kiosk(kiosk_id=kiosk_id, name=name, town=qidu, village=village)
        if not Kiosk.objects.filter(kiosk_id="shengze-centre").exists():
            kiosks.create_kiosk(kiosk_id="shengze-centre", name="盛泽便民服务中心自助服务室", town=shengze,
                                village="盛泽镇区")
        sim = Kiosk.objects.filter(kiosk_id=opts["sim_kiosk_id"]).first()
        if sim is None:
            sim, code = kiosks.create_kiosk(kiosk_id=opts["sim_kiosk_id"], name=opts["sim_kiosk_name"], town=qidu,
                                            village="七都镇区")
        else:
            code = kiosks.issue_enrol_code(sim)
        centre = Kiosk.objects.filter(kiosk_id__in=["qidu-centre", sim.kiosk_id])
        users = [
            ("qidu-admin", Role.ADMIN, qidu, "王管理", None),
            ("qidu-supervisor", Role.SUPERVISOR, qidu, "李主管", None),
            ("qidu-clerk", Role.CLERK, qidu, "张办事", None),
            ("qidu-staff", Role.KIOSK_STAFF, qidu, "陈值守", list(centre)),
            ("shengze-clerk", Role.CLERK, shengze, "周办事", None),
            ("qidu-platform", Role.PLATFORM, qidu, "一窗通办", None),
        ]
        self.stdout.write("Back office demo (town 七都; 盛泽 only to show towns are apart):")
        for username, role, town, full_name, served in users:
            password = _password()
            user = accounts.ensure_user(username, town=town, role=role, password=password, full_name=full_name,
                                        kiosks=served)
            self.stdout.write(f"BACKOFFICE_USER={username} BACKOFFICE_PASSWORD={password} ROLE={role} TOWN={town}")
            if role == Role.PLATFORM:
                self.stdout.write(f"EXPORT_TOKEN={accounts.issue_api_token(user, 'demo')}")
        self.stdout.write(f"ENROL_KIOSK={sim.kiosk_id}")
        self.stdout.write(f"ENROL_CODE={code}")
