from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TasksConfig(AppConfig):
    name = "kreide.tasks"
    label = "tasks"
    verbose_name = _("Tasks")

    def ready(self) -> None:
        from kreide.api import registry as api_registry
        from kreide.core import fragments
        from kreide.core import health as core_health
        from kreide.core.navigation import register as register_nav
        from kreide.dashboard.registry import Section
        from kreide.dashboard.registry import register as register_section
        from kreide.storage.uploads import register_purpose
        from kreide.tasks import dashboard, health, openapi, services, uploads
        from kreide.tasks.models import Attachment, Task

        register_nav(_("Tasks"), "tasks:list", order=10)
        register_section(
            Section(
                "tasks",
                _("Tasks"),
                "tasks/section_tasks.html",
                10,
                dashboard.tasks_section,
                entries=dashboard.tasks_entries,
                kept=dashboard.tasks_kept,
                probes=dashboard.tasks_probes,
            )
        )
        register_purpose(uploads.SubmissionPurpose())
        register_purpose(uploads.AttachmentPurpose())
        core_health.register("tasks", _("Tasks"), health.check, order=20)
        api_registry.register_routes("tasks/", "kreide.tasks.api")
        api_registry.register_document(paths=openapi.PATHS, schemas=openapi.SCHEMAS)
        fragments.feeds(Task, services.task_scopes)
        fragments.feeds(Task.groups.through, lambda row: [services.group_tasks_scope(row.group_id)])
        fragments.feeds(Task.students.through, services.named_student_scopes)
        fragments.feeds(
            Attachment, lambda attachment: [services.task_attachments_scope(attachment.task_id)]
        )
