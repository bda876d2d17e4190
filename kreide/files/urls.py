from django.urls import path

from kreide.files import views

app_name = "files"
urlpatterns = [
    path("", views.home, name="home"),
    path("folder/<id:pk>/", views.folder, name="folder"),
    path("folder/<id:pk>/new/", views.mkdir, name="mkdir"),
    path("folder/<id:pk>/upload/", views.upload, name="upload"),
    path("item/<id:pk>/", views.view, name="view"),
    path("item/<id:pk>/download", views.download, name="download"),
    path("item/<id:pk>/preview", views.preview, name="preview"),
    path("item/<id:pk>/rename/", views.rename, name="rename"),
    path("item/<id:pk>/move/", views.move, name="move"),
    path("item/<id:pk>/copy/", views.copy, name="copy"),
    path("item/<id:pk>/delete/", views.delete, name="delete"),
    path("item/<id:pk>/share/", views.share, name="share"),
    path("item/<id:pk>/link/", views.create_link, name="create_link"),
    path("share/<id:pk>/remove/", views.unshare, name="unshare"),
    path("link/<id:pk>/revoke/", views.revoke_link, name="revoke_link"),
    path("trash/", views.trash, name="trash"),
    path("trash/<id:pk>/restore/", views.restore, name="restore"),
    path("group/<id:group_id>/writers/", views.writers, name="writers"),
    path("quotas/", views.quotas, name="quotas"),
    path("app-passwords/", views.app_passwords, name="app_passwords"),
    path("app-passwords/<id:pk>/revoke/", views.revoke_app_password, name="revoke_app_password"),
    path("p/<str:token>/", views.public, name="public"),
    path("p/<str:token>/<id:node_id>/", views.public, name="public_folder"),
    path("p/<str:token>/<id:node_id>/download", views.public_download, name="public_download"),
]
