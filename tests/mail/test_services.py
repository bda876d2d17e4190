"""Addresses, lists and the sending policy, without mail servers."""

from __future__ import annotations

import pytest

from kreide.mail import lookup, process, services
from kreide.mail.models import MailPolicy
from kreide.mail.services import MailList, address_of, resolve
from kreide.schools.models import Group
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_every_account_has_an_address_in_its_schools_domain(world):
    assert address_of(world.student_7a) == f"{world.student_7a.username}@nord.kreide.test"
    MailPolicy.objects.for_school(world.school).create(domain="gym-nord.de")
    student = resolve(f"{world.student_7a.username}@GYM-nord.de")  # loaded afresh
    assert student == world.student_7a
    assert address_of(student) == f"{world.student_7a.username}@gym-nord.de"
    # The default domain no longer answers once a school has its own.
    assert resolve(f"{world.student_7a.username}@nord.kreide.test") is None


def test_lists_follow_the_roster(world, make_user, make_group):
    members = services.list_recipients(resolve("klasse-7a@nord.kreide.test"))
    assert members == sorted(
        address_of(user) for user in (world.teacher_7a, world.student_7a, world.classmate_7a)
    )
    newcomer = make_user(world.school, groups=(world.class_7a,))
    assert address_of(newcomer) in services.list_recipients(resolve("klasse-7a@nord.kreide.test"))
    world.classmate_7a.is_active = False
    world.classmate_7a.save()
    assert address_of(world.classmate_7a) not in services.list_recipients(
        resolve("klasse-7a@nord.kreide.test")
    )
    band = make_group(world.school, "Schul Band", kind=Group.Kind.WORKGROUP)
    assert resolve("ag-schul-band@nord.kreide.test").group == band
    assert services.list_recipients(resolve("lehrkraefte@nord.kreide.test")) == sorted(
        address_of(user) for user in (world.teacher_7a, world.teacher_7b)
    )
    assert services.list_recipients(resolve("sekretariat@nord.kreide.test")) == [
        address_of(world.admin)
    ]
    # Another school's class of the same name is its own list.
    assert resolve("klasse-7a@sued.kreide.test").school == world.other_school


def test_lists_follow_the_access_layers_rules(world, make_user, deactivate):
    """A list's members are the group's roster as the access layer has it: a parent is no
    member, a deactivated account or class reaches nobody, even through a list resolved
    before the class was deactivated."""
    from kreide.parents.models import ParentLink

    parent = make_user(world.school, "parent")
    ParentLink.objects.for_school(world.school).create(parent=parent, child=world.student_7a)
    class_list = resolve("klasse-7a@nord.kreide.test")
    recipients = services.list_recipients(class_list)
    assert address_of(world.teacher_7a) in recipients and address_of(parent) not in recipients
    deactivate(world.class_7a)
    assert services.list_recipients(class_list) == []
    assert resolve("klasse-7a@nord.kreide.test") is None


def test_a_list_wins_over_an_account_named_like_it(world, make_user):
    make_user(world.school, username="sekretariat")
    assert isinstance(resolve("sekretariat@nord.kreide.test"), MailList)


def test_sending_policy(world):
    student, teacher = address_of(world.student_7a), address_of(world.teacher_7a)
    check = services.check_recipient
    assert check(student, student, address_of(world.student_7b)).allowed
    assert check(student, student, "sekretariat@nord.kreide.test").allowed
    assert not check(student, student, "klasse-7a@nord.kreide.test").allowed
    assert not check(student, student, "lehrkraefte@nord.kreide.test").allowed
    assert check(teacher, teacher, "klasse-7b@nord.kreide.test").allowed
    assert check(teacher, teacher, "parent@example.org").allowed
    assert not check(student, student, "parent@example.org").allowed
    assert not check(student, teacher, address_of(world.student_7b)).allowed
    # From outside: staff yes, students and class lists no, the office yes.
    assert check("", "parent@example.org", teacher).allowed
    assert not check("", "parent@example.org", student).allowed
    assert not check("", "parent@example.org", "klasse-7a@nord.kreide.test").allowed
    assert check("", "parent@example.org", "sekretariat@nord.kreide.test").allowed
    # Nobody outside may claim a school address without signing in.
    assert not check("", teacher, address_of(world.student_7b)).allowed


def test_school_policy_opens_mail_outside_for_students(world):
    MailPolicy.objects.for_school(world.school).create(students_external=True)
    student = address_of(world.student_7a)
    assert services.check_recipient(student, student, "parent@example.org").allowed
    assert services.check_recipient("", "parent@example.org", student).allowed


def test_recipients_per_hour_are_bounded(world, settings):
    settings.MAIL_RECIPIENTS_PER_HOUR = 3
    student = address_of(world.student_7a)
    verdicts = [
        services.check_recipient(student, student, address_of(world.classmate_7a)) for _ in range(4)
    ]
    assert [verdict.allowed for verdict in verdicts] == [True, True, True, False]
    assert verdicts[-1].temporary


def test_client_logins_follow_the_web_rules(world, settings):
    settings.LOGIN_FAILURES_PER_ACCOUNT = 2
    login = address_of(world.student_7a)
    assert services.authenticate_client(login, PASSWORD, "10.0.0.1").value == login
    assert services.authenticate_client(login, "wrong", "10.0.0.1").verdict == "FAIL"
    assert services.authenticate_client(login, "wrong", "10.0.0.1").verdict == "FAIL"
    assert services.authenticate_client(login, PASSWORD, "10.0.0.1").verdict == "FAIL"
    # Another school's domain is not this account's.
    other = f"{world.student_7b.username}@sued.kreide.test"
    assert services.authenticate_client(other, PASSWORD, "10.0.0.2").verdict == "FAIL"


def test_postfix_lookups(world):
    assert lookup.socketmap_answer("domain", "nord.kreide.test") == "OK 1"
    assert lookup.socketmap_answer("domain", "example.org") == "NOTFOUND "
    assert lookup.socketmap_answer("mailbox", address_of(world.student_7a)) == "OK 1"
    assert lookup.socketmap_answer("mailbox", "klasse-7a@nord.kreide.test") == "NOTFOUND "
    assert lookup.socketmap_answer("alias", address_of(world.student_7a)) == "NOTFOUND "
    members = lookup.socketmap_answer("alias", "klasse-7b@nord.kreide.test")
    assert members == "OK " + ",".join(
        sorted([address_of(world.teacher_7b), address_of(world.student_7b)])
    )
    answer = lookup.policy_answer(
        {
            "sasl_username": address_of(world.student_7a),
            "sender": address_of(world.student_7a),
            "recipient": "klasse-7b@nord.kreide.test",
        }
    )
    assert answer.startswith("554 5.7.1")


def test_mail_config_writes_both_servers_configuration(tmp_path):
    from django.core.management import call_command

    call_command("mail_config", "--dir", str(tmp_path / "mail"), "--port-base", "31000")
    dovecot = (tmp_path / "mail/config/dovecot.conf").read_text()
    main_cf = (tmp_path / "mail/config/postfix/main.cf").read_text()
    assert "port = 31043" in dovecot
    assert "port = 31044" in dovecot  # the webmail's own
    assert "socketmap:inet:127.0.0.1:31030:alias" in main_cf
    assert "check_policy_service { inet:127.0.0.1:31031" in main_cf
    assert "PORT = 31032" in (tmp_path / "mail/config/kreide-auth.lua").read_text()


def test_kreides_own_mails_wait_in_the_outbox_without_mail_servers(settings, tmp_path):
    from django.core.mail import EmailMessage

    from kreide.mail.backends import LocalServerBackend

    settings.EMAIL_FILE_PATH = tmp_path / "outbox"
    message = EmailMessage("Passwort", "Link", "kreide@localhost", ["someone@example.org"])
    assert LocalServerBackend().send_messages([message]) == 1
    assert "Passwort" in next((tmp_path / "outbox").iterdir()).read_text()


def test_lookups_cost_a_bounded_number_of_queries(world, django_assert_max_num_queries):
    student = address_of(world.student_7a)
    with django_assert_max_num_queries(3):
        assert lookup.socketmap_answer("mailbox", student) == "OK 1"
    with django_assert_max_num_queries(4):
        lookup.socketmap_answer("alias", "klasse-7a@nord.kreide.test")
    with django_assert_max_num_queries(6):
        lookup.policy_answer(
            {"sasl_username": student, "sender": student, "recipient": address_of(world.student_7b)}
        )


@pytest.mark.parametrize("schools", [0, 1])
def test_dkim_domains_change_only_with_the_schools(schools, request, tmp_path):
    """`kreide mail-start` restarts OpenDKIM when they change: not on every round."""
    if schools:
        request.getfixturevalue("school")
    mail = process.layout(tmp_path / "mail", base=40000)
    mail.config_dir.mkdir(parents=True)
    assert process.write_dkim_domains(mail)
    assert not process.write_dkim_domains(mail)
