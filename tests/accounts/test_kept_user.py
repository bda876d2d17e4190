"""The signed-in user kept per process (accounts.keptuser): a change to the account, its
school or its memberships counts at the very next request in every process; no reuse
without Redis or while it is away. Two tables of kept users stand for two processes
sharing one Redis and one database."""

import pytest
from django.conf import settings
from django.core.cache import cache, caches

from kreide.accounts import backends, keptuser, services
from kreide.accounts.models import User
from kreide.core import cache as kreide_cache
from kreide.core import fragments
from kreide.schools import access
from kreide.schools.models import Membership, School
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def redis_only():
    if not settings.REDIS_URL:
        pytest.skip("the user is kept only where Redis is shared (the embedded default: never)")


@pytest.fixture
def processes(monkeypatch):
    """`use("a")` / `use("b")`: the requests that follow run in that process."""
    tables = {"a": keptuser.KeptUsers(), "b": keptuser.KeptUsers()}

    def use(name: str) -> None:
        monkeypatch.setattr(keptuser, "_process", tables[name])

    return use


@pytest.fixture
def loads(monkeypatch):
    """The users loaded from the database for a session, one entry per load."""
    calls = []
    real = backends._BY_ID.list

    def counted(*args):
        calls.append(args)
        return real(*args)

    monkeypatch.setattr(backends._BY_ID, "list", counted)
    return calls


def _warm(client) -> None:
    """A session's first request in a process learns whose it is, the second keeps its
    user, the third is served from the table (in the process that signed it in, its first
    keeps and its second is served)."""
    for _ in range(3):
        assert client.get("/tasks/").status_code == 200


def test_from_the_second_request_of_a_session_its_process_loads_no_user(
    redis_only, world, client_for, loads, cache_reads
):
    client_for(world.student_7a).get("/tasks/")  # the page's own first visit
    del loads[:]
    client = client_for(world.student_7a)  # signed in in this process
    reads_per_request = []
    for _ in range(4):
        del cache_reads[:]
        response = client.get("/tasks/")
        assert response.status_code == 200
        reads_per_request.append(len(cache_reads))
    assert len(loads) == 1  # the first request; the others are copies
    user = response.wsgi_request.user
    assert type(user) is User and user.pk == world.student_7a.pk
    assert user.school.pk == world.school.pk
    kept = keptuser._process.users[user.pk][2]
    assert user is not kept and user.school is not kept.school
    assert not hasattr(kept, "otp_device")  # django-otp set it on the request's copy only
    # The versions ride in the session's one round trip: no read is added.
    assert len(set(reads_per_request)) == 1
    session_read = cache_reads[0]
    assert session_read[0] == "get_many" and session_read[1][1:] == [
        fragments.version_key(keptuser.user_scope(user.pk)),
        fragments.version_key(keptuser.school_scope(world.school.pk)),
    ]


def _password(world, user):
    services.change_own_password(user, "a new password on another device")


def _deactivation(world, user):
    services.set_active(world.admin, user, False)


def _password_reset(world, user):
    services.reset_password(world.admin, user)


def _must_change_password(world, user):
    user.must_change_password = True
    user.save(update_fields=["must_change_password"])


def _role(world, user):
    services.update_user(world.admin, user, role=User.Role.TEACHER)


def _school(world, user):
    user.school = world.other_school
    user.save()


def _admin_edit(world, user):
    services.update_user(world.admin, user, first_name="Edited")


def _school_saved(world, user):
    world.school.name = "Renamed"
    world.school.save()


def _school_updated(world, user):
    School.objects.filter(pk=world.school.pk).update(name="Renamed")


def _rollover(world, user):  # as schoolyear.services deactivates graduates
    User.objects.for_school(world.school).filter(pk__in=[user.pk]).update(
        is_active=False, left_school=True
    )


def _bulk_update(world, user):  # as an import or a reprint of slips writes
    user.first_name = "Edited"
    User.objects.bulk_update([user], ["first_name"])


def _deleted(world, user):
    user.delete()


def _signed_out(world, response):
    return response.status_code == 302 and "/accounts/login/" in response["Location"]


def _user(response):
    return response.wsgi_request.user


CHANGES = {
    "password": (_password, _signed_out),
    "deactivation": (_deactivation, _signed_out),
    "deleted": (_deleted, _signed_out),
    "password reset": (_password_reset, _signed_out),
    "must change password": (
        _must_change_password,
        lambda world, r: r.status_code == 302 and "/password/" in r["Location"],
    ),
    "role": (_role, lambda world, r: _user(r).role == User.Role.TEACHER),
    "school": (_school, lambda world, r: _user(r).school == world.other_school),
    "admin's edit": (_admin_edit, lambda world, r: _user(r).first_name == "Edited"),
    "school saved": (_school_saved, lambda world, r: _user(r).school.name == "Renamed"),
    "school updated": (_school_updated, lambda world, r: _user(r).school.name == "Renamed"),
    "rollover": (_rollover, lambda world, r: _user(r).left_school),
    "bulk_update": (_bulk_update, lambda world, r: _user(r).first_name == "Edited"),
}


@pytest.mark.parametrize("change", CHANGES)
def test_a_change_counts_at_the_next_request_in_every_process(
    redis_only, world, client_for, processes, loads, change
):
    write, counts = CHANGES[change]
    # Two devices: each process serves each of them next, the writer's process neither.
    devices = client_for(world.student_7a), client_for(world.student_7a)
    for name in "ab":
        processes(name)
        for client in devices:
            _warm(client)
    assert len(loads) == 8  # two sessions, each learned then kept in each process
    write(world, User.objects.get(pk=world.student_7a.pk))
    for name, client in zip("ab", devices, strict=True):
        processes(name)
        response = client.get("/tasks/")
        assert counts(world, response), f"process {name} missed the {change}"


def test_a_membership_is_read_per_request_not_kept(redis_only, world, client_for, processes):
    client = client_for(world.student_7a)
    for name in "ab":
        processes(name)
        _warm(client)
    Membership.unscoped.filter(user=world.student_7a, group=world.class_7a).delete()
    processes("b")
    user = client.get("/tasks/").wsgi_request.user
    assert world.class_7a.pk not in access.group_roles(user)


def test_without_redis_every_request_loads_its_user(world, client_for, loads, settings):
    settings.REDIS_URL = ""  # the embedded default: a cache per machine, no shared versions
    client = client_for(world.student_7a)
    for _ in range(4):
        assert client.get("/tasks/").status_code == 200
    assert len(loads) == 4
    assert not keptuser._process.users and not keptuser._process.sessions


def test_while_redis_is_away_every_request_loads_its_user_and_the_table_goes(
    redis_only, world, client_for, loads, monkeypatch
):
    client = client_for(world.student_7a)
    _warm(client)
    assert len(loads) == 1 and keptuser._process.users
    monkeypatch.setattr(kreide_cache.breaker, "_open_until", 1e18)  # open, no probe due
    for _ in range(2):
        assert client.get("/tasks/").status_code == 200
    assert len(loads) == 3
    assert not keptuser._process.users  # nothing loaded before the outage is trusted after
    monkeypatch.setattr(kreide_cache.breaker, "_open_until", 0.0)
    _warm(client)
    assert len(loads) == 4  # kept again at the next request, served after


def test_a_missing_version_is_set_only_if_no_writer_set_one(
    redis_only, world, client_for, loads, monkeypatch
):
    client = client_for(world.student_7a)
    _warm(client)
    key = fragments.version_key(keptuser.user_scope(world.student_7a.pk))
    cache.delete(key)  # evicted
    client.get("/tasks/")  # not kept under a missing version: loaded, a version set
    assert len(loads) == 2 and cache.get(key) is not None
    client.get("/tasks/")
    assert len(loads) == 2
    # A writer's version set between the read and the keeping wins: not kept.
    cache.delete(key)
    backend = caches["default"]
    real_add = backend.add

    def writer_first(k, *args, **kwargs):
        backend.set(k, 1, None)
        return real_add(k, *args, **kwargs)

    monkeypatch.setattr(backend, "add", writer_first)
    client.get("/tasks/")
    assert len(loads) == 3 and world.student_7a.pk not in keptuser._process.users


def test_a_session_signed_in_elsewhere_drops_what_a_process_kept_before(
    redis_only, world, client_for, processes
):
    """A sign-in's last_login is written without a bump: the new session's first request
    in another process loads the user and drops the entry kept for an older session."""
    processes("a")
    _warm(client_for(world.student_7a))
    assert world.student_7a.pk in keptuser._process.users
    processes("b")
    signed_in_in_b = client_for(world.student_7a)
    processes("a")
    signed_in_in_b.get("/tasks/")
    assert world.student_7a.pk not in keptuser._process.users


def test_the_process_that_signed_a_session_in_keeps_its_user_from_the_first_page(
    redis_only, world, client, client_for, loads
):
    other_device = client_for(world.student_7a)
    _warm(other_device)
    assert world.student_7a.pk in keptuser._process.users
    response = client.post(
        "/accounts/login/", {"username": world.student_7a.username, "password": PASSWORD}
    )
    assert response.status_code == 302
    # The sign-in wrote last_login without a bump: what was kept for the other session went.
    assert world.student_7a.pk not in keptuser._process.users
    del loads[:]
    assert client.get("/").status_code == 200  # the dashboard: loaded, kept
    assert client.get("/tasks/").status_code == 200  # a copy
    assert len(loads) == 1
    user = User.objects.get(pk=world.student_7a.pk)
    assert client.get("/tasks/").wsgi_request.user.last_login == user.last_login
    assert other_device.get("/tasks/").wsgi_request.user.last_login == user.last_login
