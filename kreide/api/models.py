"""Personal API tokens: scripts act as their owner, within the token's scope."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from kreide.core.scoping import SchoolScopedModel


class ApiToken(SchoolScopedModel):
    class Scope(models.TextChoices):
        READ = "read", _("read only")
        WRITE = "write", _("read and write")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(_("name"), max_length=100)
    scope = models.CharField(_("scope"), max_length=10, choices=Scope.choices)
    # Only the SHA-256 of the secret is kept: the secret is shown once, when created.
    secret_sha256 = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta(SchoolScopedModel.Meta):
        ordering = ["-created_at"]
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return self.name
