from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper
from django.utils.translation import gettext_lazy as _

from kreide.core.fragments import FeedingQuerySet
from kreide.core.scoping import SchoolScopedModel


class KreideUserManager(UserManager.from_queryset(FeedingQuerySet)):
    """Sign-in looks users up across schools by username; everything else names the school.
    On FeedingQuerySet: an `update()` bumps the rows' versions, so no process keeps a user
    its update changed (accounts.keptuser)."""

    def for_school(self, school):
        if school is None:
            from kreide.core.scoping import SchoolScopeError

            raise SchoolScopeError("User.objects.for_school() got no school.")
        return self.get_queryset().filter(school=school)


# (password hash, secret key) -> the session's auth hash: User.get_session_auth_hash.
_SESSION_AUTH_HASHES: dict[tuple[str, str], str] = {}


class User(AbstractUser):
    class Role(models.TextChoices):
        STUDENT = "student", _("student")
        TEACHER = "teacher", _("teacher")
        SCHOOL_ADMIN = "school_admin", _("school admin")
        # A parent sees only the children linked to them (kreide.parents.ParentLink).
        PARENT = "parent", _("parent")

    school = models.ForeignKey(
        "schools.School",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="users",
        verbose_name=_("school"),
        help_text=_("Empty only for operators of the whole deployment."),
    )
    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.STUDENT)
    must_change_password = models.BooleanField(_("must change password"), default=False)
    # The stable id of this person in the school administration software (SchILD-NRW's
    # "Interne ID-Nummer", the generic sync file's `id`): kreide.schoolyear.sis matches by it.
    sis_id = models.CharField(
        _("ID in the school administration software"), max_length=64, blank=True
    )
    # Set by the school-year rollover for its graduates and leavers: while the account is
    # deactivated it still signs in, read-only (kreide.accounts.gate.former_student).
    left_school = models.BooleanField(
        _("left the school at a rollover"),
        default=False,
        db_default=False,  # kept in the table: the previous release inserts without it
        help_text=_(
            "While deactivated, the account signs in only to read its archive, download a "
            "copy of its data and change its password."
        ),
    )
    teaching_subjects = models.ManyToManyField(
        "schools.Subject", blank=True, related_name="teachers", verbose_name=_("subjects taught")
    )

    objects = KreideUserManager()

    class Meta:
        ordering = ["last_name", "first_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["email"], condition=~Q(email=""), name="user_email_unique"
            ),
            models.UniqueConstraint(
                fields=["school", "sis_id"], condition=~Q(sis_id=""), name="user_sis_id_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["school", "role"]),
            # Sign-in finds the account by name or address whatever the case (PostgreSQL:
            # UPPER(…) = UPPER(%s)); without these each sign-in read the whole table.
            models.Index(Upper("username"), name="user_username_upper"),
            models.Index(Upper("email"), name="user_email_upper"),
        ]
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    def get_session_auth_hash(self) -> str:
        """Django's HMAC of the password's hash, kept per process for that hash and the
        secret key: every signed-in request checks its session against it (~25 Python
        calls to make). A new password (or key) is a new entry, so it takes effect at once."""
        key = (self.password, settings.SECRET_KEY)
        hashed = _SESSION_AUTH_HASHES.get(key)
        if hashed is None:
            if len(_SESSION_AUTH_HASHES) >= 4096:
                _SESSION_AUTH_HASHES.clear()
            hashed = _SESSION_AUTH_HASHES[key] = super().get_session_auth_hash()
        return hashed

    @property
    def is_student(self) -> bool:
        return self.role == self.Role.STUDENT

    @property
    def is_teacher(self) -> bool:
        return self.role == self.Role.TEACHER

    @property
    def is_school_admin(self) -> bool:
        return self.role == self.Role.SCHOOL_ADMIN

    @property
    def is_parent(self) -> bool:
        return self.role == self.Role.PARENT


class UpstreamProvider(SchoolScopedModel):
    """Another OpenID Connect provider the school's people may sign in through (the state's
    school identity service, or another Kreide). Accounts are matched only by `claim`
    against their `ExternalIdentity`; the client secret is stored enciphered
    (kreide.accounts.upstream)."""

    name = models.CharField(_("name"), max_length=100, help_text=_("Shown on the sign-in button."))
    issuer = models.URLField(
        _("issuer"),
        max_length=400,
        help_text=_(
            "The provider's address; Kreide reads /.well-known/openid-configuration there."
        ),
    )
    client_id = models.CharField(_("client ID"), max_length=255)
    secret_sealed = models.TextField(blank=True, editable=False)
    scopes = models.CharField(_("scopes"), max_length=300, default="openid profile email")
    claim = models.CharField(
        _("claim to match accounts by"),
        max_length=100,
        default="sub",
        help_text=_("A stable claim, e.g. sub or the school's own ID for the person."),
    )
    create_accounts = models.BooleanField(_("unmatched sign-ins create accounts"), default=False)
    new_account_role = models.CharField(
        _("role of created accounts"),
        max_length=20,
        choices=[
            (User.Role.STUDENT, User.Role.STUDENT.label),
            (User.Role.TEACHER, User.Role.TEACHER.label),
        ],
        default=User.Role.STUDENT,
    )
    enabled = models.BooleanField(_("shown on the sign-in page"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(SchoolScopedModel.Meta):
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["school", "name"], name="upstream_name_unique")
        ]
        verbose_name = _("sign-in provider")
        verbose_name_plural = _("sign-in providers")

    def __str__(self) -> str:
        return self.name


class ExternalIdentity(SchoolScopedModel):
    """An account's value of its provider's matching claim: the only way an upstream
    sign-in finds an account."""

    provider = models.ForeignKey(
        UpstreamProvider, on_delete=models.CASCADE, related_name="identities"
    )
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="external_identities")
    value = models.CharField(_("external ID"), max_length=255)
    first_sign_in_at = models.DateTimeField(null=True, blank=True)

    class Meta(SchoolScopedModel.Meta):
        ordering = ["provider", "value"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "value"], name="identity_value_unique"),
            models.UniqueConstraint(fields=["provider", "user"], name="identity_user_unique"),
        ]
        verbose_name = _("external identity")
        verbose_name_plural = _("external identities")

    def __str__(self) -> str:
        return f"{self.provider}: {self.value}"
