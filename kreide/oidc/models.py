"""Kreide as the school's OpenID Connect provider (django-oauth-toolkit underneath).

`Client` replaces the toolkit's Application model (OAUTH2_PROVIDER_APPLICATION_MODEL):
every client belongs to one school and signs in only that school's accounts. Its id_tokens
are signed with the current `SigningKey` instead of one key fixed in the settings, so keys
are generated on first use and rotated without a restart.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from oauth2_provider.models import AbstractApplication


class Client(AbstractApplication):
    school = models.ForeignKey(
        "schools.School",
        on_delete=models.CASCADE,
        related_name="oidc_clients",
        verbose_name=_("school"),
    )
    require_pkce = models.BooleanField(
        _("requires PKCE"),
        default=True,
        help_text=_("Off only for tools that cannot send a code challenge (Moodle)."),
    )

    class Meta(AbstractApplication.Meta):
        swappable = "OAUTH2_PROVIDER_APPLICATION_MODEL"
        verbose_name = _("sign-in client")
        verbose_name_plural = _("sign-in clients")

    @property
    def jwk_key(self):
        if self.algorithm == self.RS256_ALGORITHM:
            from kreide.oidc import keys

            return keys.current().jwk
        return super().jwk_key


class SigningKey(models.Model):
    """An RSA key for id_tokens. The newest unretired one signs; retired ones stay in the
    JWKS until every token they signed has expired."""

    pem = models.TextField()
    kid = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.kid

    @property
    def jwk(self):
        from oauth2_provider.utils import jwk_from_pem

        return jwk_from_pem(self.pem)


class ClientSignIn(models.Model):
    """That an account has signed in to a client once: the first time is audited."""

    client = models.ForeignKey(settings.OAUTH2_PROVIDER_APPLICATION_MODEL, on_delete=models.CASCADE)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    first_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["client", "user"], name="oidc_client_sign_in_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} → {self.client_id}"
