import factory
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from search.collection.models import Collection
from search.teams import services as teams_services
from search.teams.models import Membership, Role, Team


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"moderator{n}")
    password = factory.PostGenerationMethodCall("set_password", "correct horse battery")


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    name = factory.Sequence(lambda n: f"Team {n}")
    slug = factory.Sequence(lambda n: f"team-{n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    team = factory.SubFactory(TeamFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.ADMIN


class CollectionFactory(factory.django.DjangoModelFactory):
    """A collection in its own team, made by an admin of that team (`created_by`), unless told otherwise."""

    class Meta:
        model = Collection

    team = factory.SubFactory(TeamFactory)
    created_by = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"Known images {n}")
    match_threshold = 0.5

    @factory.post_generation
    def creator_membership(collection, create, extracted, **kwargs):
        if create and collection.created_by is not None:
            Membership.objects.get_or_create(
                team=collection.team, user=collection.created_by, defaults={"role": Role.ADMIN}
            )


def team_with(user, role: Role = Role.ADMIN, **team_fields) -> Team:
    """A new team in which `user` has `role`."""
    return MembershipFactory(user=user, role=role, team=TeamFactory(**team_fields)).team


def collection_for(user, role: Role = Role.ADMIN, **fields) -> Collection:
    """A collection of a new team in which `user` has `role` (its creator is another admin)."""
    collection = CollectionFactory(**fields)
    Membership.objects.update_or_create(team=collection.team, user=user, defaults={"role": role})
    return collection


def token_client(user) -> APIClient:
    """An API client authenticated as `user` with a real token."""
    _, key = teams_services.api_token_create(user=user, name="tests")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client
