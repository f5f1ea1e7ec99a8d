"""The rep's settings page: time zone, capacities, calendar URL, API tokens."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse

from leads.models import ApiToken, RepProfile
from leads.services import api_token_create, hash_api_key


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def settings_of(**fields) -> dict[str, object]:
    return {"timezone": "Europe/Berlin", "holiday_country": "", "call_capacity": 50,
            "email_capacity": 50, "signature": "", "booking_url": "", **fields}  # fmt: skip


def test_profile_page_shows_my_feed_url(rep):
    response = logged_in(rep).get(reverse("leads-profile"))
    token = RepProfile.objects.get(user=rep).calendar_token
    assert response.status_code == 200
    assert f"http://testserver/leads/calendar/{token}.ics" in response.content.decode()


def test_profile_page_makes_a_profile_for_someone_without_one(manager):
    assert logged_in(manager).get(reverse("leads-profile")).status_code == 200
    assert RepProfile.objects.get(user=manager).calendar_token


def test_profile_page_needs_a_login():
    response = Client().get(reverse("leads-profile"))
    assert response.status_code == 302


def test_rep_changes_their_time_zone_but_not_their_capacity(rep):
    response = logged_in(rep).post(
        reverse("leads-profile"), settings_of(call_capacity=500, email_capacity=500)
    )
    assert response.status_code == 302
    profile = RepProfile.objects.get(user=rep)
    assert profile.timezone == "Europe/Berlin"
    assert (profile.call_capacity, profile.email_capacity) == (50, 50)


def test_capacities_show_read_only_to_a_rep(rep):
    page = logged_in(rep).get(reverse("leads-profile")).content.decode()
    assert "set by your manager" in page
    assert 'name="call_capacity"' in page and "disabled" in page


def test_manager_sets_their_capacity(manager):
    logged_in(manager).post(reverse("leads-profile"), settings_of(call_capacity=80))
    assert RepProfile.objects.get(user=manager).call_capacity == 80


def test_bad_settings_change_nothing(rep):
    response = logged_in(rep).post(
        reverse("leads-profile"),
        settings_of(timezone="Nowhere/Land", holiday_country="ZZ", booking_url="not a url"),
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "is not an IANA time zone" in page
    assert "&#x27;ZZ&#x27; is not a known country code." in page
    assert "Enter a valid URL." in page
    assert RepProfile.objects.get(user=rep).timezone == "America/New_York"


def test_creating_a_token_shows_its_key_once(rep):
    client = logged_in(rep)
    response = client.post(reverse("leads-token-create"), {"name": "dialer"})
    key = response.context["new_key"]
    token = ApiToken.objects.get(user=rep)
    assert token.key_hash == hash_api_key(key)
    assert key in response.content.decode()
    assert "no-store" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
    later = client.get(reverse("leads-profile")).content.decode()
    assert key not in later
    assert token.prefix in later and "dialer" in later


def test_an_overlong_token_name_creates_nothing(rep):
    response = logged_in(rep).post(reverse("leads-token-create"), {"name": "n" * 300})
    assert "at most 100 characters" in response.content.decode()
    assert not ApiToken.objects.exists()


def test_revoking_a_token_removes_it_from_the_list(rep):
    token, _ = api_token_create(user=rep, name="old")
    client = logged_in(rep)
    response = client.post(reverse("leads-token-revoke", args=[token.pk]), follow=True)
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert f"Token {token.prefix}… revoked." in response.content.decode()
    assert response.context["tokens"].count() == 0


def test_a_rep_cannot_revoke_someone_elses_token(rep, teammate):
    token, _ = api_token_create(user=teammate)
    response = logged_in(rep).post(reverse("leads-token-revoke", args=[token.pk]))
    assert response.status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_the_profile_forms_need_post_and_csrf(rep):
    client = Client(enforce_csrf_checks=True)
    client.force_login(rep)
    assert client.post(reverse("leads-token-create"), {"name": "x"}).status_code == 403
    assert client.post(reverse("leads-calendar-regenerate")).status_code == 403
    assert client.get(reverse("leads-calendar-regenerate")).status_code == 405
    assert not ApiToken.objects.exists()
