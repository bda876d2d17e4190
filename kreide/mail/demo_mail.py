"""Mail in the demo school's mailboxes, sent once by `kreide mail-start` when the servers
first run (`kreide seed-demo` runs before them). Sent through the real submission port
as the demo accounts, so it is ordinary mail under the school's sending policy."""

from __future__ import annotations

from kreide.accounts.models import User
from kreide.mail import process, webmail
from kreide.mail.services import address_of, group_local_part, school_domain
from kreide.schools.demo import DEMO_SLUG
from kreide.schools.models import Group, Membership, School


def deliver_once(mail: process.MailLayout) -> int:
    """Send the demo mails unless they were sent before; how many were sent."""
    marker = mail.root / "demo-mail-sent"
    school = School.objects.filter(slug=DEMO_SLUG).first()
    if marker.exists() or school is None:
        return 0
    users = User.objects.for_school(school).filter(is_active=True)
    office = users.filter(role=User.Role.SCHOOL_ADMIN).order_by("username").first()
    domain = school_domain(school)
    sent = 0
    if office is not None:
        webmail.send(
            office,
            webmail.Draft(
                [f"lehrkraefte@{domain}"],
                [],
                "Willkommen im neuen Schuljahr",
                "Liebe Kolleginnen und Kollegen,\n\ndie Konferenz beginnt um 14 Uhr im "
                "Lehrerzimmer.\n\nIhr Sekretariat",
            ),
        )
        sent += 1
    for group in Group.objects.for_school(school).filter(kind=Group.Kind.CLASS)[:3]:
        memberships = Membership.objects.for_school(school).filter(group=group)
        teacher = users.filter(
            pk__in=memberships.filter(role=Membership.Role.TEACHER).values("user")
        ).first()
        student = users.filter(
            pk__in=memberships.filter(role=Membership.Role.MEMBER).values("user")
        ).first()
        if teacher is None or student is None:
            continue
        webmail.send(
            teacher,
            webmail.Draft(
                [f"{group_local_part(group)}@{domain}"],
                [],
                f"Klasse {group.name}: Wandertag am Freitag",
                "Hallo zusammen,\n\nam Freitag treffen wir uns um 8 Uhr am Haupteingang.\n\n"
                f"{teacher.get_full_name()}",
            ),
        )
        webmail.send(
            student,
            webmail.Draft(
                [address_of(teacher)],
                [],
                "Frage zum Wandertag",
                f"Hallo, brauchen wir am Freitag Geld für den Bus?\n\n{student.get_full_name()}",
            ),
        )
        sent += 2
    marker.write_text(f"{sent}\n")
    return sent
