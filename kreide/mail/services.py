"""School e-mail: Kreide is the directory and the policy; Postfix and Dovecot carry mail.

Every answer is derived from accounts and rosters when it is asked for (no copy that could
go stale): an account's address is `<username>@<school domain>`; classes, courses and
working groups have list addresses (`klasse-7a@…`, `kurs-…@…`, `ag-…@…`), all teachers
`lehrkraefte@…` and the school office `sekretariat@…`. Postfix asks `resolve`,
`list_recipients` and `check_recipient` through kreide/mail/lookup.py; Dovecot asks
`authenticate_client` for every login it has not seen in the last minutes.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.core.cache import cache
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django_otp import user_has_device

from kreide.accounts import throttle
from kreide.accounts.models import User
from kreide.files.models import AppPassword
from kreide.files.services import app_password_hash
from kreide.mail.models import MailPolicy
from kreide.schools import access
from kreide.schools.models import Group, School

ALL_TEACHERS = "lehrkraefte"
SCHOOL_OFFICE = "sekretariat"
GROUP_PREFIX = {Group.Kind.CLASS: "klasse", Group.Kind.COURSE: "kurs", Group.Kind.WORKGROUP: "ag"}
STAFF_ROLES = (User.Role.TEACHER, User.Role.SCHOOL_ADMIN)
# Webmail signs in to Dovecot as "<address>*webmail" (a Dovecot master user).
MASTER_USER = "webmail"


def policy_for(school: School) -> MailPolicy:
    """The school's mail policy (defaults without a row), kept on the school object for
    the rest of one lookup."""
    policy = getattr(school, "_kreide_mail_policy", None)
    if policy is None:
        policy = MailPolicy.objects.for_school(school).first() or MailPolicy(school=school)
        school._kreide_mail_policy = policy
    return policy


def school_domain(school: School, policy: MailPolicy | None = None) -> str:
    policy = policy or policy_for(school)
    return (policy.domain or f"{school.slug}.{settings.MAIL_DOMAIN_SUFFIX}").lower()


# A school's domain as every page's unread count needs it (`kept_domain`): time of expiry,
# domain; per process.
_kept_domains: dict[int, tuple[float, str]] = {}
KEPT_DOMAIN_SECONDS = 60


def kept_domain(user: User) -> str:
    """The domain of the user's school, kept a minute in this process: for the navigation's
    unread count, which must cost a page no query. A changed domain reaches it within the
    minute (until then the count's key is missing: it falls back to IMAP)."""
    now = time.monotonic()
    kept = _kept_domains.get(user.school_id)
    if kept is None or kept[0] < now:
        domain = school_domain(user.school)
        kept = _kept_domains[user.school_id] = (now + KEPT_DOMAIN_SECONDS, domain)
    return kept[1]


def address_of(user: User, domain: str | None = None) -> str:
    """The account's address; empty for operators without a school."""
    if user.school_id is None:
        return ""
    return f"{user.username.lower()}@{domain or school_domain(user.school)}"


def all_domains() -> list[str]:
    """Every school's mail domain (for DKIM signing)."""
    policies = {policy.school_id: policy for policy in MailPolicy.unscoped.exclude(domain="")}
    return sorted(
        school_domain(school, policies.get(school.pk) or MailPolicy(school=school))
        for school in School.objects.all()
    )


def school_for_domain(domain: str) -> School | None:
    """The school whose mail domain this is (one query): its own domain, or the default
    <slug>.<suffix> of a school without one."""
    domain = domain.strip().lower()
    if not domain:
        return None
    suffix = f".{settings.MAIL_DOMAIN_SUFFIX.lower()}"
    own = MailPolicy.unscoped.filter(school=OuterRef("pk"), domain=domain)
    custom = MailPolicy.unscoped.filter(school=OuterRef("pk")).exclude(domain="")
    match = Exists(own)
    if domain.endswith(suffix):
        match |= Q(slug=domain.removesuffix(suffix)) & ~Exists(custom)
    return School.objects.filter(match).first()


def split_address(address: str) -> tuple[str, str]:
    local, _at, domain = address.strip().lower().rpartition("@")
    return local, domain


def group_local_part(group: Group) -> str:
    return f"{GROUP_PREFIX.get(group.kind, 'gruppe')}-{slugify(group.name)}"


@dataclass(frozen=True)
class MailList:
    """A list address derived from the school's structure: a group, all teachers, the office."""

    school: School
    local_part: str
    group: Group | None = None

    @property
    def name(self) -> str:
        if self.group is not None:
            return self.group.name
        return _("All teachers") if self.local_part == ALL_TEACHERS else _("School office")

    @property
    def staff_only(self) -> bool:
        """Only teachers and the office may write to a whole class or all teachers; anyone
        in the school may write to the office."""
        return self.local_part != SCHOOL_OFFICE

    def members(self):
        """The active accounts the list reaches; a group's list is its roster as the access
        layer tells it (a deactivated group has nobody), teachers and members alike."""
        users = User.objects.for_school(self.school).filter(is_active=True)
        if self.group is not None:
            return users.filter(pk__in=access.member_ids(self.school, [self.group], role=None))
        if self.local_part == ALL_TEACHERS:
            return users.filter(role=User.Role.TEACHER)
        return users.filter(role=User.Role.SCHOOL_ADMIN)


def lists_of(school: School) -> list[MailList]:
    groups = Group.objects.for_school(school).filter(is_active=True)
    return [
        MailList(school, SCHOOL_OFFICE),
        MailList(school, ALL_TEACHERS),
        *(MailList(school, group_local_part(group), group) for group in groups),
    ]


def _list_for(school: School, local_part: str) -> MailList | None:
    if local_part in (ALL_TEACHERS, SCHOOL_OFFICE):
        return MailList(school, local_part)
    prefix, dash, rest = local_part.partition("-")
    kinds = [kind for kind, name in GROUP_PREFIX.items() if name == prefix]
    if not dash or not kinds:
        return None
    for group in Group.objects.for_school(school).filter(kind=kinds[0], is_active=True):
        if slugify(group.name) == rest:
            return MailList(school, local_part, group)
    return None


def resolve(address: str) -> User | MailList | None:
    """The active account or list an address of a school domain stands for. Lists win over
    a username that happens to look like one, so no account can capture a list's mail."""
    local, domain = split_address(address)
    school = school_for_domain(domain) if local else None
    if school is None:
        return None
    mail_list = _list_for(school, local)
    if mail_list is not None:
        return mail_list
    return (
        User.objects.for_school(school)
        .filter(username__iexact=local, is_active=True)
        .select_related("school")
        .first()
    )


def list_recipients(mail_list: MailList) -> list[str]:
    domain = school_domain(mail_list.school)
    usernames = mail_list.members().values_list("username", flat=True)
    return sorted(f"{username.lower()}@{domain}" for username in usernames)


# --- Sending policy (asked by Postfix for every recipient) ----------------------------


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    reason: str = ""
    temporary: bool = False


ALLOW = Verdict(True)


def _is_staff(user: User) -> bool:
    return user.role in STAFF_ROLES


def _external_allowed(user: User, policy: MailPolicy) -> bool:
    return policy.staff_external if _is_staff(user) else policy.students_external


def check_recipient(sasl_username: str, sender: str, recipient: str) -> Verdict:
    """May this mail go to this recipient? `sasl_username` is the signed-in account's
    address (empty for mail arriving from other servers)."""
    if sasl_username:
        user = resolve(sasl_username)
        if not isinstance(user, User):
            return Verdict(False, "5.7.1 This account may not send mail")
        return _check_from_account(user, sender, recipient)
    return _check_inbound(sender, recipient)


def _check_from_account(user: User, sender: str, recipient: str) -> Verdict:
    own = address_of(user)
    if sender.strip().lower() != own:
        return Verdict(False, f"5.7.1 You may send only as <{own}>")
    target = resolve(recipient)
    policy = policy_for(user.school)
    if target is None:
        _local, domain = split_address(recipient)
        if domain == school_domain(user.school, policy):
            return ALLOW  # Postfix itself answers "unknown user"
        if not _external_allowed(user, policy):
            return Verdict(False, "5.7.1 Mail outside the school is not allowed for this account")
    elif target.school.pk != user.school_id:
        # Another school on this server is outside this school.
        if not _external_allowed(user, policy):
            return Verdict(False, "5.7.1 Mail outside the school is not allowed for this account")
    elif isinstance(target, MailList) and target.staff_only and not _is_staff(user):
        return Verdict(False, "5.7.1 Only teachers and the school office may write to this list")
    return _count_recipient(user)


def _count_recipient(user: User) -> Verdict:
    """Bounded recipients per hour, so a hijacked account cannot send spam."""
    limit = settings.MAIL_RECIPIENTS_PER_HOUR * (10 if _is_staff(user) else 1)
    key = f"mail:rate:{user.pk}:{timezone.now():%Y%m%d%H}"
    cache.add(key, 0, timeout=3600)
    try:
        count = cache.incr(key)
    except ValueError:
        cache.set(key, 1, timeout=3600)
        count = 1
    if count > limit:
        return Verdict(False, "4.7.1 Too many recipients this hour, try again later", True)
    return ALLOW


def _check_inbound(sender: str, recipient: str) -> Verdict:
    _local, sender_domain = split_address(sender)
    if sender_domain and school_for_domain(sender_domain) is not None:
        return Verdict(False, "5.7.1 Sign in to send as a school address")
    target = resolve(recipient)
    if target is None:
        return ALLOW  # Postfix answers unknown users and relay attempts itself
    if isinstance(target, MailList):
        if target.local_part == SCHOOL_OFFICE:
            return ALLOW
        return Verdict(False, "5.7.1 This list accepts mail from inside the school only")
    if not _external_allowed(target, policy_for(target.school)):
        return Verdict(False, "5.7.1 This recipient accepts mail from inside the school only")
    return ALLOW


# --- Logins of mail programs (asked by Dovecot for IMAP and SMTP submission) -----------


@dataclass(frozen=True)
class AuthAnswer:
    verdict: str  # "OK" (value: canonical address), "FAIL", "DISABLED" (value: reason)
    value: str = ""


_DUMMY_HASH = make_password("kreide-mail-timing")


def authenticate_client(login: str, password: str, remote_ip: str) -> AuthAnswer:
    """The same rules as the web sign-in: lockout per account and address; accounts with
    two-factor sign-in only with an app password; deactivated accounts and accounts that
    must change their initial password are refused."""
    username, _at, domain = login.strip().lower().partition("@")
    school = school_for_domain(domain) if domain else None
    if not username or (domain and school is None):
        return AuthAnswer("FAIL")
    if throttle.current_lockout(username, remote_ip):
        return AuthAnswer("FAIL")
    users = User.objects.filter(username__iexact=username).select_related("school")
    if school is not None:
        users = users.filter(school=school)
    user = users.first()
    by_app_password = user is not None and _app_password_matches(user, password)
    if user is None:
        check_password(password, _DUMMY_HASH)  # as slow as a wrong password
    verified = by_app_password or (user is not None and user.check_password(password))
    if verified and not by_app_password and user_has_device(user, confirmed=True):
        verified = False  # two-factor accounts: app passwords only
    if not verified or user.school_id is None:
        throttle.record_failure(username, remote_ip)
        return AuthAnswer("FAIL")
    throttle.record_success(username)
    if not user.is_active:
        return AuthAnswer("DISABLED", "This account is deactivated.")
    if user.must_change_password:
        return AuthAnswer("DISABLED", "Change your initial password on the Kreide website first.")
    return AuthAnswer("OK", address_of(user))


_LOGIN_FIELDS = {"password", "is_active", "must_change_password", "username", "school"}


def login_changed(sender, instance: User, update_fields=None, created=False, **kwargs) -> None:
    """After a change that decides logins commits, Dovecot forgets the account's
    remembered logins (under the username and the address)."""
    if created or instance.school_id is None:
        return
    if update_fields is not None and not _LOGIN_FIELDS & set(update_fields):
        return
    from kreide.mail import process

    logins = [instance.username.lower(), address_of(instance)]
    transaction.on_commit(lambda: process.flush_auth_cache(process.layout(), logins))


def _app_password_matches(user: User, secret: str) -> bool:
    matched = AppPassword.objects.for_school(user.school_id).filter(
        user=user, secret_sha256=app_password_hash(secret)
    )
    return bool(matched.update(last_used_at=timezone.now()))


def master_secret() -> str:
    """The password of Dovecot's master user "webmail": derived from the secret key, so
    every Kreide process knows it and it never sits in the database."""
    return hmac.new(
        settings.SECRET_KEY.encode(), b"kreide-mail-webmail", hashlib.sha256
    ).hexdigest()


def directory_search(user: User, term: str, limit: int = 10) -> list[tuple[str, str]]:
    """(name, address) of accounts and lists of the user's school matching `term`, for
    completing recipients in the webmail."""
    term = term.strip()
    if len(term) < 2 or user.school_id is None:
        return []
    domain = school_domain(user.school)
    people = (
        User.objects.for_school(user.school)
        .filter(is_active=True)
        .filter(
            Q(username__istartswith=term)
            | Q(first_name__istartswith=term)
            | Q(last_name__istartswith=term)
        )
        .order_by("last_name", "first_name")[:limit]
    )
    found = [(str(person), f"{person.username.lower()}@{domain}") for person in people]
    lowered = term.lower()
    for mail_list in lists_of(user.school):
        if len(found) >= limit:
            break
        matches = lowered in mail_list.local_part or lowered in str(mail_list.name).lower()
        if matches and (not mail_list.staff_only or _is_staff(user)):
            found.append((str(mail_list.name), f"{mail_list.local_part}@{domain}"))
    return found
