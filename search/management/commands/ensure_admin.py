"""First run: when the site has no user yet, create an admin (site staff + admin of a first team) and
print how to log in. Does nothing once any user exists, so `make run` can call it every time."""

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from isc_site.web_address import login_url as address_login_url
from search.teams import services as teams_services


class Command(BaseCommand):
    help = "Create a first admin and team when no user exists, and print the login."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument("--team", default="Trust & Safety", help="Name of the first team.")
        parser.add_argument(
            "--url",
            default=None,
            help="Where the site answers (default: from ISC_WEB_ADDRESS, as `make run` serves it).",
        )

    def handle(self, *args, username, team, url, **options):
        login_url = url.rstrip("/") + "/accounts/login/" if url else address_login_url(settings.ISC.web_address)
        User = get_user_model()
        if User.objects.filter(is_active=True).exists():
            self.stdout.write(f"Users exist already; no admin created. Log in at {login_url}")
            return
        password = secrets.token_urlsafe(12)
        with transaction.atomic():
            admin = User.objects.create_superuser(username=username, password=password, email="")
            first_team = teams_services.team_create(name=team, creator=admin)
        self.stdout.write(
            self.style.SUCCESS(
                f"Created the first admin, team “{first_team.name}”.\n"
                f"  Log in at {login_url}\n  username: {admin.get_username()}\n  password: {password}\n"
                "  (shown once; change it in the admin site, /admin/password_change/)"
            )
        )
