"""Parents are linked by the school office, by a parent file and by a code on a slip."""

import html
import re
from urllib.parse import unquote

import pytest
import segno
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from kreide.accounts.models import User
from kreide.parents import services
from kreide.parents.models import ParentLink
from kreide.parents.services import ParentRefusal
from kreide.schools import access

pytestmark = pytest.mark.django_db


def test_children_of_names_exactly_the_linked_children(family):
    assert list(access.children_of(family.parent)) == sorted(
        [family.student_7a, family.sibling_7b], key=lambda u: (u.first_name, u.last_name, u.pk)
    )
    assert list(access.children_of(family.second_parent)) == [family.student_7a]
    assert access.is_parent_of(family.parent, family.sibling_7b)
    assert not access.is_parent_of(family.second_parent, family.sibling_7b)
    # Nobody else has children, whatever links exist.
    assert not access.children_of(family.teacher_7a).exists()
    assert not access.is_parent_of(family.student_7a, family.student_7a)


def test_a_deactivated_parent_or_child_is_no_link(family):
    family.sibling_7b.is_active = False
    family.sibling_7b.save()
    assert list(access.children_of(family.parent)) == [family.student_7a]
    family.parent.is_active = False
    family.parent.save()
    assert not access.children_of(family.parent).exists()


def test_import_creates_parents_with_passwords_and_links(world, client_for):
    data = (
        "parent_username;first_name;last_name;child_username\n"
        f"mama.x;Maria;X;{world.student_7a.username}\n"
        f"mama.x;Maria;X;{world.student_7b.username}\n"
        f"papa.x;Paul;X;{world.student_7a.username}\n"
    ).encode()
    client = client_for(world.admin)
    response = client.post(
        reverse("parents:office"),
        {"file-file": SimpleUploadedFile("eltern.csv", data, "text/csv")},
    )
    assert response.status_code == 302 and "/credentials/" in response["Location"]
    mama = User.objects.get(username="mama.x")
    assert mama.role == User.Role.PARENT and mama.school == world.school
    assert mama.must_change_password  # and sees nothing before choosing her own
    assert not access.children_of(mama).exists()
    mama.must_change_password = False
    assert set(access.children_of(mama)) == {world.student_7a, world.student_7b}
    assert ParentLink.objects.for_school(world.school).count() == 3
    slips = client.get(response["Location"])
    assert b"mama.x" in slips.content and b"papa.x" in slips.content


def test_import_with_a_wrong_line_writes_nothing_and_says_which(world, client_for):
    data = (
        "parent_username;first_name;last_name;child_username\n"
        f"mama.x;Maria;X;{world.student_7a.username}\n"
        f"papa.x;Paul;X;{world.other_student.username}\n"
        f"{world.teacher_7a.username};Paul;X;{world.student_7a.username}\n"
    ).encode()
    response = client_for(world.admin).post(
        reverse("parents:office"),
        {"file-file": SimpleUploadedFile("eltern.csv", data, "text/csv")},
    )
    assert response.status_code == 200
    text = response.content.decode()
    assert "Zeile 3" in text and "Zeile 4" in text
    assert not User.objects.filter(username__in=["mama.x", "papa.x"]).exists()
    assert not ParentLink.objects.for_school(world.school).exists()


def test_import_needs_the_header(world):
    with pytest.raises(ParentRefusal):
        services.import_parents(world.admin, b"a;b;c;d\nx;y;z;w\n")


def test_only_the_school_office_links(world, make_user):
    parent = make_user(world.school, User.Role.PARENT)
    with pytest.raises(PermissionDenied):
        services.link(world.teacher_7a, parent, world.student_7a)
    with pytest.raises(PermissionDenied):
        services.link(world.other_admin, parent, world.student_7a)
    with pytest.raises(ParentRefusal):  # a parent of another school
        services.link(
            world.admin, make_user(world.other_school, User.Role.PARENT), world.student_7a
        )
    with pytest.raises(ParentRefusal):  # a teacher is no parent
        services.link(world.admin, world.teacher_7b, world.student_7a)
    services.link(world.admin, parent, world.student_7a)
    assert list(access.children_of(parent)) == [world.student_7a]


def test_slip_code_creates_a_parent_account_once(world, client_for, client):
    office = client_for(world.admin)
    slips = office.post(reverse("parents:office_invite"), {"group": world.class_7a.pk})
    assert slips.status_code == 200
    codes = re.findall(r'class="code">([A-Z0-9-]+)<', slips.content.decode())
    assert len(codes) == 2  # student_7a and classmate_7a
    answer = client.post(
        reverse("parents:join"),
        {
            "code": codes[0].lower(),  # typed in lower case
            "first_name": "Erika",
            "last_name": "Muster",
            "username": "erika.muster",
            "password": "ein langes Passwort 7",
            "password_again": "ein langes Passwort 7",
        },
    )
    assert answer.status_code == 302
    erika = User.objects.get(username="erika.muster")
    assert erika.is_parent and erika.school == world.school
    assert access.children_of(erika).count() == 1
    # Signed in, she adds the sibling's code; a used code works no more.
    added = client.post(reverse("parents:add_child"), {"code": codes[1]})
    assert added.status_code == 302, added.content.decode()[-3000:]
    assert added["Location"] == reverse("parents:child", args=[world.classmate_7a.pk]), added[
        "Location"
    ]
    assert access.children_of(erika).count() == 2
    again = client.post(reverse("parents:add_child"), {"code": codes[0]})
    assert "nicht gültig" in again.content.decode()


def test_wrong_code_is_a_message_and_no_account(world, client):
    response = client.post(
        reverse("parents:join"),
        {
            "code": "AAAA-BBBB-CCCC",
            "first_name": "E",
            "last_name": "M",
            "username": "e.m",
            "password": "ein langes Passwort 7",
            "password_again": "ein langes Passwort 7",
        },
    )
    assert response.status_code == 200
    assert "nicht gültig" in response.content.decode()
    assert not User.objects.filter(username="e.m").exists()


def test_office_sees_and_removes_links(family, client_for):
    office = client_for(family.admin)
    page = office.get(reverse("parents:office")).content.decode()
    assert family.parent.username in page and family.sibling_7b.username in page
    assert family.other_student.username not in page
    link = ParentLink.objects.for_school(family.school).get(
        parent=family.parent, child=family.sibling_7b
    )
    assert (
        client_for(family.other_admin)
        .post(reverse("parents:office_unlink", args=[link.pk]))
        .status_code
        == 404
    )
    assert office.post(reverse("parents:office_unlink", args=[link.pk])).status_code == 302
    assert list(access.children_of(family.parent)) == [family.student_7a]


def _dark_modules(svg: str) -> set[tuple[int, int]]:
    """The dark modules of a QR code drawn as segno draws SVG: one path of horizontal runs
    ("M2 2.5h7m1 0h3…", absolute then relative moves), read back as (column, row)."""
    path = re.search(r" d='([^']+)'", svg).group(1)
    x = y = 0.0
    dark = set()
    for command, numbers in re.findall(r"([MmHh])([-\d. ]+)", path):
        values = [float(n) for n in numbers.split()]
        if command == "M":
            x, y = values
        elif command == "m":
            x, y = x + values[0], y + values[1]
        else:
            dark.update((int(x) + step, int(y)) for step in range(int(values[0])))
            x += values[0]
    return dark


def _qr_holds(svg: str, text: str) -> bool:
    """Whether the drawn code is the QR code of `text` (at any error correction level):
    its modules against those segno computes for `text`, wherever the border lies."""
    drawn = _dark_modules(svg)
    # The finder pattern's corner module is dark in every QR code: it marks the border.
    left, top = min(c for c, _ in drawn), min(r for _, r in drawn)
    for error in "lmqh":
        expected = {
            (column, row)
            for row, line in enumerate(segno.make(text, error=error, boost_error=False).matrix)
            for column, module in enumerate(line)
            if module
        }
        if {(c + left, r + top) for c, r in expected} == drawn:
            return True
    return False


def test_the_slip_holds_a_qr_code_of_the_join_address_with_its_code(world, client_for, client):
    page = client_for(world.admin).post(
        reverse("parents:office_invite"), {"group": world.class_7a.pk}
    )
    text = page.content.decode()
    codes = re.findall(r'class="code">([A-Z0-9-]+)<', text)
    images = re.findall(r'<img src="(data:image/svg\+xml[^"]+)"', text)
    assert len(codes) == len(images) == 2
    for code, image in zip(codes, images, strict=True):
        svg = unquote(html.unescape(image).split(",", 1)[1])
        join = f"http://testserver{reverse('parents:join')}?code={code}"
        assert _qr_holds(svg, join), code
        assert not _qr_holds(svg, f"http://testserver{reverse('parents:join')}?code=X{code}")
        # The address the phone opens has the code filled in.
        opened = client.get(join)
        assert f'value="{code}"' in opened.content.decode()
    assert not _qr_holds(unquote(html.unescape(images[0]).split(",", 1)[1]), join)
