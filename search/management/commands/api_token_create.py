"""`manage.py api_token_create USERNAME [--name NAME]`: prints a new API key for the user (shown once)."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from search.teams import services


class Command(BaseCommand):
    help = "Creates an API token for a user and prints its key (only its hash is stored)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="created by manage.py api_token_create", help="what the key is for")

    def handle(self, *args, username: str, name: str, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        if not user.is_active:
            raise CommandError(f"User {username!r} is inactive; its tokens would be refused.")
        token, key = services.api_token_create(user=user, name=name)
        self.stderr.write(f"Token #{token.id} “{token.name}” for {username}; the key is printed once:")
        self.stdout.write(key)
