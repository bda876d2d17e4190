from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OidcConfig(AppConfig):
    name = "kreide.oidc"
    label = "oidc"
    verbose_name = _("Single sign-on")

    def ready(self) -> None:
        from kreide.core import audit

        audit.declare(
            {
                "oidc.client_added": _("Sign-in client registered"),
                "oidc.client_revoked": _("Sign-in client revoked"),
                "oidc.first_sign_in": _("First sign-in into a connected tool"),
            }
        )
