import pytest
from django.utils.functional import LazyObject

from kreide.accounts.models import User

pytestmark = pytest.mark.django_db


def test_views_read_the_signed_in_user_itself_not_through_lazy_wrappers(world, client_for):
    response = client_for(world.student_7a).get("/tasks/")
    assert response.status_code == 200
    user = response.wsgi_request.user
    assert type(user) is User and not isinstance(user, LazyObject)
    assert user.pk == world.student_7a.pk
    assert user.is_verified() is False  # django-otp's fields stay on it
    anonymous = client_for(world.student_7a)
    anonymous.logout()
    assert not isinstance(anonymous.get("/accounts/login/").wsgi_request.user, LazyObject)


def test_a_browser_without_a_session_is_anonymous_without_reading_one(world, client, monkeypatch):
    """Its sign-in POST (the form page is answered earlier): AnonymousUser as get_user()
    finds it, django-otp's fields on it, no session user read; a session cookie reads."""
    from django.contrib.auth.models import AnonymousUser

    from kreide.accounts import middleware

    reads = []
    original = middleware._session_user
    monkeypatch.setattr(
        middleware, "_session_user", lambda request: reads.append(1) or original(request)
    )
    request = client.post("/accounts/login/", {"username": "x", "password": "y"}).wsgi_request
    assert type(request.user) is AnonymousUser and request.user.is_verified() is False
    assert request.session.session_key is None and reads == []
    client.force_login(world.student_7a)
    assert client.get("/tasks/").wsgi_request.user.pk == world.student_7a.pk
    assert reads == [1]


def test_the_session_auth_hash_is_djangos_and_follows_password_and_key(world, settings):
    from django.contrib.auth.base_user import AbstractBaseUser

    user = User.objects.get(pk=world.student_7a.pk)
    kept = user.get_session_auth_hash()
    assert kept == AbstractBaseUser.get_session_auth_hash(user)
    assert user.get_session_auth_hash() == kept
    settings.SECRET_KEY = "another-key-" + "x" * 50
    assert user.get_session_auth_hash() == AbstractBaseUser.get_session_auth_hash(user) != kept
    user.set_password("a new password for this test")
    assert user.get_session_auth_hash() == AbstractBaseUser.get_session_auth_hash(user)


@pytest.mark.parametrize("change", ["password", "deactivation"])
def test_a_changed_account_is_signed_out_at_the_next_request(world, client_for, change):
    signed_in = client_for(world.student_7a)
    assert signed_in.get("/tasks/").status_code == 200  # its hash is kept now
    user = User.objects.get(pk=world.student_7a.pk)
    if change == "password":
        user.set_password("changed on another device")
    else:
        user.is_active = False
    user.save()
    response = signed_in.get("/tasks/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
