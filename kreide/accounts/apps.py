from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "kreide.accounts"
    label = "accounts"
    verbose_name = _("Accounts")

    def ready(self) -> None:
        from django.contrib.auth.models import update_last_login
        from django.contrib.auth.signals import user_logged_in

        from kreide.accounts import backends, gate, health, keptuser, upstream
        from kreide.accounts.models import UpstreamProvider, User
        from kreide.core import fragments, navigation, pagecache, sessions
        from kreide.core import health as core_health
        from kreide.schools.models import School

        navigation.register(
            _("My classes"),
            "accounts:my_classes",
            order=80,
            visible=lambda request: request.user.is_teacher,
        )
        navigation.register(
            _("School admin"),
            "accounts:user_list",
            order=90,
            visible=lambda request: request.user.is_school_admin,
        )
        core_health.register("login", _("Sign-in"), health.check, order=10)
        # last_login once a day per account, without save()'s machinery (backends.py).
        user_logged_in.disconnect(update_last_login, dispatch_uid="update_last_login")
        user_logged_in.connect(backends.note_last_login, dispatch_uid="kreide-last-login")
        # What every signed-in page needs, for former students too (accounts.gate).
        gate.open_to_former_students(
            "accounts:login",
            "accounts:logout",
            "accounts:password_change",
            "set_language",
            "javascript-catalog",
        )
        # The sign-in page's provider buttons (the school's name on them).
        for model in (UpstreamProvider, School):
            fragments.feeds(model, lambda row: [upstream.BUTTONS_SCOPE])
        pagecache.register(upstream.page_keys)
        # The signed-in user kept per process, against its row's and its school's versions
        # read with the session (accounts.keptuser).
        fragments.feeds(User, lambda user: [keptuser.user_scope(user.pk)])
        fragments.feeds(School, lambda school: [keptuser.school_scope(school.pk)])
        sessions.read_along(keptuser.keys_for_session)
        user_logged_in.connect(keptuser.learn_at_sign_in, dispatch_uid="kreide-kept-user")
