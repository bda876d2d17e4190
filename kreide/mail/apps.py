from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MailConfig(AppConfig):
    name = "kreide.mail"
    label = "mail"
    verbose_name = _("E-mail")

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from kreide.accounts.models import User
        from kreide.mail import services

        # Dovecot remembers logins for minutes: a new password, a deactivation or a
        # forced change must take effect at once.
        post_save.connect(services.login_changed, sender=User, dispatch_uid="mail-login")
