import factory
from django.contrib.auth import get_user_model

from search.models import Collection


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"moderator{n}")
    password = factory.PostGenerationMethodCall("set_password", "correct horse battery")


class CollectionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Collection

    owner = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"Known images {n}")
    match_threshold = 0.5
