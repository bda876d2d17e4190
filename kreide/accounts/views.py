import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout, update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.contrib.auth.signals import user_login_failed
from django.contrib.messages import get_messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils.safestring import SafeString
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_GET, require_POST
from django_otp import login as otp_login
from prometheus_client import Counter

from kreide.accounts import services, throttle, twofactor, upstream
from kreide.accounts.backends import UsernameOrEmailBackend
from kreide.accounts.forms import CodeForm, ConfirmPasswordForm, LoginForm, NewPasswordForm
from kreide.accounts.models import User
from kreide.core import banners
from kreide.core.errors import Refusal
from kreide.core.http import client_address, is_safe_next
from kreide.core.kept import KeptMarkup
from kreide.core.metrics import LOGINS
from kreide.core.navigation import fixed_url, urls_of_request

_PENDING = "kreide_2fa_pending"
_PENDING_SECONDS = 5 * 60

# LOGINS' child per outcome, looked up once it counted (labels() takes a lock and builds
# its key on every call; made at import, a series would show before its first count).
_OUTCOMES: dict[str, Counter] = {}


def _count(outcome: str) -> None:
    child = _OUTCOMES.get(outcome)
    if child is None:
        child = _OUTCOMES[outcome] = LOGINS.labels(outcome)
    child.inc()


def _lockout_message(lockout: throttle.Lockout) -> str:
    return ngettext(
        "Too many failed sign-in attempts. Please wait %(minutes)d minute and try again.",
        "Too many failed sign-in attempts. Please wait %(minutes)d minutes and try again.",
        lockout.minutes_left,
    ) % {"minutes": lockout.minutes_left}


@sensitive_post_parameters("password")
@never_cache
def login_view(request: HttpRequest) -> HttpResponse:
    next_url = request.POST.get("next") or request.GET.get("next")
    if request.user.is_authenticated:
        return redirect(next_url if is_safe_next(request, next_url) else "dashboard:home")
    # A sign-in slip's QR code opens this page with the username filled in.
    prefilled = request.GET.get("username", "")[:254]
    if request.method != "POST" and not prefilled:
        # Each visit at 8:00: an empty form, whose fields come rendered (_empty_fields).
        return _login_page(request, None, next_url)
    form = LoginForm(request.POST or None, initial={"username": prefilled})
    if prefilled:  # the password is what is left to type
        form.fields["username"].widget.attrs.pop("autofocus", None)
        form.fields["password"].widget.attrs["autofocus"] = True
    lockout = None
    if request.method == "POST" and form.is_valid():
        identifier = form.cleaned_data["username"]
        address = client_address(request)
        device = throttle.device_of(request)
        checked = throttle.check(identifier, address, device)
        lockout = checked.lockout
        if lockout is None:
            user = _password_owner(request, identifier, form.cleaned_data["password"])
            if user is not None:
                # With two-factor the code comes first. Failure counts stay until then,
                # so re-entering the password does not reset the guesses at the code.
                return _sign_in_or_ask_code(
                    request,
                    user,
                    identifier,
                    form.cleaned_data["remember"],
                    next_url,
                    failures=checked.failures,
                )
            lockout = throttle.record_failure(identifier, address, device)
            _count("failure")
            if lockout is None:
                form.add_error(None, _("Username or password is not correct."))
        if lockout is not None:
            _count("locked")
            form.add_error(None, _lockout_message(lockout))
    response = _login_page(request, form, next_url, status=429 if lockout else 200)
    if lockout:
        response["Retry-After"] = str(lockout.seconds_left)
    return response


# The sign-in form's backend: the one configured, and the only one that takes
# `former_students`. Django's authenticate() would find the same one on each sign-in by
# loading every configured backend and matching its signature (~170 Python calls).
_PASSWORD_BACKEND = UsernameOrEmailBackend()
_PASSWORD_BACKEND_PATH = f"{UsernameOrEmailBackend.__module__}.{UsernameOrEmailBackend.__name__}"


@sensitive_variables("password")
def _password_owner(request: HttpRequest, identifier: str, password: str) -> User | None:
    """The account the identifier and password sign in to (a former student's too), with
    its backend noted for login() as authenticate() does, else None; a failure is told to
    user_login_failed's receivers as authenticate() tells it (without the password)."""
    # Without the school's row (a JOIN and a second model, ~40 Python calls): the POST
    # answers with a redirect, and the next request loads the user with it.
    user = _PASSWORD_BACKEND.authenticate(
        request, username=identifier, password=password, former_students=True, with_school=False
    )
    if user is None:
        user_login_failed.send(__name__, credentials={"username": identifier}, request=request)
        return None
    user.backend = _PASSWORD_BACKEND_PATH
    return user


def _login_page(
    request: HttpRequest,
    form: LoginForm | None,
    next_url: str | None,
    *,
    status: int = 200,
    refusal: Refusal | None = None,
) -> HttpResponse:
    """The sign-in form with a button per upstream provider (one school's with ?school=),
    and why a sign-in through a provider was refused. `form` None: an empty one (Django
    builds a form's fields anew for each form; an empty one shows no errors)."""
    school = (request.GET.get("school") or request.POST.get("school") or "")[:60]
    providers = upstream.buttons(school, request)
    context = {
        "form": form,
        "fields": _empty_fields(form),
        "next": next_url,
        "school": school,
        "providers": providers,
        "several_schools": len({provider.school_id for provider in providers}) > 1,
        "refusal": refusal.message if refusal else None,
    }
    if _is_plain(context):
        # The page's one token (the template's own is computed once too): the section's
        # forms and the page's htmx headers.
        context["csrf_token"] = token = get_token(request)
        page = _plain_page_key(request, providers)
        if page is not None:
            html = _PLAIN_PAGES.get(
                page,
                lambda stand_ins: _render_plain(request, context, stand_ins["csrf_token"]),
                csrf_token=token,
            )
            response = HttpResponse(html, status=status)
            response.kept_page = page  # its headers kept too (PlainSignInPageMiddleware)
            return response
        context["section"] = _plain_section(context, token)
    return render(
        request, "accounts/login.html", context, status=refusal.status if refusal else status
    )


# The section of a plain visit (no `next`, school, refusal or username: each visit at 8:00),
# rendered once per process, language and set of buttons (languages × sets of buttons).
_PLAIN_SECTIONS = KeptMarkup(("csrf_token",), limit=64)
# The whole page of a plain visit without a query string or messages (the first visit of
# each browser at 8:00), once per language, set of buttons and banners: base.html's
# header, links and scripts are the same for every anonymous visitor.
_PLAIN_PAGES = KeptMarkup(("csrf_token",), limit=64)


def _plain_section(context: dict, token: str) -> SafeString:
    return _PLAIN_SECTIONS.get(
        (get_language(), tuple(context["providers"])),
        lambda stand_ins: render_to_string("accounts/login_section.html", {**context, **stand_ins}),
        csrf_token=token,
    )


def _plain_page_key(request: HttpRequest, providers: list) -> tuple | None:
    """What a plain visit's whole page shows besides its token, or None when it shows
    more: a query string (the header's language switch links back to the full address)
    or messages ("You are signed out."). Listed as the template would list them: an
    emptied messages cookie is cleared either way."""
    if request.META.get("QUERY_STRING") or list(get_messages(request)):
        return None
    return (
        get_language(),
        tuple(providers),
        tuple(banners.banners_for(request)),
        request.path,
        *urls_of_request(),
    )


def kept_plain_page(request: HttpRequest) -> tuple[tuple, str] | None:
    """A plain visit's whole page when it is kept (PlainSignInPageMiddleware): its key
    and the page with the visit's token; None when it is to be rendered. The request has
    no session, user or messages: the page of a new browser."""
    page = _plain_page_key(request, upstream.buttons("", request))
    if page is None or page not in _PLAIN_PAGES:
        return None
    return page, _PLAIN_PAGES.kept(page, csrf_token=get_token(request))


def _render_plain(request: HttpRequest, context: dict, token: str) -> str:
    section = _plain_section(context, token)
    return render_to_string(
        "accounts/login.html", {**context, "csrf_token": token, "section": section}, request
    )


def _is_plain(context: dict) -> bool:
    return not (
        context["fields"] is None or context["next"] or context["school"] or context["refusal"]
    )


# The empty form's fields, rendered, by language: they depend on nothing else, and every
# visit of the sign-in page at 8:00 shows them.
_EMPTY_FIELDS: dict[str, str] = {}


def _empty_fields(form: LoginForm | None) -> str | None:
    """The fields of an unbound form without a username (or of None) as HTML, rendered
    once per process and language (a prefilled or submitted form renders as usual)."""
    if form is not None and (form.is_bound or form.initial.get("username")):
        return None
    language = get_language()
    fields = _EMPTY_FIELDS.get(language)
    if fields is None:
        fields = _EMPTY_FIELDS[language] = render_to_string(
            "accounts/login_fields.html", {"form": form or LoginForm()}
        )
    return fields


def _sign_in_or_ask_code(
    request: HttpRequest,
    user,
    identifier: str,
    remember: bool,
    next_url: str | None,
    *,
    failures: bool,
) -> HttpResponse:
    """After the first factor (password or a provider): the code for accounts with
    two-factor, otherwise the session. Failure counts stay until the code is right;
    `failures`: the lockout check saw some to forget (throttle.check)."""
    if twofactor.is_enabled(user):
        request.session[_PENDING] = {
            "user_id": user.pk,
            "backend": user.backend,
            "identifier": identifier,
            "remember": remember,
            "next": next_url or "",
            "until": time.time() + _PENDING_SECONDS,
        }
        return redirect("accounts:login_verify")
    if failures:
        throttle.record_success(identifier, throttle.device_of(request))
    return _complete_login(request, user, remember, next_url)


@require_POST
def upstream_start(request: HttpRequest, pk: int) -> HttpResponse:
    """A sign-in button: off to the school's provider."""
    provider = upstream.shown_provider(pk)
    if provider is None:
        messages.error(request, _("This sign-in provider does not exist (any more)."))
        return redirect("accounts:login")
    next_url = request.POST.get("next") or ""
    try:
        return upstream.start(
            request, provider, next_url if is_safe_next(request, next_url) else ""
        )
    except Refusal as refusal:
        return _login_page(request, LoginForm(), next_url, refusal=refusal)


@never_cache
@require_GET
def upstream_callback(request: HttpRequest) -> HttpResponse:
    """The provider sent the browser back. Refusals show on the sign-in page."""
    try:
        arrival = upstream.finish(request)
    except Refusal as refusal:
        return _login_page(request, LoginForm(), None, refusal=refusal)
    user = arrival.user
    # The same lockout as the password: an account locked for unknown browsers stays
    # locked for them whichever way they come.
    device = throttle.device_of(request)
    checked = throttle.check(user.username, client_address(request), device)
    lockout = checked.lockout
    if lockout is not None:
        _count("locked")
        response = _login_page(
            request, LoginForm(), None, refusal=Refusal(_lockout_message(lockout), status=429)
        )
        response["Retry-After"] = str(lockout.seconds_left)
        return response
    user.backend = settings.AUTHENTICATION_BACKENDS[0]
    next_url = arrival.next_url if is_safe_next(request, arrival.next_url) else None
    return _sign_in_or_ask_code(
        request, user, user.username, False, next_url, failures=checked.failures
    )


def _complete_login(
    request: HttpRequest, user, remember: bool, next_url: str | None, otp_device=None
) -> HttpResponse:
    login(request, user)
    if otp_device is not None:
        otp_login(request, otp_device)
    if not remember:
        request.session.set_expiry(0)
    _count("success")
    if is_safe_next(request, next_url):
        response = redirect(next_url)
    else:  # each sign-in at 8:00: redirect() would try the name, then reverse it
        response = HttpResponseRedirect(fixed_url("dashboard:home"))
    throttle.remember_device(request, response, user)
    return response


@sensitive_post_parameters("code")
@never_cache
def login_verify_view(request: HttpRequest) -> HttpResponse:
    """Second sign-in step for accounts with two-factor: the code from the app."""
    pending = request.session.get(_PENDING)
    if not pending or pending["until"] < time.time():
        request.session.pop(_PENDING, None)
        return redirect("accounts:login")
    user = User.objects.filter(pk=pending["user_id"], is_active=True).first()
    if user is None:
        request.session.pop(_PENDING, None)
        return redirect("accounts:login")
    form = CodeForm(request.POST or None)
    address = client_address(request)
    device = throttle.device_of(request)
    lockout = None
    if request.method == "POST" and form.is_valid():
        checked = throttle.check(pending["identifier"], address, device)
        lockout = checked.lockout
        if lockout is None:
            otp_device = twofactor.verify(user, form.cleaned_data["code"])
            if otp_device is not None:
                del request.session[_PENDING]
                if checked.failures:
                    throttle.record_success(pending["identifier"], device)
                user.backend = pending["backend"]
                return _complete_login(
                    request, user, pending["remember"], pending["next"], otp_device
                )
            lockout = throttle.record_failure(pending["identifier"], address, device)
            _count("failure")
            if lockout is None:
                form.add_error("code", _("This code is not correct. Try the current one."))
        if lockout is not None:
            request.session.pop(_PENDING, None)
            _count("locked")
            form.add_error(None, _lockout_message(lockout))
    response = render(
        request, "accounts/login_verify.html", {"form": form}, status=429 if lockout else 200
    )
    if lockout:
        response["Retry-After"] = str(lockout.seconds_left)
    return response


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    messages.info(request, _("You are signed out."))
    return redirect("accounts:login")


@sensitive_post_parameters()
@login_required
def password_change_view(request: HttpRequest) -> HttpResponse:
    user = request.user
    # Where the forced change interrupted the user (e.g. a tool's sign-in) they go on.
    next_url = request.POST.get("next") or request.GET.get("next")
    if not is_safe_next(request, next_url):
        next_url = None
    form = NewPasswordForm(user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.change_own_password(user, form.cleaned_data["new_password1"])
        update_session_auth_hash(request, user)
        messages.success(request, _("Your password has been changed."))
        return redirect(next_url or "dashboard:home")
    return render(
        request,
        "accounts/password_change.html",
        {"form": form, "forced": user.must_change_password, "next": next_url},
    )


@sensitive_post_parameters()
@never_cache
@login_required
def two_factor_view(request: HttpRequest) -> HttpResponse:
    """Set up, confirm, renew backup codes for, or turn off two-factor sign-in."""
    user = request.user
    if not twofactor.may_use(user):
        raise PermissionDenied
    enabled = twofactor.is_enabled(user)
    action = request.POST.get("action") if request.method == "POST" else None
    code_form = CodeForm(request.POST if action == "confirm" else None)
    password_form = ConfirmPasswordForm(
        user, request.POST if action in ("disable", "codes") else None
    )
    backup_codes = None
    if action == "confirm" and not enabled and code_form.is_valid():
        backup_codes = twofactor.confirm(user, code_form.cleaned_data["code"])
        if backup_codes is None:
            code_form.add_error("code", _("This code is not correct. Try the current one."))
        else:
            messages.success(request, _("Two-factor sign-in is on."))
            enabled = True
    elif action == "disable" and enabled and password_form.is_valid():
        twofactor.disable(user)
        messages.success(request, _("Two-factor sign-in is off."))
        return redirect("accounts:two_factor")
    elif action == "codes" and enabled and password_form.is_valid():
        backup_codes = twofactor.new_backup_codes(user)
    context = {
        "enabled": enabled,
        "code_form": code_form,
        "password_form": password_form,
        "backup_codes": backup_codes,
    }
    if not enabled:
        device = twofactor.pending_device(user)
        context.update(qr=twofactor.qr_data_uri(device), secret=twofactor.secret_for_typing(device))
    return render(request, "accounts/two_factor.html", context)
