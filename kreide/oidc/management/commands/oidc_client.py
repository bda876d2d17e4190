"""`kreide oidc-client add|list|revoke`: the tools that sign in through Kreide."""

from django.core.management.base import BaseCommand, CommandError

from kreide.core.errors import Refusal
from kreide.oidc import services
from kreide.schools.models import School


class Command(BaseCommand):
    help = "Register, list or revoke a school's OpenID Connect clients (docs/sso.md)."

    def add_arguments(self, parser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        add = actions.add_parser("add", help="register a client; prints its id and secret")
        add.add_argument("--school", required=True, help="school slug")
        add.add_argument("--name", required=True)
        add.add_argument("--redirect-uri", action="append", required=True, dest="redirect_uris")
        add.add_argument("--post-logout-uri", action="append", default=[], dest="logout_uris")
        add.add_argument(
            "--without-pkce",
            action="store_true",
            help="for tools that cannot send a PKCE code challenge (Moodle)",
        )
        listing = actions.add_parser("list")
        listing.add_argument("--school", required=True)
        revoke = actions.add_parser("revoke")
        revoke.add_argument("--school", required=True)
        revoke.add_argument("client_id")

    def handle(self, *args, action: str, school: str, **options) -> None:
        found = School.objects.filter(slug=school).first()
        if found is None:
            raise CommandError(f"No school with the short name {school!r}.")
        try:
            getattr(self, f"_{action}")(found, **options)
        except Refusal as refusal:
            raise CommandError(str(refusal.message)) from refusal

    def _add(self, school, *, name, redirect_uris, logout_uris, without_pkce, **_) -> None:
        client, secret = services.add_client(
            school,
            name,
            redirect_uris,
            require_pkce=not without_pkce,
            post_logout_redirect_uris=logout_uris,
        )
        self.stdout.write(f"client_id: {client.client_id}\nclient_secret: {secret}")

    def _list(self, school, **_) -> None:
        for client in services.clients_of(school):
            self.stdout.write(f"{client.client_id}\t{client.name}\t{client.redirect_uris}")

    def _revoke(self, school, *, client_id, **_) -> None:
        client = services.clients_of(school).filter(client_id=client_id).first()
        if client is None:
            raise CommandError(f"No client {client_id!r} at this school.")
        services.revoke_client(school, client.pk)
        self.stdout.write(f"revoked: {client.name}")
