from django.urls import path

from kreide.news import views

app_name = "news"

urlpatterns = [
    path("", views.index, name="index"),
    path("new/", views.create, name="create"),
    path("<id:pk>/", views.detail, name="detail"),
    path("<id:pk>/edit/", views.edit, name="edit"),
    path("<id:pk>/delete/", views.delete, name="delete"),
    path("<id:pk>/files/<id:attachment_id>/", views.attachment, name="attachment"),
    path(
        "<id:pk>/files/<id:attachment_id>/remove/",
        views.attachment_delete,
        name="attachment_delete",
    ),
    path("<id:pk>/confirm/", views.confirm, name="confirm"),
    path("<id:pk>/receipts/", views.receipts, name="receipts"),
    path("<id:pk>/receipts.csv", views.receipts_csv, name="receipts_csv"),
    path("<id:pk>/remind/", views.remind, name="remind"),
]
