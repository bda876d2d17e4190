from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class KreideUserManager(UserManager):
    """Sign-in looks users up across schools by username; everything else names the school."""

    def for_school(self, school):
        if school is None:
            from kreide.core.scoping import SchoolScopeError

            raise SchoolScopeError("User.objects.for_school() got no school.")
        return self.get_queryset().filter(school=school)


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
        indexes = [models.Index(fields=["school", "role"])]
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.get_full_name() or self.username

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
