from django.contrib import messages
from django.contrib.auth import authenticate, login, logout, update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from kreide.accounts import services, throttle
from kreide.accounts.forms import LoginForm, NewPasswordForm
from kreide.core.http import client_address, is_safe_next
from kreide.core.metrics import LOGINS


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
    form = LoginForm(request.POST or None)
    lockout = None
    if request.method == "POST" and form.is_valid():
        identifier = form.cleaned_data["username"]
        address = client_address(request)
        lockout = throttle.current_lockout(identifier, address)
        if lockout is None:
            user = authenticate(
                request, username=identifier, password=form.cleaned_data["password"]
            )
            if user is not None:
                throttle.record_success(identifier)
                login(request, user)
                if not form.cleaned_data["remember"]:
                    request.session.set_expiry(0)
                LOGINS.labels("success").inc()
                return redirect(next_url if is_safe_next(request, next_url) else "dashboard:home")
            lockout = throttle.record_failure(identifier, address)
            LOGINS.labels("failure").inc()
            if lockout is None:
                form.add_error(None, _("Username or password is not correct."))
        if lockout is not None:
            LOGINS.labels("locked").inc()
            form.add_error(None, _lockout_message(lockout))
    response = render(
        request,
        "accounts/login.html",
        {"form": form, "next": next_url},
        status=429 if lockout else 200,
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
    form = NewPasswordForm(user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.change_own_password(user, form.cleaned_data["new_password1"])
        update_session_auth_hash(request, user)
        messages.success(request, _("Your password has been changed."))
        return redirect("dashboard:home")
    return render(
        request,
        "accounts/password_change.html",
        {"form": form, "forced": user.must_change_password},
    )
