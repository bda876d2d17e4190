"""/api/: version 1 of the JSON API with every app's registered routes, and the token page."""

from django.urls import include, path

from kreide.api import registry, views

urlpatterns = [
    path("v1/me", views.me, name="api_me"),
    path("v1/openapi.json", views.openapi, name="api_openapi"),
    path("tokens/", views.tokens, name="api_tokens"),
    path("tokens/<id:pk>/revoke/", views.revoke, name="api_token_revoke"),
    *(path(f"v1/{prefix}", include(urlconf)) for prefix, urlconf in registry.routes),
]
