from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MailConfig(AppConfig):
    name = "kreide.mail"
    label = "mail"
    verbose_name = _("E-mail")

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from kreide.accounts import events as account_events
        from kreide.accounts.models import User
        from kreide.api import registry as api_registry
        from kreide.core import health as core_health
        from kreide.core import navigation, pagecache
        from kreide.dashboard.registry import Section, register
        from kreide.mail import health, hooks, mailboxes, services, uploads
        from kreide.storage.uploads import register_purpose

        navigation.register(
            _("Mail"), "mail:inbox", order=35, visible=hooks.nav_visible, count=hooks.nav_count
        )
        pagecache.register(hooks.page_keys)
        register_purpose(uploads.MailAttachment())
        register(Section("mail", _("Mail"), "mail/section.html", 35, hooks.dashboard_section))

        # Dovecot remembers logins for minutes: a new password, a deactivation or a
        # forced change must take effect at once.
        post_save.connect(services.login_changed, sender=User, dispatch_uid="mail-login")
        # A new account's mailbox and folders are made now, not on its first opening at 8:00.
        account_events.users_created.subscribe(mailboxes.created_accounts)
        core_health.register("mail", _("Mail"), health.check, order=60)
        api_registry.register_me(hooks.me_part)
