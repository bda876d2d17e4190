from django.urls import path

from kreide.messenger import views

app_name = "messenger"
urlpatterns: list = [
    path("", views.index, name="index"),
    path("new/", views.room_create, name="create"),
    path("direct/", views.direct_search, name="direct_search"),
    path("direct/<int:user_id>/", views.direct_open, name="direct_open"),
    path("rooms/<int:pk>/", views.room, name="room"),
    path("rooms/<int:pk>/messages", views.room_messages, name="messages"),
    path("rooms/<int:pk>/send", views.room_send, name="send"),
    path("rooms/<int:pk>/read", views.room_read, name="read"),
    path("rooms/<int:pk>/search", views.room_search, name="search"),
    path("rooms/<int:pk>/members/", views.room_members, name="members"),
    path("message/<int:pk>/edit", views.message_edit, name="edit"),
    path("message/<int:pk>/delete", views.message_delete, name="delete"),
    path("attachments/<int:pk>/download", views.attachment, name="attachment"),
]
