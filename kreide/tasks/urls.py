from django.urls import path

from kreide.tasks import views

app_name = "tasks"
urlpatterns = [
    path("", views.task_list, name="list"),
    path("new/", views.task_create, name="create"),
    path("<int:pk>/", views.task_detail, name="detail"),
    path("<int:pk>/edit/", views.task_edit, name="edit"),
    path("<int:pk>/delete/", views.task_delete, name="delete"),
    path("<int:pk>/attachments/", views.attachments_partial, name="attachments"),
    path(
        "<int:pk>/attachments/<int:attachment_id>/download",
        views.attachment_download,
        name="attachment",
    ),
    path(
        "<int:pk>/attachments/<int:attachment_id>/delete/",
        views.attachment_delete,
        name="attachment-delete",
    ),
    path("<int:pk>/submission/", views.my_submission_partial, name="my-submission"),
    path("<int:pk>/submission/text/", views.submit_text, name="submit-text"),
    path("<int:pk>/submission/hand-in/", views.hand_in, name="hand-in"),
    path("<int:pk>/files/<int:file_id>/download", views.submission_file, name="submission-file"),
    path("<int:pk>/files/<int:file_id>/delete/", views.file_delete, name="file-delete"),
    path("<int:pk>/submissions/<int:submission_id>/", views.submission_detail, name="submission"),
    path("<int:pk>/submissions.zip", views.submissions_zip, name="zip"),
]
