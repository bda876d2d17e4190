"""What a school export carries from this app (see kreide/transfer/registry.py).

Password hashes travel with the users, so everyone keeps their password; two-factor
devices travel too, so nobody has to enrol their authenticator again after a move.
Upstream sign-in providers and external IDs travel without the client secret.
"""

from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from kreide.accounts.models import ExternalIdentity, UpstreamProvider, User
from kreide.transfer import registry

# Sign-in matches usernames and e-mails across all schools of a deployment.
registry.register(User, unique_across_schools=("username", "email"))
registry.register(TOTPDevice)
registry.register(StaticDevice)
registry.register(StaticToken)
# Sign-in providers travel with the accounts' external IDs, so matching goes on at the new
# home; the client secret stays behind (enciphered with this deployment's SECRET_KEY): the
# school office enters it again, and until then the provider shows no button.
registry.register(
    UpstreamProvider,
    omit={"secret_sealed": "enciphered with this deployment's key; entered again at the new home"},
)
registry.register(ExternalIdentity)

_ROLES = (
    "Kreide authorises school users by role and membership; Django's groups and "
    "permissions are only for the deployment's operators, who belong to no school"
)
registry.not_school_data(User.groups.through, _ROLES)
registry.not_school_data(User.user_permissions.through, _ROLES)
