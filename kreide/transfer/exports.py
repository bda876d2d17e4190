"""Models of Django and its add-ons that touch users but are no school data."""

from django.contrib.admin.models import LogEntry

from kreide.transfer import registry

registry.not_school_data(
    LogEntry, "Django admin's change log: the admin site is for the deployment's operators"
)
