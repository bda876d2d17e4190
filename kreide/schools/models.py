"""Schools and how their people are organised: classes, courses, working groups, subjects."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from kreide.core.fragments import FeedingQuerySet
from kreide.core.scoping import SchoolScopedModel


class School(models.Model):
    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("short name"), max_length=60, unique=True)
    address = models.TextField(_("address"), blank=True)
    student_direct_messages = models.BooleanField(
        _("students may message each other directly"), default=True
    )
    public_links_allowed = models.BooleanField(_("public file links allowed"), default=True)
    # Set by the first school-year rollover (kreide.schoolyear): the navigation shows the
    # archive of past years only then, without a query on every page.
    has_archives = models.BooleanField(default=False, editable=False)
    parents_see_task_contents = models.BooleanField(
        _("parents see the contents of their children's tasks"), default=False
    )
    # db_default: the previous release's INSERTs leave the column out (docs/scale-out.md).
    parents_message_teachers = models.BooleanField(
        _("parents may write to their children's class teachers in the messenger"),
        default=True,
        db_default=True,
    )
    created_at = models.DateTimeField(auto_now_add=True)

    # A school feeds cached fragments (its name on the info screen): an update() bumps
    # them as a save does.
    objects = models.Manager.from_queryset(FeedingQuerySet)()

    class Meta:
        ordering = ["name"]
        verbose_name = _("school")
        verbose_name_plural = _("schools")

    def __str__(self) -> str:
        return self.name


class Subject(SchoolScopedModel):
    name = models.CharField(_("name"), max_length=100)
    short_name = models.CharField(_("abbreviation"), max_length=10)

    class Meta(SchoolScopedModel.Meta):
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["school", "short_name"], name="subject_short_unique")
        ]
        verbose_name = _("subject")
        verbose_name_plural = _("subjects")

    def __str__(self) -> str:
        return self.name


class Group(SchoolScopedModel):
    """A class (5a), a course (Mathe LK 12) or a working group (Schulband)."""

    class Kind(models.TextChoices):
        CLASS = "class", _("class")
        COURSE = "course", _("course")
        WORKGROUP = "workgroup", _("working group")

    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.CLASS)
    grade = models.PositiveSmallIntegerField(_("grade"), null=True, blank=True)
    subject = models.ForeignKey(
        Subject, null=True, blank=True, on_delete=models.SET_NULL, verbose_name=_("subject")
    )
    is_active = models.BooleanField(_("active"), default=True)
    # Set by the school-year rollover (kreide.schoolyear): the class of that year, kept as a
    # read-only archive for the people who were in it. Archived groups are never active.
    archived_year = models.CharField(_("archive of the school year"), max_length=9, blank=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Membership", related_name="school_groups"
    )

    class Meta(SchoolScopedModel.Meta):
        ordering = ["grade", "name"]
        constraints = [models.UniqueConstraint(fields=["school", "name"], name="group_name_unique")]
        verbose_name = _("class or group")
        verbose_name_plural = _("classes and groups")

    def __str__(self) -> str:
        return self.name


class Membership(SchoolScopedModel):
    class Role(models.TextChoices):
        MEMBER = "member", _("member")
        TEACHER = "teacher", _("teacher")

    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.MEMBER)
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta(SchoolScopedModel.Meta):
        constraints = [models.UniqueConstraint(fields=["group", "user"], name="membership_unique")]
        indexes = [models.Index(fields=["user", "role"])]
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")

    def __str__(self) -> str:
        return f"{self.user} in {self.group}"
