"""A visitor and a signed-in user switch the portal to French and to German."""

import pytest
from playwright.sync_api import expect

from accounts.models import User
from tests.factories import UserFactory

from .test_documents import sign_in_as

pytestmark = pytest.mark.e2e


def switch_to(page, code: str, button: str) -> None:
    page.locator("#lang-select").select_option(code)
    page.locator(".lang-switch button").click()
    expect(page.locator(".lang-switch button")).to_have_text(button)


def test_pages_are_translated_into_french_and_german_and_the_choice_is_kept(page, live_server):
    page.goto("/accounts/login/")
    expect(page.locator("html")).to_have_attribute("lang", "en")

    switch_to(page, "fr", "Modifier")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_role("button", name="Se connecter")).to_be_visible()

    switch_to(page, "de", "Ändern")
    expect(page.locator("html")).to_have_attribute("lang", "de")
    expect(page.get_by_role("button", name="Anmelden")).to_be_visible()

    user = UserFactory(full_name="Lena Weber", language="en")
    sign_in_as(page, live_server, user)
    page.goto("/dashboard/")
    switch_to(page, "fr", "Modifier")
    expect(page.get_by_role("link", name="Tableau de bord")).to_be_visible()
    assert User.objects.get(pk=user.pk).language == "fr"  # remembered for e-mails too

    switch_to(page, "de", "Ändern")
    expect(page.get_by_role("link", name="Übersicht")).to_be_visible()
    page.goto("/people/profile/")
    expect(page.get_by_role("link", name="Profil bearbeiten")).to_be_visible()
    assert User.objects.get(pk=user.pk).language == "de"
