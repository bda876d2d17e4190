"""What a school export carries from this app (see kreide/transfer/registry.py).

Task.groups and Task.students (auto-created many-to-many tables) come along with Task;
attachment and submission files travel as blobs.
"""

from kreide.tasks.models import Attachment, Submission, SubmissionFile, Task
from kreide.transfer import registry

registry.register(Task)
registry.register(Attachment)
registry.register(Submission)  # with feedback, points and grade
registry.register(SubmissionFile)
