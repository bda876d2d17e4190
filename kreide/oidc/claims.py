"""What a connected tool learns about an account: standard claims plus the school, the
account's role and its classes and groups, each under its own scope (docs/sso.md)."""

from __future__ import annotations

from typing import Any

from oauth2_provider.oauth2_validators import OAuth2Validator

from kreide.core import audit
from kreide.oidc.models import Client, ClientSignIn
from kreide.schools import access
from kreide.schools.models import Group

SCOPES = {
    "openid": "OpenID Connect",
    "profile": "Name and user name",
    "email": "E-mail address",
    "school": "School",
    "roles": "Role (student, teacher, school admin)",
    "groups": "Classes and groups",
}


def groups_of(user) -> list[Group]:
    """The account's groups as the access layer counts them (a deactivated one is left out
    there, not here)."""
    if user.school_id is None:
        return []
    return list(
        Group.objects.for_school(user.school_id)
        .filter(pk__in=access.group_ids(user))
        .only("name", "kind")
    )


class KreideValidator(OAuth2Validator):
    oidc_claim_scope = {
        **OAuth2Validator.oidc_claim_scope,
        "school": "school",
        "school_name": "school",
        "roles": "roles",
        "classes": "groups",
        "groups": "groups",
    }

    def get_additional_claims(self, request) -> dict[str, Any]:
        user = request.user
        groups = groups_of(user)
        return {
            "name": user.get_full_name() or user.username,
            "given_name": user.first_name,
            "family_name": user.last_name,
            "preferred_username": user.username,
            "email": user.email,
            "school": user.school.slug if user.school_id else "",
            "school_name": user.school.name if user.school_id else "",
            "roles": [user.role],
            "classes": [group.name for group in groups if group.kind == Group.Kind.CLASS],
            "groups": [group.name for group in groups],
        }

    def get_discovery_claims(self, request) -> list[str]:
        return list(self.oidc_claim_scope)

    # A deactivated account, or one that must change its password first, loses what the
    # tools hold at once, not when their tokens expire.
    def validate_bearer_token(self, token, scopes, request) -> bool:
        valid = super().validate_bearer_token(token, scopes, request)
        return valid and access.participates(request.user)

    def validate_refresh_token(self, refresh_token, client, request, *args, **kwargs) -> bool:
        valid = super().validate_refresh_token(refresh_token, client, request, *args, **kwargs)
        return valid and access.participates(request.user)

    def is_pkce_required(self, client_id, request) -> bool:
        return not Client.objects.filter(client_id=client_id, require_pkce=False).exists()

    def save_authorization_code(self, client_id, code, request, *args, **kwargs) -> None:
        super().save_authorization_code(client_id, code, request, *args, **kwargs)
        _, first = ClientSignIn.objects.get_or_create(client=request.client, user=request.user)
        if first:
            audit.record(
                request.client.school_id, request.user, "oidc.first_sign_in", request.client
            )
