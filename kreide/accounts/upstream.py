"""Sign-in through another OpenID Connect provider of the school (the state's school
identity service, or another Kreide), with Authlib as the client.

The flow is the authorization code flow with state, nonce and PKCE (S256); the id_token's
signature is checked against the provider's JWKS, its issuer against the configured one
(the discovery document must name the same issuer), its audience, expiry and nonce by
Authlib. An account is found only through `ExternalIdentity` (the provider's configured
claim), never by name or e-mail; an unmatched sign-in is refused unless the school lets
it create an account. Provider changes, links and first sign-ins are audited.

Client secrets are stored enciphered (AES-GCM, key derived from SECRET_KEY), so a
database dump alone does not reveal them; a school export leaves them behind.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.common.security import is_secure_transport
from authlib.integrations.django_client import DjangoOAuth2App
from authlib.integrations.django_client.integration import DjangoIntegration
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from joserfc.errors import JoseError

from kreide.accounts.models import ExternalIdentity, UpstreamProvider, User
from kreide.core import audit, fragments, pagecache
from kreide.core.errors import Refusal
from kreide.schools.access import require_admin

audit.declare(
    {
        "account.upstream_added": gettext_lazy("Sign-in provider added"),
        "account.upstream_changed": gettext_lazy("Sign-in provider changed"),
        "account.upstream_removed": gettext_lazy("Sign-in provider removed"),
        "account.external_id_set": gettext_lazy("External ID linked"),
        "account.external_id_cleared": gettext_lazy("External ID removed"),
        "account.upstream_first_sign_in": gettext_lazy("First sign-in through a provider"),
        "account.upstream_created": gettext_lazy("Account created by a provider sign-in"),
    }
)

HTTP_SECONDS = 10  # each request to the provider (discovery, token, JWKS, userinfo)
_STATE_NAME = "upstream"  # Authlib keeps state, nonce and verifier in the session under it
_FIELDS = (
    "name",
    "issuer",
    "client_id",
    "scopes",
    "claim",
    "create_accounts",
    "new_account_role",
    "enabled",
)


class UpstreamRefused(Refusal):
    status = 403
    code = "upstream_refused"


class UpstreamUnavailable(Refusal):
    status = 502
    code = "upstream_unavailable"


# The client secret, enciphered at rest ------------------------------------------------


def _cipher() -> AESGCM:
    key = hashlib.sha256(f"{settings.SECRET_KEY}|upstream client secret".encode()).digest()
    return AESGCM(key)


def seal(secret: str) -> str:
    nonce = secrets.token_bytes(12)
    sealed = _cipher().encrypt(nonce, secret.encode(), b"kreide-upstream")
    return base64.b64encode(nonce + sealed).decode()


def reveal(provider: UpstreamProvider) -> str:
    """The client secret in clear, or "" when none is stored (or it was sealed with another
    deployment's SECRET_KEY)."""
    if not provider.secret_sealed:
        return ""
    raw = base64.b64decode(provider.secret_sealed)
    try:
        return _cipher().decrypt(raw[:12], raw[12:], b"kreide-upstream").decode()
    except Exception:  # noqa: BLE001 - InvalidTag: another key; the office enters it again
        return ""


# The school office's configuration ----------------------------------------------------


def providers_of(school) -> QuerySet[UpstreamProvider]:
    return UpstreamProvider.objects.for_school(school)


def check_issuer_address(issuer: str) -> None:
    """https, or http on loopback (a provider on the same machine)."""
    if not is_secure_transport(issuer) or "?" in issuer or "#" in issuer:
        raise Refusal(_("The issuer must be an https:// address without ? or #."))


@transaction.atomic
def save_provider(
    actor: User, provider: UpstreamProvider, *, secret: str | None = None, **values: Any
) -> UpstreamProvider:
    """Add or change a provider; `secret` None keeps the stored one."""
    require_admin(actor, provider.school)
    check_issuer_address(values.get("issuer", provider.issuer))
    if "openid" not in values.get("scopes", provider.scopes).split():
        raise Refusal(_("The scopes must include openid."))
    adding = provider.pk is None
    before = {name: getattr(provider, name) for name in _FIELDS}
    for name, value in values.items():
        setattr(provider, name, value)
    if secret is not None:
        provider.secret_sealed = seal(secret)
    provider.full_clean()
    provider.save()
    # The secret is never written to the audit log, only that it changed.
    changes = {
        n: [before[n], getattr(provider, n)] for n in _FIELDS if before[n] != getattr(provider, n)
    }
    if secret is not None and not adding:
        changes["client_secret"] = ["…", "…"]  # that it changed, never the value
    if adding:
        audit.record(
            provider.school, actor, "account.upstream_added", provider, issuer=provider.issuer
        )
    elif changes:
        audit.record(provider.school, actor, "account.upstream_changed", provider, changes=changes)
    return provider


@transaction.atomic
def remove_provider(actor: User, provider: UpstreamProvider) -> None:
    """Its links to accounts go with it; the accounts stay."""
    require_admin(actor, provider.school)
    audit.record(provider.school, actor, "account.upstream_removed", provider)
    provider.delete()


@transaction.atomic
def set_external_id(actor: User, user: User, provider: UpstreamProvider, value: str) -> None:
    """Link `user` to the person with `value` in the provider's claim; "" removes the link."""
    require_admin(actor, user.school)
    if provider.school_id != user.school_id:
        raise Refusal(_("This sign-in provider belongs to another school."), status=404)
    value = value.strip()
    current = ExternalIdentity.objects.for_school(user.school).filter(provider=provider, user=user)
    if not value:
        if current.delete()[0]:
            audit.record(
                user.school, actor, "account.external_id_cleared", user, provider=provider.name
            )
        return
    clash = (
        ExternalIdentity.objects.for_school(user.school)
        .filter(provider=provider, value=value)
        .exclude(user=user)
        .select_related("user")
        .first()
    )
    if clash is not None:
        raise Refusal(
            _("%(value)s is already linked to %(name)s.") % {"value": value, "name": clash.user}
        )
    identity = current.first()
    if identity is not None and identity.value == value:
        return
    if identity is None:
        identity = ExternalIdentity(school=user.school, provider=provider, user=user)
    identity.value = value
    identity.first_sign_in_at = None
    identity.full_clean()
    identity.save()
    audit.record(
        user.school, actor, "account.external_id_set", user, provider=provider.name, value=value
    )


# The sign-in ---------------------------------------------------------------------------


def _client(provider: UpstreamProvider) -> DjangoOAuth2App:
    return DjangoOAuth2App(
        DjangoIntegration(_STATE_NAME),
        name=_STATE_NAME,
        client_id=provider.client_id,
        client_secret=reveal(provider),
        server_metadata_url=provider.issuer.rstrip("/") + "/.well-known/openid-configuration",
        client_kwargs={
            "scope": provider.scopes,
            "code_challenge_method": "S256",
            "token_endpoint_auth_method": "client_secret_basic",
            "default_timeout": HTTP_SECONDS,
        },
    )


def _unavailable(provider: UpstreamProvider) -> UpstreamUnavailable:
    return UpstreamUnavailable(
        _(
            "%(name)s cannot be reached at the moment. Please try again later or sign in "
            "with your Kreide password."
        )
        % {"name": provider.name},
        retry_after=60,
    )


def _metadata(client: DjangoOAuth2App, provider: UpstreamProvider) -> dict:
    """The discovery document, which must name the configured issuer (OpenID Connect
    Discovery 4.3): otherwise another provider could answer for this one."""
    try:
        metadata = client.load_server_metadata()
    except (requests.RequestException, ValueError) as error:
        raise _unavailable(provider) from error
    if metadata.get("issuer") != provider.issuer:
        raise UpstreamRefused(
            _(
                "%(name)s answers as another issuer than the one configured. The school office "
                "has to check the issuer address."
            )
            % {"name": provider.name}
        )
    return metadata


def _shown() -> QuerySet[UpstreamProvider]:
    """Providers people may sign in through: enabled, with a client secret."""
    return (
        UpstreamProvider.unscoped.filter(enabled=True)
        .exclude(secret_sealed="")
        .select_related("school")
    )


@dataclass(frozen=True)
class Button:
    """A provider as the sign-in page shows it (cached: no secrets)."""

    pk: int
    name: str
    school_id: int
    school_name: str


# Bumped by every change of a provider or a school (AccountsConfig.ready).
BUTTONS_SCOPE = "upstream:buttons"


# Every plain visit of the sign-in page shows every school's buttons. The scope's version
# comes with the page's other keys in one round trip (`page_keys`, registered in
# AccountsConfig.ready), and each process keeps the buttons of that version as long as the
# shared fragment would live: no round trips of their own.
BUTTONS_VERSION_KEY = fragments.version_key(BUTTONS_SCOPE)
_BUTTONS_SECONDS = 300
_kept: tuple[int, float, list[Button]] | None = None  # version, until (monotonic), buttons


def page_keys(request: HttpRequest) -> list[str]:
    """The sign-in page's key for `pagecache`: the buttons' version."""
    if request.path == settings.ADMISSION_LOGIN_PATH and settings.FRAGMENT_CACHE_ENABLED:
        return [BUTTONS_VERSION_KEY]
    return []


def buttons(school_slug: str | None, request: HttpRequest | None = None) -> list[Button]:
    """The providers shown on the sign-in page: one school's (`?school=`) or every school's,
    which every plain visit of the page asks for, kept per version of their scope."""
    global _kept
    if school_slug:
        return _buttons(_shown().filter(school__slug=school_slug))
    version = (
        pagecache.take(request, BUTTONS_VERSION_KEY) if settings.FRAGMENT_CACHE_ENABLED else None
    )
    if version is None:  # caching off, or no version yet: the fragment sets one
        return fragments.cached("upstream-buttons", [BUTTONS_SCOPE], lambda: _buttons(_shown()))
    kept, now = _kept, time.monotonic()
    if kept is None or kept[0] != version or kept[1] <= now:
        kept = _kept = (version, now + _BUTTONS_SECONDS, _buttons(_shown()))
    return kept[2]


def _buttons(shown: QuerySet[UpstreamProvider]) -> list[Button]:
    rows = shown.order_by("school__name", "name").values_list(
        "pk", "name", "school_id", "school__name"
    )
    return [Button(*row) for row in rows]


def shown_provider(pk: int) -> UpstreamProvider | None:
    return _shown().filter(pk=pk).first()


def start(request: HttpRequest, provider: UpstreamProvider, next_url: str) -> HttpResponse:
    """Send the browser to the provider; state, nonce and the PKCE verifier stay in the
    session (Authlib), with the provider and the page to return to."""
    client = _client(provider)
    _metadata(client, provider)
    redirect_uri = request.build_absolute_uri(reverse("accounts:upstream_callback"))
    authorization = client.create_authorization_url(redirect_uri)
    client.save_authorize_data(
        request, redirect_uri=redirect_uri, provider=provider.pk, next=next_url, **authorization
    )
    return HttpResponseRedirect(authorization["url"])


@dataclass(frozen=True)
class Arrival:
    user: User
    next_url: str


def _refused_start_again() -> UpstreamRefused:
    return UpstreamRefused(
        _("This sign-in was not started here or has expired. Please start it again.")
    )


def finish(request: HttpRequest) -> Arrival:
    """The provider sent the browser back: check state, exchange the code, verify the
    id_token and find (or, if allowed, create) the account."""
    state = request.GET.get("state", "")
    pending = (
        DjangoIntegration(_STATE_NAME).get_state_data(request.session, state) if state else None
    )
    if not pending:
        raise _refused_start_again()
    provider = shown_provider(pending.get("provider") or 0)
    if provider is None:
        raise _refused_start_again()
    client = _client(provider)
    _metadata(client, provider)
    try:
        # Single use: Authlib removes the state before the exchange.
        token = client.authorize_access_token(request)
    except requests.RequestException as error:
        raise _unavailable(provider) from error
    except (AuthlibBaseError, JoseError, ValueError) as error:
        raise UpstreamRefused(
            _("%(name)s did not confirm the sign-in (%(reason)s). Please start it again.")
            % {
                "name": provider.name,
                "reason": getattr(error, "error", None) or type(error).__name__,
            }
        ) from error
    claims = dict(token.get("userinfo") or {})
    if not claims:
        raise UpstreamRefused(_("%(name)s sent no id_token.") % {"name": provider.name})
    value = _claim(client, provider, token, claims)
    return Arrival(_account_for(provider, value, claims), pending.get("next") or "")


def _claim(client: DjangoOAuth2App, provider: UpstreamProvider, token: dict, claims: dict) -> str:
    """The matching claim from the id_token, else from the userinfo answer (for the same
    `sub`); a plain string or number only."""
    if provider.claim not in claims:
        try:
            info = client.userinfo(token=token)
        except (requests.RequestException, AuthlibBaseError, ValueError) as error:
            raise _unavailable(provider) from error
        if info.get("sub") == claims.get("sub"):
            claims = {**info, **claims}
    value = claims.get(provider.claim)
    if isinstance(value, bool) or not isinstance(value, (str, int)) or not str(value).strip():
        raise UpstreamRefused(
            _("%(name)s did not send the claim %(claim)s that accounts are matched by.")
            % {"name": provider.name, "claim": provider.claim}
        )
    value = str(value).strip()
    if len(value) > 255:
        raise UpstreamRefused(_("The claim %(claim)s is too long.") % {"claim": provider.claim})
    return value


@transaction.atomic
def _account_for(provider: UpstreamProvider, value: str, claims: dict) -> User:
    school = provider.school
    identity = (
        ExternalIdentity.objects.for_school(school)
        .filter(provider=provider, value=value)
        .select_related("user")
        .select_for_update(of=("self",))
        .first()
    )
    if identity is None:
        if not provider.create_accounts:
            raise UpstreamRefused(
                _(
                    "Your account at %(provider)s is not linked to an account of %(school)s. "
                    "The school office can link it."
                )
                % {"provider": provider.name, "school": school.name}
            )
        identity = _create_account(provider, value, claims)
    user = identity.user
    if not user.is_active or user.school_id != provider.school_id:
        raise UpstreamRefused(_("This account is deactivated. Please ask the school office."))
    if identity.first_sign_in_at is None:
        identity.first_sign_in_at = timezone.now()
        identity.save(update_fields=["first_sign_in_at"])
        audit.record(school, user, "account.upstream_first_sign_in", user, provider=provider.name)
    return user


def _create_account(provider: UpstreamProvider, value: str, claims: dict) -> ExternalIdentity:
    """A new account of the configured role, without a usable password: it signs in through
    the provider only (until the school office sets a password)."""
    school = provider.school
    wanted = re.sub(r"[^\w.@+-]", "", str(claims.get("preferred_username") or ""))[:100]
    candidates = [wanted] if wanted else []
    candidates.append(f"{school.slug}.{secrets.token_hex(4)}")
    for username in candidates:
        user = User(
            school=school,
            username=username,
            first_name=str(claims.get("given_name") or "")[:150],
            last_name=str(claims.get("family_name") or "")[:150],
            role=provider.new_account_role,
        )
        user.set_unusable_password()
        try:
            with transaction.atomic():
                user.save()
        except IntegrityError:  # the name is taken in this deployment: the generated one
            continue
        break
    identity = ExternalIdentity.objects.for_school(school).create(
        provider=provider, user=user, value=value
    )
    audit.record(
        school, None, "account.upstream_created", user, provider=provider.name, role=user.role
    )
    return identity
