from django.urls import path

from kreide.messenger.consumers import MessengerConsumer

websocket_urlpatterns: list = [path("ws/messenger/", MessengerConsumer.as_asgi())]
