"""A school export carries no sign-in clients or tokens: at the new home the issuer and
its keys differ, so every connected tool is registered there again (docs/sso.md)."""

from oauth2_provider.models import AccessToken, DeviceGrant, Grant, IDToken, RefreshToken

from kreide.oidc.models import Client, ClientSignIn
from kreide.transfer import registry

_WHY = "connected tools register again at the new home: its issuer and signing keys differ"
for model in (Client, ClientSignIn, AccessToken, RefreshToken, IDToken, Grant, DeviceGrant):
    registry.not_school_data(model, _WHY)
