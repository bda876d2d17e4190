"""Optional TOTP two-factor sign-in for teachers and school admins, with backup codes.

Self-service writes (set up, confirm, new backup codes, disable) record audit entries like
every other account change. Sign-in uses `verify()` in a second step after the password.
"""

from __future__ import annotations

import segno
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django_otp import devices_for_user
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from kreide.accounts.models import User
from kreide.core import audit
from kreide.schools.access import require_admin

BACKUP_CODES = 10


def may_use(user: User) -> bool:
    """Teachers, school admins and operators (who reach the whole deployment)."""
    return user.is_authenticated and (user.is_teacher or user.is_school_admin or user.is_staff)


def _audit(actor: User, action: str, user: User) -> None:
    # The audit log is each school's; operators belong to none.
    if user.school_id is not None:
        audit.record(user.school, actor, action, user)


def is_enabled(user: User) -> bool:
    # The sign-in's lookup of the account brought the answer along (accounts.backends).
    known = getattr(user, "has_two_factor", None)
    if known is not None:
        return known
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def pending_device(user: User) -> TOTPDevice:
    """The unconfirmed device being set up (a new secret if there is none yet)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="Kreide", confirmed=False)
    return device


def qr_data_uri(device: TOTPDevice) -> str:
    """The otpauth:// URL as an inline SVG QR code (CSP allows data: images)."""
    return segno.make(device.config_url, error="m").svg_data_uri(scale=5, border=2)


def secret_for_typing(device: TOTPDevice) -> str:
    """The base32 secret in groups of four, for apps without a camera."""
    from base64 import b32encode

    secret = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


@transaction.atomic
def confirm(user: User, code: str) -> list[str] | None:
    """Turn two-factor on when `code` matches the pending device; returns backup codes."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None or not device.verify_token(code.replace(" ", "")):
        return None
    TOTPDevice.objects.filter(user=user, confirmed=True).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    codes = _replace_backup_codes(user)
    _audit(user, "account.2fa_enabled", user)
    return codes


@transaction.atomic
def new_backup_codes(user: User) -> list[str]:
    codes = _replace_backup_codes(user)
    _audit(user, "account.2fa_backup_codes", user)
    return codes


def _replace_backup_codes(user: User) -> list[str]:
    device, _created = StaticDevice.objects.get_or_create(
        user=user, name="backup", defaults={"confirmed": True}
    )
    device.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(BACKUP_CODES)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


@transaction.atomic
def disable(user: User) -> None:
    _remove_devices(user)
    _audit(user, "account.2fa_disabled", user)


@transaction.atomic
def reset_by_admin(actor: User, user: User) -> None:
    """Phone and backup codes lost: the school admin turns two-factor off for the user."""
    require_admin(actor, user.school_id)
    if actor.pk == user.pk:
        raise PermissionDenied  # their own second factor is turned off with their password
    _remove_devices(user)
    audit.record(user.school, actor, "account.2fa_reset", user)


def _remove_devices(user: User) -> None:
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()


def verify(user: User, code: str) -> Device | None:
    """The device that accepts `code` (TOTP or a one-time backup code), else None."""
    token = code.replace(" ", "").strip()
    if not token:
        return None
    for device in devices_for_user(user, confirmed=True):
        allowed, _details = device.verify_is_allowed()
        if allowed and device.verify_token(token):
            return device
    return None
