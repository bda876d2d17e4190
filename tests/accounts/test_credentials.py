import re

from kreide.accounts.credentials import Credential, load, render_pdf, sorted_for_print, store


def _slips(count: int, group: str) -> list[Credential]:
    return [
        Credential(f"Vor{i}", f"Nach{i}", f"{group}.user{i}", f"pass-{group}-{i}", group)
        for i in range(count)
    ]


def test_pdf_has_a_slip_per_student_grouped_by_class():
    slips = _slips(12, "7b") + _slips(3, "7a")
    pdf = render_pdf(slips, "Gymnasium Nord", "Nordweg 1\n12345 Nordstadt", compress=False)
    assert pdf.startswith(b"%PDF")
    # Ten slips per page, each class on pages of its own: 7a (1 page), 7b (2 pages).
    assert len(re.findall(rb"/Type /Page\b", pdf)) == 3
    for slip in slips:
        assert pdf.count(f"({slip.username})".encode()) == 1
        assert pdf.count(f"({slip.password})".encode()) == 1
    # 7a comes first.
    assert pdf.index(b"(7a.user0)") < pdf.index(b"(7b.user0)")


def test_print_order_is_class_then_name():
    slips = [
        Credential("B", "Zett", "z", "p", "7a"),
        Credential("A", "Ast", "a", "p", "7a"),
        Credential("C", "Ohne", "o", "p", ""),
        Credential("D", "Dora", "d", "p", "5b"),
    ]
    assert [c.username for c in sorted_for_print(slips)] == ["d", "a", "z", "o"]


def test_stored_credentials_are_only_for_their_owner():
    token = store(7, 1, _slips(1, "7a"), kind="reset")
    assert load(token, 7)["credentials"][0].password == "pass-7a-0"
    assert load(token, 8) is None
    assert load("unknown", 7) is None


def test_cache_holds_no_readable_password():
    from django.core.cache import cache

    from kreide.accounts.credentials import _key

    token = store(7, 1, _slips(1, "7a"), kind="reset")
    sealed = cache.get(_key(token))
    assert b"pass-7a-0" not in sealed and b"7a.user0" not in sealed
    assert cache.get(f"credentials:{token}") is None


def test_slips_carry_the_address_and_a_code_that_opens_the_sign_in_page(monkeypatch):
    from kreide.accounts import credentials

    encoded = []
    make = credentials.segno.make

    def recording(data, **kwargs):
        encoded.append(data)
        return make(data, **kwargs)

    monkeypatch.setattr(credentials.segno, "make", recording)
    slips = _slips(2, "7a")
    pdf = render_pdf(
        slips,
        "Gymnasium Nord",
        "Nordweg 1",
        site_url="https://kreide.nord.example/",
        compress=False,
    )
    assert pdf.count(b"(https://kreide.nord.example)") == 2
    assert encoded == [
        "https://kreide.nord.example/accounts/login/?username=7a.user0",
        "https://kreide.nord.example/accounts/login/?username=7a.user1",
    ]
    # Without an address (a command-line import without --url) the slips still print.
    encoded.clear()
    assert render_pdf(slips, "Gymnasium Nord", "Nordweg 1").startswith(b"%PDF")
    assert encoded == []


def test_the_code_opens_the_sign_in_page_with_the_username_filled_in(client, db):
    page = client.get("/accounts/login/?username=7a.user0").content.decode()
    assert 'value="7a.user0"' in page
    password = page.split('name="password"')[1].split(">")[0]
    assert "autofocus" in password  # what is left to type


def test_printed_slips_name_the_address_the_office_uses(world, client_for, settings):
    from kreide.accounts import credentials

    token = store(world.admin.pk, world.school.pk, _slips(1, "7a"), kind="reset")
    settings.PUBLIC_URL = ""
    pdf = client_for(world.admin).get(f"/accounts/credentials/{token}/slips.pdf").content
    assert pdf.startswith(b"%PDF")
    assert credentials.sign_in_link("http://testserver/", "x") == (
        "http://testserver/accounts/login/?username=x"
    )
