"""Changes made outside ``actions`` (the admin pages) that change who may use a kiosk bump the
staff version too, so every kiosk pulls the new list within one poll interval."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models.signals import m2m_changed, post_save
from django.dispatch import receiver

from backoffice.accounts.models import Profile


def _bump(**_: Any) -> None:
    from backoffice.fleet.actions import bump_staff_version

    bump_staff_version()


@receiver(m2m_changed, sender=Profile.kiosks.through)
def _kiosks_changed(action: str, **kw: Any) -> None:
    if action in ("post_add", "post_remove", "post_clear"):
        _bump()


@receiver(post_save, sender=Profile)
def _profile_saved(**kw: Any) -> None:
    _bump()


@receiver(post_save, sender=get_user_model())
def _user_saved(update_fields: Any = None, **kw: Any) -> None:
    if update_fields is not None and set(update_fields) <= {"last_login"}:
        return  # a log-in changes nothing a kiosk holds
    _bump()
