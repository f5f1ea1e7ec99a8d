"""factory-boy factories for the domain. Build realistic defaults; override in tests."""

from __future__ import annotations

import datetime as dt

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from cadences.models import Cadence, Enrolment, Step, Task
from leads.models import Account, Asset, Lead, RepProfile, Signal, Touch


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.PostGenerationMethodCall("set_password", "pw-for-tests-1")

    @factory.post_generation
    def groups(self, create: bool, extracted: list[str] | None, **kwargs: object) -> None:
        if create:
            _add_groups(self, extracted or [])
        self.save()  # persist the password set by the post-generation call above


def _add_groups(user: object, names: list[str]) -> None:
    for name in names:
        # get_or_create: transactional tests flush the groups the migration made.
        user.groups.add(Group.objects.get_or_create(name=name)[0])


class RepFactory(UserFactory):
    @factory.post_generation
    def groups(self, create: bool, extracted: list[str] | None, **kwargs: object) -> None:
        if create:
            _add_groups(self, ["reps", *(extracted or [])])
            self.save()  # persist the password, as UserFactory.groups does

    @factory.post_generation
    def profile(self, create: bool, extracted: dict | None, **kwargs: object) -> None:
        if create:
            RepProfile.objects.update_or_create(
                user=self, defaults={"timezone": "UTC", **(extracted or {}), **kwargs}
            )


class ManagerFactory(UserFactory):
    is_staff = True

    @factory.post_generation
    def groups(self, create: bool, extracted: list[str] | None, **kwargs: object) -> None:
        if create:
            _add_groups(self, ["managers", *(extracted or [])])
            self.save()  # persist the password, as UserFactory.groups does


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account

    name = factory.Sequence(lambda n: f"Company {n}")
    domain = factory.LazyAttribute(lambda a: f"{a.name.lower().replace(' ', '')}.example")


class LeadFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lead

    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.Sequence(lambda n: f"lead{n}@example.com")
    phone = factory.Sequence(lambda n: f"+1555{n:07d}")
    owner = factory.SubFactory(RepFactory)
    timezone = "UTC"


class CadenceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Cadence
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Cadence {n}")
    is_active = True
    business_days_only = True
    min_gap_hours = 20


class StepFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Step

    cadence = factory.SubFactory(CadenceFactory)
    position = factory.Sequence(lambda n: n + 1)
    channel = "call"
    mode = "manual"
    wait_days = 0
    window_start = dt.time(9, 0)
    window_end = dt.time(17, 0)


class EnrolmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Enrolment

    lead = factory.SubFactory(LeadFactory)
    cadence = factory.SubFactory(CadenceFactory)
    owner = factory.LazyAttribute(lambda e: e.lead.owner)


class TaskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Task

    lead = factory.SubFactory(LeadFactory)
    rep = factory.LazyAttribute(lambda t: t.lead.owner)
    channel = "call"
    kind = "step"
    due_at = factory.LazyFunction(timezone.now)


class TouchFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Touch

    lead = factory.SubFactory(LeadFactory)
    rep = factory.LazyAttribute(lambda t: t.lead.owner)
    channel = "call"
    outcome = "no_answer"
    occurred_at = factory.LazyFunction(timezone.now)


class SignalFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Signal

    lead = factory.SubFactory(LeadFactory)
    kind = "pricing_page_visit"


class AssetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Asset

    title = factory.Sequence(lambda n: f"Case study {n}")
    url = factory.Sequence(lambda n: f"https://example.com/assets/{n}")
    for_consideration = True
