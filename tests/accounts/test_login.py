import re
import time

import pytest
from django.contrib.auth.hashers import identify_hasher
from django.contrib.sessions.middleware import SessionMiddleware
from django.test import Client, override_settings
from django.utils.http import parse_http_date

from kreide.accounts import throttle
from kreide.accounts.backends import UsernameOrEmailBackend
from tests.conftest import PASSWORD


def test_passwords_use_argon2id_at_owasp_parameters(world):
    world.student_7a.set_password("ein-neues-passwort")
    encoded = world.student_7a.password
    assert identify_hasher(encoded).algorithm == "argon2"
    assert encoded.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$")


def test_login_by_username_and_by_email(client, world):
    world.teacher_7a.email = "lehrerin@nord.example"
    world.teacher_7a.save()
    response = client.post(
        "/accounts/login/", {"username": world.student_7a.username.upper(), "password": PASSWORD}
    )
    assert response.status_code == 302 and response["Location"] == "/"
    client.post("/accounts/logout/")
    response = client.post(
        "/accounts/login/", {"username": "Lehrerin@Nord.example", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert client.get("/").context["user"] == world.teacher_7a


def test_stay_signed_in_controls_session_lifetime(client, world):
    client.post(
        "/accounts/login/",
        {"username": world.student_7a.username, "password": PASSWORD, "remember": "on"},
    )
    assert client.session.get_expire_at_browser_close() is False
    assert client.session.get_expiry_age() == 30 * 24 * 3600
    client.post("/accounts/logout/")
    client.post("/accounts/login/", {"username": world.student_7a.username, "password": PASSWORD})
    assert client.session.get_expire_at_browser_close() is True


def test_a_failed_sign_in_is_told_to_user_login_failed_without_the_password(client, world):
    from django.contrib.auth.signals import user_login_failed

    failures = []

    def noted(sender, credentials, request, **kwargs):
        failures.append((credentials, request.path))

    user_login_failed.connect(noted)
    try:
        for username, password in (
            (world.student_7a.username, "x"),
            ("niemand-hier", PASSWORD),
            (world.student_7a.username, PASSWORD),  # signed in: nothing told
        ):
            client.post("/accounts/login/", {"username": username, "password": password})
    finally:
        user_login_failed.disconnect(noted)
    assert failures == [
        ({"username": world.student_7a.username}, "/accounts/login/"),
        ({"username": "niemand-hier"}, "/accounts/login/"),
    ]


def test_sign_in_writes_the_session_once(client, world, django_assert_max_num_queries):
    client.get("/accounts/login/")
    # user with its two-factor flag, last_login, the session's INSERT (in a savepoint here)
    with django_assert_max_num_queries(5) as queries:
        response = client.post(
            "/accounts/login/", {"username": world.student_7a.username, "password": PASSWORD}
        )
    assert response.status_code == 302
    writes = [q["sql"] for q in queries.captured_queries if "django_session" in q["sql"]]
    assert len(writes) == 1 and writes[0].startswith("INSERT")
    assert client.get("/").context["user"] == world.student_7a


def test_sign_in_replaces_an_earlier_session_key_and_keeps_its_data(client, world):
    from django.contrib.sessions.models import Session

    session = client.session  # a visitor's session from before, e.g. the page language
    session["before"] = "kept"
    session.save()
    old_key = session.session_key
    client.cookies["sessionid"] = old_key
    response = client.post(
        "/accounts/login/", {"username": world.student_7a.username, "password": PASSWORD}
    )
    new_key = response.cookies["sessionid"].value
    assert new_key != old_key and len(new_key) == 32
    assert not Session.objects.filter(session_key=old_key).exists()  # no session fixation
    stored = Session.objects.get(session_key=new_key).get_decoded()
    assert stored["_auth_user_id"] == str(world.student_7a.pk) and stored["before"] == "kept"
    assert client.get("/").context["user"] == world.student_7a


def test_wrong_password_gives_clear_message(client, world):
    response = client.post(
        "/accounts/login/", {"username": world.student_7a.username, "password": "falsch"}
    )
    assert response.status_code == 200
    assert "Benutzername oder Passwort ist nicht korrekt." in response.content.decode()


@override_settings(LOGIN_FAILURES_PER_ACCOUNT=3)
def test_account_lockout_after_repeated_failures(client, world):
    for _ in range(2):
        assert (
            client.post(
                "/accounts/login/", {"username": world.student_7a.username, "password": "falsch"}
            ).status_code
            == 200
        )
    locked = client.post(
        "/accounts/login/", {"username": world.student_7a.username, "password": "falsch"}
    )
    assert locked.status_code == 429
    assert int(locked["Retry-After"]) > 0
    assert "Zu viele fehlgeschlagene Anmeldeversuche" in locked.content.decode()
    # Even the right password is refused while locked, and costs no hash.
    still_locked = client.post(
        "/accounts/login/", {"username": world.student_7a.username, "password": PASSWORD}
    )
    assert still_locked.status_code == 429
    # Another account from another address is unaffected.
    other = client.post(
        "/accounts/login/",
        {"username": world.student_7b.username, "password": PASSWORD},
        REMOTE_ADDR="10.0.0.2",
    )
    assert other.status_code == 302


@override_settings(LOGIN_FAILURES_PER_ADDRESS=4, LOGIN_FAILURES_PER_ACCOUNT=100)
def test_address_lockout_across_accounts(client, world):
    for index in range(3):
        client.post("/accounts/login/", {"username": f"niemand{index}", "password": "x"})
    locked = client.post("/accounts/login/", {"username": "niemand9", "password": "x"})
    assert locked.status_code == 429
    assert (
        client.post(
            "/accounts/login/", {"username": world.student_7a.username, "password": PASSWORD}
        ).status_code
        == 429
    )


def test_deactivated_user_cannot_sign_in(client, world):
    world.student_7a.is_active = False
    world.student_7a.save()
    response = client.post(
        "/accounts/login/", {"username": world.student_7a.username, "password": PASSWORD}
    )
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_open_redirect_refused(client, world):
    response = client.post(
        "/accounts/login/?next=https://evil.example/",
        {"username": world.student_7a.username, "password": PASSWORD},
    )
    assert response["Location"] == "/"


@pytest.mark.parametrize("language,text", [("de", "Anmelden"), ("en", "Sign in")])
def test_login_page_in_both_languages(client, db, language, text):
    response = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE=language)
    assert f"<h1>{text}</h1>" in response.content.decode()


@override_settings(LOGIN_FAILURES_PER_ACCOUNT=3)
def test_a_sign_in_forgets_failures_and_without_failures_deletes_nothing(
    client, world, monkeypatch
):
    from django.core.cache import caches

    backend = caches["default"]
    deleted = []
    delete_many = backend.delete_many

    def counted_delete_many(keys, *args, **kwargs):
        deleted.append(list(keys))
        return delete_many(keys, *args, **kwargs)

    monkeypatch.setattr(backend, "delete_many", counted_delete_many)
    username = world.student_7a.username
    assert _sign_in(Client(), username).status_code == 302
    assert deleted == []  # the lockout check saw no failures: nothing to forget
    for _ in range(2):
        assert _sign_in(Client(), username, "falsch").status_code == 200
    assert _sign_in(Client(), username).status_code == 302
    assert len(deleted) == 1
    # Forgotten: two more failures do not reach the limit of three.
    for _ in range(2):
        assert _sign_in(Client(), username, "falsch").status_code == 200


def test_a_worker_computes_one_password_hash_at_a_time(world, monkeypatch):
    """Two argon2id hashes interleaved on one core cost more CPU than one after the other:
    the sign-in's verification, and the hash an unknown name gets, run under one lock."""
    from django.contrib.auth.hashers import get_hasher

    from kreide.accounts import backends

    held = []
    for method in ("verify", "encode"):
        # The class that defines it (verifying, Django finds the hasher by its algorithm).
        owner = next(k for k in type(get_hasher("default")).__mro__ if method in vars(k))
        original = getattr(owner, method)

        def watched(self, *args, original=original, method=method):
            held.append((method, backends._ONE_HASH.locked()))
            return original(self, *args)

        monkeypatch.setattr(owner, method, watched)
    assert _sign_in(Client(), world.student_7a.username).status_code == 302
    assert _sign_in(Client(), "niemand-hier").status_code == 200
    assert held == [("verify", True), ("encode", True)]


def test_the_kept_sign_in_form_carries_each_visits_own_token(world):
    import re

    from kreide.accounts import views

    browser = Client(enforce_csrf_checks=True)
    pages = [browser.get("/accounts/login/").content.decode() for _ in range(2)]
    tokens = [re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1] for page in pages]
    assert tokens[0] != tokens[1]
    for kept in (views._PLAIN_SECTIONS, views._PLAIN_PAGES):
        assert kept.stand_ins["csrf_token"] not in pages[1]
    assert f'"X-CSRFToken": "{tokens[1]}"' in pages[1]  # one token for the whole page
    response = browser.post(
        "/accounts/login/",
        {
            "csrfmiddlewaretoken": tokens[1],
            "username": world.student_7a.username,
            "password": PASSWORD,
        },
    )
    assert response.status_code == 302
    # A visit with more to show renders the form itself.
    page = Client().get("/accounts/login/", {"next": "/tasks/"}).content.decode()
    assert 'name="next" value="/tasks/"' in page


def _visit(language="en", **extra):
    """A new browser's sign-in page, with its one token made comparable."""
    import re

    response = Client().get("/accounts/login/", HTTP_ACCEPT_LANGUAGE=language, **extra)
    page = response.content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]
    return page.replace(token, "TOKEN"), response


@pytest.mark.parametrize("language", ["en", "de"])
def test_the_kept_sign_in_page_is_the_rendered_page(world, monkeypatch, language):
    from kreide.accounts import views

    kept = [_visit(language) for _ in range(2)]  # rendered and kept, then from the kept page
    monkeypatch.setattr(views, "_plain_page_key", lambda request, providers: None)
    rendered = _visit(language)
    assert kept[0][0] == kept[1][0] == rendered[0]
    assert "TOKEN" in rendered[0] and rendered[0].count("TOKEN") == kept[1][0].count("TOKEN")
    for header in ("Content-Type", "Content-Language", "Vary", "Cache-Control"):
        assert kept[1][1][header] == rendered[1][header]
    assert sorted(kept[1][1].cookies) == sorted(rendered[1].cookies)


class _NewBrowsers:
    """New browsers (no cookies) through one handler, as a server's worker serves them:
    its middleware instances, and so what PlainSignInPageMiddleware keeps, stay."""

    def __init__(self) -> None:
        self.client = Client(enforce_csrf_checks=True)

    def visit(self, language="en", **extra):
        self.client.cookies.clear()
        response = self.client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE=language, **extra)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', response.text)[1]
        return response.text.replace(token, "TOKEN"), response, token


@pytest.mark.parametrize("language", ["en", "de"])
def test_a_new_browsers_sign_in_page_comes_before_the_middleware_as_rendered(
    world, monkeypatch, language
):
    from kreide.accounts import views
    from kreide.core.metrics import REQUESTS

    browsers = _NewBrowsers()
    browsers.visit(language)  # rendered: the page and its headers kept
    logged = REQUESTS.labels("accounts:login", "GET", "200")
    before = logged._value.get()
    passed = []
    for owner, name in ((SessionMiddleware, "process_request"), (views, "_login_page")):
        original = getattr(owner, name)

        def noted(*args, original=original, name=name, **kwargs):
            passed.append(name)
            return original(*args, **kwargs)

        monkeypatch.setattr(owner, name, noted)
    started = time.time()
    early, early_response, token = browsers.visit(language)
    assert passed == []  # neither the middleware after the early one nor the view
    assert logged._value.get() == before + 1  # logged as the view's request
    monkeypatch.undo()
    monkeypatch.setattr(views, "_plain_page_key", lambda request, providers: None)
    rendered, rendered_response, _ = _NewBrowsers().visit(language)
    assert early == rendered and "TOKEN" in early
    assert early_response.status_code == rendered_response.status_code == 200
    assert sorted(early_response.headers) == sorted(rendered_response.headers)
    for header, value in rendered_response.items():
        if header != "Expires":  # a time: never_cache's, made for each response
            assert early_response[header] == value, header
    # "now", as never_cache makes it (whole seconds)
    expires = parse_http_date(early_response["Expires"])
    assert int(started) <= expires <= parse_http_date(rendered_response["Expires"])
    assert early_response["Content-Language"] == language
    cookie, rendered_cookie = (
        early_response.cookies["csrftoken"],
        rendered_response.cookies["csrftoken"],
    )
    assert {**cookie, "expires": None} == {**rendered_cookie, "expires": None}
    # The page's token goes with the cookie it set: the sign-in goes through.
    answer = browsers.client.post(
        "/accounts/login/",
        {"csrfmiddlewaretoken": token, "username": world.student_7a.username, "password": PASSWORD},
    )
    assert answer.status_code == 302


@override_settings(ALLOWED_HOSTS=["testserver"])
def test_the_early_sign_in_page_checks_the_host_and_leaves_signed_in_visits_alone(world):
    browsers = _NewBrowsers()
    for _ in range(2):  # kept, then early
        assert browsers.visit()[1].status_code == 200
    browsers.client.cookies.clear()
    assert browsers.client.get("/accounts/login/", HTTP_HOST="elsewhere.example").status_code == 400
    token = browsers.visit()[2]
    answer = browsers.client.post(
        "/accounts/login/",
        {"csrfmiddlewaretoken": token, "username": world.student_7a.username, "password": PASSWORD},
    )
    assert answer.status_code == 302
    assert browsers.client.get("/accounts/login/").status_code == 302  # signed in: onwards


def test_the_kept_sign_in_page_shows_messages_and_banners(world, monkeypatch):
    from kreide.core import banners

    _visit()  # kept without either
    browser = Client(HTTP_ACCEPT_LANGUAGE="en")
    assert _sign_in(browser, world.student_7a.username).status_code == 302
    browser.post("/accounts/logout/")
    assert "You are signed out." in browser.get("/accounts/login/").content.decode()
    assert "You are signed out." not in browser.get("/accounts/login/").content.decode()
    notice = banners.Banner("Heute kein WLAN im Haus B")
    monkeypatch.setattr(banners, "_providers", [lambda request: [notice]])
    assert notice.text in _visit()[0]
    monkeypatch.setattr(banners, "_providers", [])
    assert notice.text not in _visit()[0]


# --- device cookies: lockouts stop guessing without locking out the owner ---------------


def _sign_in(client, username, password=PASSWORD, address="10.0.0.1"):
    return client.post(
        "/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=address
    )


def _known_browser(user, address="10.0.0.1") -> Client:
    """A browser the user signed in with before (and signed out of)."""
    browser = Client()
    assert _sign_in(browser, user.username, address=address).status_code == 302
    assert throttle.DEVICE_COOKIE in browser.cookies
    browser.post("/accounts/logout/")
    return browser


@pytest.fixture
def password_checks(monkeypatch):
    """How many times a password was actually checked (the guesses an attacker got)."""
    checks = []
    original = UsernameOrEmailBackend.authenticate

    def counting(self, request, username=None, password=None, **kwargs):
        checks.append(username)
        return original(self, request, username=username, password=password, **kwargs)

    monkeypatch.setattr(UsernameOrEmailBackend, "authenticate", counting)
    return checks


@override_settings(LOGIN_FAILURES_PER_ACCOUNT=5)
def test_a_known_browser_stays_in_while_an_attacker_locks_the_account(world):
    teacher = world.teacher_7a
    own_browser = _known_browser(teacher)
    attacker = Client()
    answers = [_sign_in(attacker, teacher.username, f"rate{n}", "192.0.2.9") for n in range(6)]
    assert [answer.status_code for answer in answers] == [200] * 4 + [429] * 2
    # Unknown browsers are locked out, the right password included ...
    assert _sign_in(Client(), teacher.username, address="192.0.2.10").status_code == 429
    # ... the teacher's own browser is not, even from the attacker's address.
    assert _sign_in(own_browser, teacher.username, address="192.0.2.9").status_code == 302


@override_settings(LOGIN_FAILURES_PER_ADDRESS=30, LOGIN_FAILURES_PER_ACCOUNT=100)
def test_failures_from_a_shared_address_do_not_lock_out_its_known_browsers(world):
    school_address = "198.51.100.7"  # the whole school behind one public address
    classmate_browser = _known_browser(world.classmate_7a, school_address)
    prankster = Client()
    for number in range(30):
        _sign_in(prankster, f"niemand{number}", "x", school_address)
    assert _sign_in(prankster, "niemand99", "x", school_address).status_code == 429
    assert _sign_in(Client(), world.student_7a.username, address=school_address).status_code == 429
    answer = _sign_in(classmate_browser, world.classmate_7a.username, address=school_address)
    assert answer.status_code == 302


@override_settings(LOGIN_FAILURES_PER_ACCOUNT=5)
def test_an_attacker_gets_no_more_guesses_than_without_device_cookies(world, password_checks):
    teacher = world.teacher_7a
    teacher_browser = _known_browser(teacher)
    own_browser = _known_browser(world.student_7b)  # the attacker's own account ...
    forged = Client()
    forged.cookies[throttle.DEVICE_COOKIE] = own_browser.cookies[throttle.DEVICE_COOKIE].value[:-2]
    password_checks.clear()
    for client in (Client(), own_browser, forged):  # ... gives no extra guesses at another
        for number in range(20):
            _sign_in(client, teacher.username, f"rate{number}", f"192.0.2.{number}")
    assert len(password_checks) == 5
    # A known browser has guesses of its own, no more than an unknown one; then it is
    # locked out too (a stolen cookie is worth five guesses, not unlimited ones).
    password_checks.clear()
    answers = [_sign_in(teacher_browser, teacher.username, f"x{n}").status_code for n in range(8)]
    assert answers == [200] * 4 + [429] * 4
    assert len(password_checks) == 5
    assert _sign_in(teacher_browser, teacher.username).status_code == 429


def test_the_device_cookie_is_signed_keyed_and_sent_only_to_the_sign_in(world):
    browser = _known_browser(world.student_7a)
    cookie = browser.cookies[throttle.DEVICE_COOKIE]
    assert cookie["path"] == "/accounts/login/" and cookie["httponly"]
    assert world.student_7a.username not in cookie.value
    with override_settings(LOGIN_FAILURES_PER_ACCOUNT=2):
        for _ in range(2):  # locked for unknown browsers
            _sign_in(Client(), world.student_7a.username, "falsch")
        # Known for another account, not this one: treated as unknown.
        other = _known_browser(world.classmate_7a)
        assert _sign_in(other, world.student_7a.username).status_code == 429
        assert _sign_in(browser, world.student_7a.username).status_code == 302


def test_the_device_cookies_account_digest_is_djangos_salted_hmac(settings):
    """Cookies issued with salted_hmac() keep knowing their accounts; a new secret, new digests."""
    from django.utils.crypto import salted_hmac

    for secret in (settings.SECRET_KEY, "another-key-" + "x" * 50):
        settings.SECRET_KEY = secret
        for name in ("Anna.Schmidt", " lena@example.org "):
            expected = salted_hmac(throttle._DEVICE_SALT, name.strip().lower()).hexdigest()[:16]
            assert throttle._account_digest(name) == expected


def test_a_device_cookie_written_compressed_before_still_knows_its_browser(world):
    """Earlier versions compressed the cookie's value; browsers keep it for a year."""
    from django.core import signing

    cookie = _known_browser(world.student_7a).cookies[throttle.DEVICE_COOKIE].value
    device = signing.loads(cookie, salt=throttle._DEVICE_SALT)
    device["a"] += ["0123456789abcdef"] * 4  # more accounts of a shared computer
    earlier = signing.dumps(device, salt=throttle._DEVICE_SALT, compress=True)
    assert earlier.startswith(".") and earlier != cookie  # zlib's mark: a compressed value
    browser = Client()
    browser.cookies[throttle.DEVICE_COOKIE] = earlier
    with override_settings(LOGIN_FAILURES_PER_ACCOUNT=2):
        for _ in range(2):  # locked for unknown browsers, not for this one
            _sign_in(Client(), world.student_7a.username, "falsch")
        assert _sign_in(browser, world.student_7a.username).status_code == 302
        assert _sign_in(Client(), world.student_7a.username).status_code == 429


def test_the_signed_in_user_comes_with_its_school_in_one_query_as_the_orm_has_it(
    world, django_assert_num_queries
):
    from kreide.accounts.models import User

    backend = UsernameOrEmailBackend()
    with django_assert_num_queries(1):
        user = backend.get_user(world.student_7a.pk)
        assert user.school.name == world.school.name
    expected = User.objects.select_related("school").get(pk=world.student_7a.pk)
    for model, found, wanted in (
        (User, user, expected),
        (type(user.school), user.school, expected.school),
    ):
        assert all(
            getattr(found, field.attname) == getattr(wanted, field.attname)
            for field in model._meta.concrete_fields
        )
    assert not user._state.adding and user._state.db == "default"
    assert backend.get_user(10**9) is None
    world.student_7a.is_active = False
    world.student_7a.save()
    assert backend.get_user(world.student_7a.pk) is None


def test_the_sign_in_page_looks_the_account_up_without_its_school(
    world, client, django_assert_num_queries
):
    """The POST answers with a redirect; the next request loads the user with its school."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    backend = UsernameOrEmailBackend()
    with django_assert_num_queries(1):
        user = backend.authenticate(
            None, username=world.student_7a.username, password=PASSWORD, with_school=False
        )
    assert user == world.student_7a and user.school_id == world.school.pk
    assert user.has_two_factor is False and "school" not in user._state.fields_cache
    school_table = type(world.school)._meta.db_table
    client.get("/accounts/login/")
    with CaptureQueriesContext(connection) as queries:
        response = client.post(
            "/accounts/login/", {"username": world.student_7a.username, "password": PASSWORD}
        )
    assert response.status_code == 302
    lookups = [q["sql"] for q in queries.captured_queries if "username" in q["sql"]]
    assert len(lookups) == 1 and school_table not in lookups[0]
    assert client.get("/").context["user"].school.name == world.school.name


def test_the_sign_in_finds_the_account_by_name_or_address_in_one_query(
    world, django_assert_num_queries
):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    world.teacher_7a.email = "Lehrerin_7a@nord.example"
    world.teacher_7a.save()
    TOTPDevice.objects.create(user=world.teacher_7a, name="Kreide", confirmed=False)
    backend = UsernameOrEmailBackend()
    with django_assert_num_queries(1):
        user = backend.authenticate(None, username="lehrerin_7a@NORD.example", password=PASSWORD)
    assert user == world.teacher_7a and user.school.name == world.school.name
    assert user.has_two_factor is False  # a device being set up is not two-factor yet
    TOTPDevice.objects.filter(user=world.teacher_7a).update(confirmed=True)
    user = backend.authenticate(
        None, username=f" {world.teacher_7a.username.upper()} ", password=PASSWORD
    )
    assert user == world.teacher_7a and user.has_two_factor is True
    # An underscore or a percent sign is a letter, not a pattern (SQLite compares with LIKE).
    assert (
        backend.authenticate(None, username="lehrerin%7a@nord.example", password=PASSWORD) is None
    )
    assert backend.authenticate(None, username=world.teacher_7a.username, password="x") is None


def test_last_login_is_written_at_the_first_sign_in_of_a_day(world, monkeypatch):
    from datetime import UTC, datetime, timedelta

    from django.utils import timezone

    from kreide.accounts.models import User

    student = world.student_7a
    morning = datetime(2026, 12, 7, 6, 55, tzinfo=UTC)  # 7:55 in Berlin
    User.objects.filter(pk=student.pk).update(last_login=morning - timedelta(days=1))
    for now, written in (
        (morning, morning),
        (morning + timedelta(hours=6), morning),  # the same day: not written again
        (morning + timedelta(days=1), morning + timedelta(days=1)),
    ):
        monkeypatch.setattr(timezone, "now", lambda now=now: now)
        assert _sign_in(Client(), student.username).status_code == 302
        student.refresh_from_db()
        assert student.last_login == written


@pytest.mark.django_db(transaction=True)
def test_last_login_is_written_in_one_statement_with_the_new_session(world):
    from datetime import timedelta

    from django.contrib.sessions.models import Session
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from kreide.accounts.models import User

    student = world.student_7a
    yesterday = timezone.now() - timedelta(days=1)
    User.objects.filter(pk=student.pk).update(last_login=yesterday)
    with CaptureQueriesContext(connection) as queries:
        response = _sign_in(Client(), student.username)
    assert response.status_code == 302
    student.refresh_from_db()
    assert student.last_login > yesterday
    session = Session.objects.get(session_key=response.cookies["sessionid"].value)
    assert session.get_decoded()["_auth_user_id"] == str(student.pk)
    writes = [query["sql"] for query in queries.captured_queries if "UPDATE" in query["sql"]]
    if connection.vendor == "postgresql":  # SQLite has no data-modifying WITH
        assert len(writes) == 1 and "INSERT INTO" in writes[0] and "django_session" in writes[0]
    else:
        assert len(writes) == 1


def test_a_signed_in_visit_follows_only_addresses_as_next(client, world):
    client.force_login(world.student_7a)
    for hostile in ("tasks:list", "Ói\x97Ó°z", "https://evil.example/", "//evil.example/"):
        response = client.get("/accounts/login/", {"next": hostile})
        assert response.status_code == 302 and response["Location"] == "/", hostile
    response = client.get("/accounts/login/", {"next": "/tasks/"})
    assert response["Location"] == "/tasks/"
