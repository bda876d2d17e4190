"""What happens to tasks that other modules follow (notifications)."""

from kreide.core.events import Event

task_created = Event("tasks.task_created", "A teacher created a task (task_id).")
feedback_given = Event(
    "tasks.feedback_given",
    "A teacher reviewed a submission or returned it for revision (submission_id, returned).",
)
