"""What a school export carries from this app (see kreide/transfer/registry.py).

Password hashes travel with the users, so everyone keeps their password; two-factor
devices travel too, so nobody has to enrol their authenticator again after a move.
"""

from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from kreide.accounts.models import User
from kreide.transfer import registry

# Sign-in matches usernames and e-mails across all schools of a deployment.
registry.register(User, unique_across_schools=("username", "email"))
registry.register(TOTPDevice)
registry.register(StaticDevice)
registry.register(StaticToken)

_ROLES = (
    "Kreide authorises school users by role and membership; Django's groups and "
    "permissions are only for the deployment's operators, who belong to no school"
)
registry.not_school_data(User.groups.through, _ROLES)
registry.not_school_data(User.user_permissions.through, _ROLES)
