"""Where Kreide keeps personal data: one entry per model, read by the access export, the
erasure and docs/verarbeitungsverzeichnis.md.

`uncovered()` enumerates Django's app registry: every model with a foreign key (or a
many-to-many table) to the user model, and every model with a cascading foreign key to a
model entered here as the person's own content (`owned=True`: a submission's files, a
folder's files), must have an entry or a reason in NOT_PERSONAL. A test fails otherwise, so
a new model cannot hold people's data without the access export, the erasure and the record
of processing knowing it.

Each entry names the lookups from its model to the person (`student`, `space__user`); the
access export takes every row any lookup reaches; the erasure deletes the user row, and the
database then deletes (CASCADE) or empties (SET_NULL) each direct reference — what others
need, like a teacher's feedback on a submission, stays with its thing and loses the name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

from django.apps import apps
from django.contrib.auth import get_user_model
from django.db import models
from django.db.models import Q


@dataclass(frozen=True)
class Personal:
    label: str  # "tasks.Submission" (auto-created M2M tables: "tasks.Task_students")
    lookups: tuple[str, ...]  # from the model to the person
    activity: str  # key of ACTIVITIES: the processing activity of the record (VVT)
    # Fields never copied into an access export (hashes of secrets, keys), with why.
    withheld: tuple[str, ...] = ()
    owned: bool = False  # the rows are the person's own content (see the module doc)
    # Text fields naming the person in rows the erasure keeps: emptied (`label`, `details`).
    scrub: dict[str, str] = field(default_factory=dict)

    @property
    def model(self) -> type[models.Model]:
        return apps.get_model(self.label)

    def rows_of(self, user) -> models.QuerySet:
        condition = Q()
        for lookup in self.lookups:
            condition |= Q(**{lookup: user.pk})
        return self.model._base_manager.filter(condition).distinct().order_by("pk")


# Processing activities of the record (docs/verarbeitungsverzeichnis.md has the details).
ACTIVITIES = {
    "accounts": "Benutzerkonten, Anmeldung und Rollen",
    "teaching": "Aufgaben, Abgaben und Rückmeldungen",
    "files": "Dateiablage",
    "communication": "Nachrichten, E-Mail und Benachrichtigungen",
    "video": "Videounterricht",
    "timetable": "Stundenplan, Vertretungen und Kalender",
    "parents": "Eltern, Elternzugänge und Abwesenheitsmeldungen",
    "sso": "Anmeldung bei angebundenen Diensten (OpenID Connect)",
    "security": "Protokollierung und Sicherheit",
    "privacy": "Betroffenenrechte und Löschfristen",
}

SECRET = ("secret_sha256",)
TOKEN = ("token", "token_checksum")
CATALOGUE: tuple[Personal, ...] = (
    Personal("accounts.User", ("pk",), "accounts", withheld=("password",)),
    Personal("accounts.User_teaching_subjects", ("user",), "accounts"),
    Personal("accounts.User_groups", ("user",), "accounts"),
    Personal("accounts.User_user_permissions", ("user",), "accounts"),
    Personal("otp_totp.TOTPDevice", ("user",), "security", withheld=("key",)),
    Personal("otp_static.StaticDevice", ("user",), "security", owned=True),
    Personal("otp_static.StaticToken", ("device__user",), "security", withheld=("token",)),
    Personal("admin.LogEntry", ("user",), "security"),
    Personal("core.AuditEntry", ("actor",), "security"),
    Personal("schools.Membership", ("user",), "accounts"),
    Personal("schoolyear.Leaver", ("user",), "accounts"),
    Personal("news.News", ("author",), "communication"),
    Personal("news.Receipt", ("child", "parent"), "parents"),
    Personal("storage.Upload", ("user",), "files"),
    Personal("tasks.Task", ("created_by", "students"), "teaching"),
    Personal("tasks.Task_students", ("user",), "teaching"),
    Personal("tasks.Submission", ("student", "reviewed_by"), "teaching", owned=True),
    Personal("tasks.SubmissionFile", ("submission__student",), "teaching"),
    Personal("files.Space", ("user",), "files", owned=True),
    Personal("files.Node", ("space__user", "created_by", "deleted_by"), "files", owned=True),
    Personal("files.DeadProperty", ("node__space__user",), "files"),
    Personal("files.GroupWriter", ("user", "granted_by"), "files"),
    Personal("files.Share", ("user", "created_by", "node__space__user"), "files"),
    Personal("files.PublicLink", ("created_by", "node__space__user"), "files", withheld=("token",)),
    Personal("files.AppPassword", ("user",), "security", withheld=SECRET),
    Personal("messenger.Room", ("created_by",), "communication"),
    Personal("messenger.RoomMember", ("user",), "communication"),
    Personal("messenger.Attachment", ("uploader",), "communication"),
    Personal("messenger.Message", ("author", "deleted_by"), "communication", owned=True),
    Personal("video.VideoLesson", ("teacher",), "video", withheld=("room_secret",)),
    Personal("video.Admission", ("user",), "video", withheld=("token",)),
    Personal("video.ChatMessage", ("author",), "video"),
    Personal("timetable.TeacherCode", ("user",), "timetable"),
    Personal("timetable.Lesson", ("teacher",), "timetable"),
    Personal("timetable.Substitution", ("teacher", "absent_teacher"), "timetable"),
    Personal("timetable.Event", ("owner", "created_by"), "timetable"),
    Personal("timetable.FeedToken", ("user",), "timetable", withheld=("token",)),
    Personal("timetable.ImportKey", ("created_by",), "timetable", withheld=SECRET),
    Personal("parents.ParentLink", ("parent", "child"), "parents"),
    Personal(
        "parents.ParentInvitation", ("child", "redeemed_by"), "parents", withheld=("code_hash",)
    ),
    Personal("parents.AbsenceReport", ("child", "reported_by", "acknowledged_by"), "parents"),
    Personal("notifications.Notification", ("user",), "communication"),
    Personal("notifications.Preferences", ("user",), "communication"),
    # The endpoint and keys let anyone push to the browser: a copy names the device only.
    Personal(
        "notifications.PushSubscription",
        ("user",),
        "communication",
        withheld=("endpoint", "p256dh", "auth"),
    ),
    Personal("api.ApiToken", ("user",), "security", withheld=SECRET),
    Personal("oidc.Client", ("user",), "sso", withheld=("client_secret",)),
    Personal("oidc.ClientSignIn", ("user",), "sso"),
    Personal("accounts.ExternalIdentity", ("user",), "sso"),
    Personal("oauth2_provider.Grant", ("user",), "sso", withheld=("code", "code_challenge")),
    Personal("oauth2_provider.AccessToken", ("user",), "sso", withheld=TOKEN),
    Personal("oauth2_provider.RefreshToken", ("user",), "sso", withheld=TOKEN),
    Personal("oauth2_provider.IDToken", ("user",), "sso", withheld=("jti",)),
    Personal(
        "oauth2_provider.DeviceGrant", ("user",), "sso", withheld=("device_code", "user_code")
    ),
    Personal("privacy.Deactivation", ("user",), "privacy"),
    Personal("privacy.AccessExport", ("subject", "requested_by"), "privacy"),
)

# Models that point at a person or at their own content but hold nothing about them.
NOT_PERSONAL: dict[str, str] = {}


def catalogue() -> dict[str, Personal]:
    return {entry.label: entry for entry in CATALOGUE}


def entry_for(model: type[models.Model]) -> Personal | None:
    return catalogue().get(model._meta.label)


def _points_at(model: type[models.Model], targets: set, cascade_only: bool) -> list[str]:
    found = []
    for f in model._meta.concrete_fields:
        if not (f.is_relation and (f.many_to_one or f.one_to_one)):
            continue
        if f.related_model not in targets:
            continue
        if cascade_only and f.remote_field.on_delete is not models.CASCADE:
            continue
        found.append(f.name)
    return found


@cache
def personal_models() -> tuple[type[models.Model], ...]:
    """Every model holding personal data, by Django's app registry: a foreign key to the
    user model (M2M tables included), the user model itself, a cascading foreign key to
    a model of the person's own content, or an entry here."""
    user = get_user_model()
    known = catalogue()
    owned = {apps.get_model(e.label) for e in CATALOGUE if e.owned}
    found = [user]
    for model in apps.get_models(include_auto_created=True):
        if model is user:
            continue
        if (
            _points_at(model, {user}, cascade_only=False)
            or _points_at(model, owned, cascade_only=True)
            or model._meta.label in known
        ):
            found.append(model)
    return tuple(found)


def uncovered() -> list[str]:
    """One message per personal model without an entry (nor a reason it holds nothing)."""
    known = catalogue()
    problems = []
    for model in personal_models():
        label = model._meta.label
        if label in known or label in NOT_PERSONAL:
            continue
        problems.append(
            f"{label} holds personal data (it points at a person or their content) but is "
            "not in kreide/privacy/personal.py CATALOGUE: add it with its lookups to the "
            "person and its processing activity (and describe it in "
            "docs/verarbeitungsverzeichnis.md)."
        )
    for label, entry in known.items():
        try:
            model = entry.model
        except LookupError:
            problems.append(f"{label} is in the catalogue but no longer exists.")
            continue
        for name in entry.withheld:
            try:
                model._meta.get_field(name)
            except Exception:
                problems.append(f"{label}.{name} is withheld but is no field.")
    return problems
