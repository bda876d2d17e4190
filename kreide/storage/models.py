from django.db import models
from django.utils.translation import gettext_lazy as _


class Blob(models.Model):
    """File content, stored once by its SHA-256 whatever how many tasks, folders or
    messages refer to it. Not school data by itself: it is reached only through the
    school-scoped objects that point at it."""

    sha256 = models.CharField(max_length=64, unique=True)
    size = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("stored content")
        verbose_name_plural = _("stored contents")

    def __str__(self) -> str:
        return f"{self.sha256[:12]}… ({self.size} B)"
