"""Models of Django and its add-ons that touch users but are no school data, and the
rows of exported models that stay behind."""

from django.contrib.admin.models import LogEntry
from django.db.models import Q

from kreide.core.models import AuditEntry
from kreide.transfer import registry
from kreide.transfer.history import ACTION_PREFIX

registry.not_school_data(
    LogEntry, "Django admin's change log: the admin site is for the deployment's operators"
)
registry.leave_behind(
    AuditEntry,
    Q(action__startswith=ACTION_PREFIX),
    "exports and imports are this deployment's history with the school (history.py)",
)
