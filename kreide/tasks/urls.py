from django.urls import path

from kreide.tasks import views

app_name = "tasks"
urlpatterns = [
    path("", views.task_list, name="list"),
    path("new/", views.task_create, name="create"),
    path("<id:pk>/", views.task_detail, name="detail"),
    path("<id:pk>/edit/", views.task_edit, name="edit"),
    path("<id:pk>/delete/", views.task_delete, name="delete"),
    path("<id:pk>/attachments/", views.attachments_partial, name="attachments"),
    path(
        "<id:pk>/attachments/<id:attachment_id>/download",
        views.attachment_download,
        name="attachment",
    ),
    path(
        "<id:pk>/attachments/<id:attachment_id>/delete/",
        views.attachment_delete,
        name="attachment-delete",
    ),
    path("<id:pk>/submission/", views.my_submission_partial, name="my-submission"),
    path("<id:pk>/submission/text/", views.submit_text, name="submit-text"),
    path("<id:pk>/submission/hand-in/", views.hand_in, name="hand-in"),
    path("<id:pk>/submission/take-back/", views.take_back, name="take-back"),
    path("<id:pk>/files/<id:file_id>/download", views.submission_file, name="submission-file"),
    path("<id:pk>/files/<id:file_id>/delete/", views.file_delete, name="file-delete"),
    path("<id:pk>/files/<id:file_id>/preview", views.submission_preview, name="submission-preview"),
    path("<id:pk>/submissions/<id:submission_id>/", views.submission_detail, name="submission"),
    path("<id:pk>/submissions.zip", views.submissions_zip, name="zip"),
    path("<id:pk>/remind/", views.remind, name="remind"),
    path("<id:pk>/copy/", views.copy, name="copy"),
]
