from django.urls import path

from kreide.storage import tus, unreachable

app_name = "storage"
urlpatterns = [
    path("", tus.collection, name="uploads"),
    path("<uuid:upload_id>", tus.resource, name="upload"),
    path("<uuid:upload_id>/result", tus.result, name="upload-result"),
    path("unreachable", unreachable.unreachable, name="unreachable"),
]
