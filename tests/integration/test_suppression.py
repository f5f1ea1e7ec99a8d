"""The suppression list: by email and by domain, any case, honoured by import and forms."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from leads.models import Suppression
from leads.services import LeadRefused
from leads.suppression import (
    is_suppressed,
    suppress_email,
    suppressed_among,
    suppression_check,
)


def test_an_email_on_the_list_is_suppressed_in_any_case(db):
    suppress_email("Gone@Example.com", "unsubscribed")

    assert is_suppressed("gone@example.com")
    assert is_suppressed(" GONE@EXAMPLE.COM ")
    assert not is_suppressed("other@example.com")
    assert not is_suppressed("")


def test_a_domain_on_the_list_suppresses_every_address_at_it(db):
    Suppression.objects.create(domain="competitor.example", reason="competitor")

    assert is_suppressed("spy@Competitor.Example")
    assert not is_suppressed("spy@sub.competitor.example")  # exactly that domain


def test_suppressed_among_answers_for_many_emails_in_one_query(db, django_assert_num_queries):
    suppress_email("a@example.com", "bounced")
    Suppression.objects.create(domain="blocked.example")

    with django_assert_num_queries(1):
        hits = suppressed_among(["A@example.com", "b@example.com", "c@blocked.example"])

    assert hits == {"a@example.com", "c@blocked.example"}


def test_suppress_email_is_idempotent_and_keeps_the_first_reason(db):
    first = suppress_email("a@example.com", "unsubscribed")
    again = suppress_email("A@example.com", "bounced")

    assert again.pk == first.pk
    assert Suppression.objects.get().reason == "unsubscribed"


def test_suppression_check_refuses_like_bad_input_naming_the_email_field(db):
    suppress_email("a@example.com", "unsubscribed")

    with pytest.raises(LeadRefused) as caught:
        suppression_check("a@example.com")

    assert "email" in caught.value.fields
    suppression_check("b@example.com")  # not suppressed: no error


def test_an_entry_holds_an_email_or_a_domain_never_both_nor_neither(db):
    with pytest.raises(ValidationError):
        Suppression(email="a@example.com", domain="example.com").full_clean()
    with pytest.raises(ValidationError):
        Suppression().full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        Suppression.objects.create()


def test_an_entry_made_in_admin_is_stored_lower_case(db):
    entry = Suppression(email=" Gone@Example.COM ")
    entry.full_clean()
    entry.save()

    assert Suppression.objects.get().email == "gone@example.com"
    assert is_suppressed("gone@example.com")


def test_the_same_email_cannot_be_listed_twice(db):
    Suppression.objects.create(email="a@example.com")

    with pytest.raises(IntegrityError), transaction.atomic():
        Suppression.objects.create(email="a@example.com")
