"""Registering and revoking the tools that sign in through Kreide."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from oauth2_provider.generators import generate_client_secret

from kreide.core import audit
from kreide.core.errors import Refusal
from kreide.oidc.models import Client
from kreide.schools.access import require_admin


class ClientRefused(Refusal):
    status = 403
    code = "oidc_client_refused"


def check_redirect_uris(uris: list[str], *, required: bool = True) -> None:
    """Each return address a full http(s) address without a fragment, as the protocol
    demands (the toolkit checks too, but its message names no address)."""
    if required and not uris:
        raise ClientRefused(_("Enter at least one return address of the tool."))
    for uri in uris:
        try:
            parts = urlsplit(uri)
        except ValueError:
            parts = None
        if (
            parts is None
            or parts.scheme not in ("http", "https")
            or not parts.hostname
            or parts.fragment
            or any(character.isspace() for character in uri)
        ):
            raise ClientRefused(
                _(
                    "“%(uri)s” is not a valid return address: enter the full address the "
                    "tool names, starting with https://, without #."
                )
                % {"uri": uri}
            )


def add_client(
    school,
    name: str,
    redirect_uris: list[str],
    *,
    actor=None,
    require_pkce: bool = True,
    post_logout_redirect_uris: list[str] | None = None,
) -> tuple[Client, str]:
    """Register a confidential client of `school`; returns it with its secret in clear
    (stored only hashed). Approved by the school, so nobody is asked for consent.
    `actor` None is the operator (the command line); a person must administer `school`."""
    if actor is not None:
        require_admin(actor, school)
    check_redirect_uris(redirect_uris)
    check_redirect_uris(post_logout_redirect_uris or [], required=False)
    secret = generate_client_secret()
    client = Client(
        school=school,
        name=name,
        client_type=Client.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Client.GRANT_AUTHORIZATION_CODE,
        algorithm=Client.RS256_ALGORITHM,
        redirect_uris=" ".join(redirect_uris),
        post_logout_redirect_uris=" ".join(post_logout_redirect_uris or []),
        client_secret=secret,
        skip_authorization=True,
        require_pkce=require_pkce,
        user=actor if getattr(actor, "pk", None) else None,
    )
    try:
        client.full_clean(exclude=["client_secret"])
    except ValidationError as error:
        raise ClientRefused(" ".join(error.messages)) from error
    with transaction.atomic():
        client.save()
        audit.record(school, actor, "oidc.client_added", client, redirect_uris=redirect_uris)
    return client, secret


def clients_of(school):
    return Client.objects.filter(school=school).order_by("name")


def revoke_client(school, client_pk: int, *, actor=None) -> None:
    """Remove a client; its tokens go with it, so every session it holds ends."""
    client = clients_of(school).filter(pk=client_pk).first()
    if client is None:
        raise Refusal(_("This sign-in client does not exist (any more)."), status=404)
    with transaction.atomic():
        audit.record(school, actor, "oidc.client_revoked", client)
        client.delete()


def check_school(client: Client | None, user) -> None:
    """A client signs in only the accounts of its own school."""
    if client is not None and client.school_id != user.school_id:
        raise ClientRefused(
            _("%(name)s belongs to another school and cannot sign you in.") % {"name": client.name}
        )
