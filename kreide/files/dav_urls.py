from django.urls import re_path

from kreide.files.webdav import dav

app_name = "dav"
urlpatterns = [re_path(r"^(?P<path>.*)$", dav, name="dav")]
