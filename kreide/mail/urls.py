from django.urls import path

from kreide.mail import views

app_name = "mail"
urlpatterns: list = [
    path("", views.inbox, name="inbox"),
    path("compose/", views.compose, name="compose"),
    path("directory/", views.directory, name="directory"),
    path("<id:uid>/", views.message, name="message"),
    path("<id:uid>/attachments/<id:index>", views.attachment, name="attachment"),
    path("<id:uid>/delete", views.delete, name="delete"),
    path("<id:uid>/move", views.move, name="move"),
]
