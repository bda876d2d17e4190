"""The school office's sign-in providers and the accounts' external IDs: who may see and
change them, what the audit log records, and that the client secret is never in clear."""

from __future__ import annotations

import pytest

from kreide.accounts import importing, services, upstream
from kreide.accounts.models import ExternalIdentity, UpstreamProvider, User
from kreide.core.models import AuditEntry

pytestmark = pytest.mark.django_db

FORM = {
    "name": "Landes-Login",
    "issuer": "https://login.land.example",
    "client_id": "kreide-nord",
    "client_secret": "sehr-geheim-4711",
    "scopes": "openid profile",
    "claim": "schoolPersonId",
    "new_account_role": "student",
    "enabled": "on",
}


@pytest.fixture
def provider(world):
    return upstream.save_provider(
        world.admin,
        UpstreamProvider(school=world.school),
        secret="sehr-geheim-4711",
        name="Landes-Login",
        issuer="https://login.land.example",
        client_id="kreide-nord",
    )


@pytest.fixture
def parent(world, make_user):
    return make_user(world.school, User.Role.PARENT)


def _pages(provider) -> list[str]:
    return [
        "/accounts/admin/sign-in-providers/",
        "/accounts/admin/sign-in-providers/new/",
        f"/accounts/admin/sign-in-providers/{provider.pk}/",
        f"/accounts/admin/sign-in-providers/{provider.pk}/remove/",
    ]


def test_the_office_adds_a_provider_with_its_secret_enciphered(world, client_for):
    office = client_for(world.admin)
    response = office.post("/accounts/admin/sign-in-providers/new/", FORM)
    assert response.status_code == 302, response.content.decode()[:2000]
    provider = UpstreamProvider.objects.for_school(world.school).get()
    assert "sehr-geheim" not in provider.secret_sealed
    assert upstream.reveal(provider) == "sehr-geheim-4711"
    page = office.get(f"/accounts/admin/sign-in-providers/{provider.pk}/").content.decode()
    assert "sehr-geheim" not in page
    assert "/accounts/login/provider/return/" in page
    entry = AuditEntry.objects.for_school(world.school).get(action="account.upstream_added")
    assert "sehr-geheim" not in str(entry.details)

    # An empty secret keeps the stored one; a changed field is audited, the secret never.
    changed = {**FORM, "client_secret": "", "claim": "sub"}
    assert (
        office.post(f"/accounts/admin/sign-in-providers/{provider.pk}/", changed).status_code == 302
    )
    provider.refresh_from_db()
    assert provider.claim == "sub" and upstream.reveal(provider) == "sehr-geheim-4711"
    entry = AuditEntry.objects.for_school(world.school).get(action="account.upstream_changed")
    assert entry.details["changes"] == {"claim": ["schoolPersonId", "sub"]}


def test_the_form_refuses_bad_input_and_keeps_it(world, client_for):
    office = client_for(world.admin)
    bad = {**FORM, "issuer": "http://login.land.example", "scopes": "profile", "client_secret": ""}
    response = office.post("/accounts/admin/sign-in-providers/new/", bad)
    assert response.status_code == 200
    text = response.content.decode()
    assert (
        "https://-Adresse" in text and "openid enthalten" in text and "Client-Geheimnis ein" in text
    )
    assert 'value="kreide-nord"' in text
    assert not UpstreamProvider.objects.for_school(world.school).exists()


def test_only_the_schools_admins_see_its_providers(world, client_for, client, provider, parent):
    pages = _pages(provider)
    for url in pages:
        assert client_for(world.admin).get(url).status_code == 200, url
        assert client.get(url)["Location"].startswith("/accounts/login/"), url
    for user in (world.student_7a, world.teacher_7a, parent):
        for url in pages:
            assert client_for(user).get(url).status_code == 403, (user, url)
    other_office = client_for(world.other_admin)
    assert other_office.get(pages[0]).status_code == 200
    assert "Landes-Login" not in other_office.get(pages[0]).content.decode()
    for url in pages[2:]:
        assert other_office.get(url).status_code == 404, url
    assert other_office.post(pages[3]).status_code == 404
    assert UpstreamProvider.objects.for_school(world.school).exists()


def test_removing_a_provider_removes_its_links_not_the_accounts(world, client_for, provider):
    upstream.set_external_id(world.admin, world.student_7a, provider, "P-1")
    office = client_for(world.admin)
    assert (
        office.post(f"/accounts/admin/sign-in-providers/{provider.pk}/remove/").status_code == 302
    )
    assert not ExternalIdentity.objects.for_school(world.school).exists()
    assert User.objects.filter(pk=world.student_7a.pk).exists()
    assert (
        AuditEntry.objects.for_school(world.school)
        .filter(action="account.upstream_removed")
        .exists()
    )


def test_the_office_links_and_unlinks_an_account(world, client_for, provider):
    office = client_for(world.admin)
    url = f"/accounts/admin/users/{world.student_7a.pk}/external-id/"
    assert office.post(url, {"provider": provider.pk, "value": " P-4711 "}).status_code == 302
    identity = ExternalIdentity.objects.for_school(world.school).get()
    assert (identity.user, identity.value) == (world.student_7a, "P-4711")
    page = office.get(f"/accounts/admin/users/{world.student_7a.pk}/").content.decode()
    assert 'value="P-4711"' in page and "Externe Kennung bei Landes-Login" in page

    # The same person cannot be linked to a second account.
    office.post(
        f"/accounts/admin/users/{world.classmate_7a.pk}/external-id/",
        {"provider": provider.pk, "value": "P-4711"},
    )
    assert ExternalIdentity.objects.for_school(world.school).count() == 1
    refused = office.get(f"/accounts/admin/users/{world.classmate_7a.pk}/").content.decode()
    assert "bereits mit" in refused

    assert office.post(url, {"provider": provider.pk, "value": ""}).status_code == 302
    assert not ExternalIdentity.objects.for_school(world.school).exists()
    actions = list(
        AuditEntry.objects.for_school(world.school)
        .filter(target_id=str(world.student_7a.pk))
        .order_by("pk")
        .values_list("action", flat=True)
    )
    assert actions == ["account.external_id_set", "account.external_id_cleared"]


def test_links_stay_inside_the_school(world, client_for, provider, parent):
    url = f"/accounts/admin/users/{world.student_7a.pk}/external-id/"
    for user in (world.student_7a, world.teacher_7a, parent):
        assert (
            client_for(user).post(url, {"provider": provider.pk, "value": "X"}).status_code == 403
        )
    other_office = client_for(world.other_admin)
    # Another school's account, or this school's account with another school's provider.
    assert other_office.post(url, {"provider": provider.pk, "value": "X"}).status_code == 404
    theirs = f"/accounts/admin/users/{world.other_student.pk}/external-id/"
    assert other_office.post(theirs, {"provider": provider.pk, "value": "X"}).status_code == 404
    assert other_office.post(theirs, {"provider": "x", "value": "X"}).status_code == 404
    assert not ExternalIdentity.unscoped.exists()


def test_the_provider_pages_cost_a_bounded_number_of_queries(
    world, client_for, provider, django_assert_max_num_queries
):
    for number in range(5):
        upstream.save_provider(
            world.admin,
            UpstreamProvider(school=world.school),
            secret="s",
            name=f"Dienst {number}",
            issuer=f"https://login{number}.example",
            client_id="c",
        )
    office = client_for(world.admin)
    with django_assert_max_num_queries(12):
        assert office.get("/accounts/admin/sign-in-providers/").status_code == 200
    with django_assert_max_num_queries(25):
        assert office.get(f"/accounts/admin/users/{world.student_7a.pk}/").status_code == 200


def test_a_secret_of_another_deployment_reads_as_none(provider, settings):
    settings.SECRET_KEY = "another-deployment-" + "x" * 40
    assert upstream.reveal(provider) == ""


LINKED_CSV = (
    "username;first_name;last_name;role;classes;external_id\n"
    "anna.becker;Anna;Becker;student;7a;P-1\n"
    "{existing};Lea;Alt;student;7a;P-2\n"
    "carl.ohne;Carl;Ohne;student;7a;\n"
)


def _import_linked(world, text: str):
    rows = importing.parse(text.encode(), world.school)
    return services.import_users(world.admin, world.school, rows)


def test_the_csv_import_carries_external_ids(world, provider):
    _import_linked(world, LINKED_CSV.format(existing=world.student_7a.username))
    links = dict(
        ExternalIdentity.objects.for_school(world.school).values_list("user__username", "value")
    )
    assert links == {"anna.becker": "P-1", world.student_7a.username: "P-2"}
    assert (
        AuditEntry.objects.for_school(world.school).filter(action="account.external_id_set").count()
        == 2
    )
    # Imported again with a changed value: changed, nothing doubled.
    _import_linked(
        world, LINKED_CSV.replace("P-2", "P-3").format(existing=world.student_7a.username)
    )
    assert (
        ExternalIdentity.objects.for_school(world.school).get(user=world.student_7a).value == "P-3"
    )
    assert ExternalIdentity.objects.for_school(world.school).count() == 2


def test_the_csv_import_refuses_doubled_or_taken_ids_and_imports_nothing(world, provider):
    upstream.set_external_id(world.admin, world.classmate_7a, provider, "P-2")
    doubled = LINKED_CSV.replace("P-1", "P-2").format(existing=world.student_7a.username)
    with pytest.raises(importing.ImportFileError) as refused:
        importing.parse(doubled.encode(), world.school)
    messages = {(e.line, e.column, str(e.message)) for e in refused.value.errors}
    assert (3, "external_id", "Bereits in Zeile 2 verwendet.") in messages
    assert (2, "external_id", "Diese externe Kennung gehört zu einem anderen Konto.") in messages
    assert not User.objects.filter(username="anna.becker").exists()


def test_external_ids_in_the_csv_need_exactly_one_provider(world):
    with pytest.raises(importing.ImportFileError) as refused:
        importing.parse(LINKED_CSV.format(existing="x.y").encode(), world.school)
    assert [(e.line, e.column) for e in refused.value.errors] == [(2, "external_id")]
    assert "genau einen Anmeldedienst (die Schule hat 0)" in str(refused.value.errors[0].message)
