"""Every change to accounts: creating towns, users and API tokens."""

from __future__ import annotations

import hashlib
import secrets

from django.contrib.auth import get_user_model
from django.db import transaction

from backoffice.accounts.models import ApiToken, Profile, Town


def ensure_town(code: str, name: str) -> Town:
    town, _ = Town.objects.update_or_create(code=code, defaults={"name": name})
    return town


@transaction.atomic
def ensure_user(username: str, *, town: Town, role: str, password: str, full_name: str = "",
                kiosks: list | None = None) -> object:
    """Create or reset a user of a town with a role (admins also reach Django's admin for accounts)."""
    User = get_user_model()
    user, _ = User.objects.get_or_create(username=username)
    user.first_name = full_name
    user.is_staff = role == "admin"
    user.is_superuser = role == "admin"
    user.set_password(password)
    user.save()
    profile, _ = Profile.objects.update_or_create(user=user, defaults={"town": town, "role": role})
    if kiosks is not None:
        profile.kiosks.set(kiosks)
    return user


def token_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def issue_api_token(user: object, label: str) -> str:
    """A new export API key, returned once; only its hash is stored."""
    key = secrets.token_urlsafe(32)
    ApiToken.objects.create(user=user, key_hash=token_hash(key), label=label)
    return key
