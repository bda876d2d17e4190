"""The provider's endpoints (namespace `oauth2_provider`, which the toolkit reverses) and
the school office's client list (namespace `oidc`). Discovery sits at the origin's root,
so the issuer is the site's address itself."""

from django.urls import path, re_path
from oauth2_provider import views as toolkit

from kreide.oidc import views

provider_patterns = [
    re_path(
        r"^\.well-known/openid-configuration$",
        toolkit.ConnectDiscoveryInfoView.as_view(),
        name="oidc-connect-discovery-info",
    ),
    path("oidc/authorize/", views.AuthorizationView.as_view(), name="authorize"),
    path("oidc/token/", toolkit.TokenView.as_view(), name="token"),
    path("oidc/revoke/", toolkit.RevokeTokenView.as_view(), name="revoke-token"),
    path("oidc/jwks/", views.jwks, name="jwks-info"),
    path("oidc/userinfo/", toolkit.UserInfoView.as_view(), name="user-info"),
    path("oidc/logout/", toolkit.RPInitiatedLogoutView.as_view(), name="rp-initiated-logout"),
]

office_patterns = [
    path("clients/", views.client_list, name="clients"),
    path("clients/new/", views.client_add, name="client_add"),
    path("clients/<id:pk>/revoke/", views.client_revoke, name="client_revoke"),
]
