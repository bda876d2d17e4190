from django.urls import path

from kreide.files import views

app_name = "files"
urlpatterns = [
    path("", views.home, name="home"),
    path("folder/<int:pk>/", views.folder, name="folder"),
    path("folder/<int:pk>/new/", views.mkdir, name="mkdir"),
    path("folder/<int:pk>/upload/", views.upload, name="upload"),
    path("item/<int:pk>/", views.view, name="view"),
    path("item/<int:pk>/download", views.download, name="download"),
    path("item/<int:pk>/preview", views.preview, name="preview"),
    path("item/<int:pk>/rename/", views.rename, name="rename"),
    path("item/<int:pk>/move/", views.move, name="move"),
    path("item/<int:pk>/copy/", views.copy, name="copy"),
    path("item/<int:pk>/delete/", views.delete, name="delete"),
    path("item/<int:pk>/share/", views.share, name="share"),
    path("item/<int:pk>/link/", views.create_link, name="create_link"),
    path("share/<int:pk>/remove/", views.unshare, name="unshare"),
    path("link/<int:pk>/revoke/", views.revoke_link, name="revoke_link"),
    path("trash/", views.trash, name="trash"),
    path("trash/<int:pk>/restore/", views.restore, name="restore"),
    path("group/<int:group_id>/writers/", views.writers, name="writers"),
    path("quotas/", views.quotas, name="quotas"),
    path("app-passwords/", views.app_passwords, name="app_passwords"),
    path("app-passwords/<int:pk>/revoke/", views.revoke_app_password, name="revoke_app_password"),
    path("p/<str:token>/", views.public, name="public"),
    path("p/<str:token>/<int:node_id>/", views.public, name="public_folder"),
    path("p/<str:token>/<int:node_id>/download", views.public_download, name="public_download"),
]
