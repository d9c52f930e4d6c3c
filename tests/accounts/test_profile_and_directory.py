from datetime import UTC, datetime
from http import HTTPStatus

import pytest
import time_machine
from django.urls import reverse

from accounts.models import BIO_MAX_LENGTH
from tests.factories import ExpertiseAreaFactory, UserFactory
from tests.helpers import assert_queries_do_not_grow

pytestmark = pytest.mark.django_db


def profile_data(**changes):
    data = {
        "full_name": "Ada Example",
        "organisation": "Probation Service",
        "country": "FI",
        "jurisdiction": "",
        "languages": ["fi", "en"],
        "timezone": "Europe/Helsinki",
        "language": "en",
        "bio": "Works with foreign nationals.",
        "directory_visible": "on",
    }
    data.update(changes)
    return data


def test_profile_edit_saves_every_field(auth_client, user):
    area = ExpertiseAreaFactory(name="Mental health", slug="mental-health")
    response = auth_client.post(reverse("accounts:profile_edit"), profile_data(expertise=[area.pk]))
    assert response.status_code == HTTPStatus.FOUND
    user.refresh_from_db()
    assert user.full_name == "Ada Example"
    assert user.country == "FI"
    assert user.languages == ["fi", "en"]
    assert user.timezone == "Europe/Helsinki"
    assert list(user.expertise.all()) == [area]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"timezone": "Europe/Atlantis"}, "timezone"),
        ({"country": "ZZ"}, "country"),
        ({"bio": "b" * (BIO_MAX_LENGTH + 1)}, "bio"),
        ({"languages": ["xx-klingon"]}, "languages"),
    ],
)
def test_profile_edit_with_bad_input_changes_nothing(auth_client, user, change, field):
    before = user.full_name
    response = auth_client.post(
        reverse("accounts:profile_edit"), profile_data(full_name="Changed", **change)
    )
    assert response.status_code == HTTPStatus.OK
    assert field in response.context["form"].errors
    user.refresh_from_db()
    assert user.full_name == before


def test_directory_search_by_name_country_and_expertise(auth_client):
    area = ExpertiseAreaFactory(name="Electronic monitoring", slug="electronic-monitoring")
    match = UserFactory(full_name="Marta Monitoring", country="PT")
    match.expertise.add(area)
    UserFactory(full_name="Marta Elsewhere", country="DE")
    UserFactory(full_name="Hidden Marta", country="PT", directory_visible=False)

    def names(**params):
        response = auth_client.get(reverse("accounts:directory"), params)
        assert response.status_code == HTTPStatus.OK
        return {u.full_name for u in response.context["page"]}

    assert names(q="Marta") == {"Marta Monitoring", "Marta Elsewhere"}
    assert names(q="Marta", country="PT") == {"Marta Monitoring"}
    assert names(expertise="electronic-monitoring") == {"Marta Monitoring"}


def test_hidden_profiles_are_not_reachable_by_others(auth_client):
    hidden = UserFactory(directory_visible=False)
    url = reverse("accounts:expert_detail", args=[hidden.pk])
    assert auth_client.get(url).status_code == HTTPStatus.NOT_FOUND


def test_user_sees_own_hidden_profile(client):
    me = UserFactory(directory_visible=False)
    client.force_login(me)
    assert client.get(reverse("accounts:expert_detail", args=[me.pk])).status_code == 200


def test_directory_is_paginated(auth_client, settings):
    settings.DIRECTORY_PAGE_SIZE = 5
    UserFactory.create_batch(12)
    response = auth_client.get(reverse("accounts:directory"))
    page = response.context["page"]
    assert len(page.object_list) == 5
    assert page.paginator.num_pages == 3  # 12 + the signed-in user = 13
    response = auth_client.get(reverse("accounts:directory"), {"page": 3})
    assert len(response.context["page"].object_list) == 3


def test_directory_queries_do_not_grow_with_experts(auth_client):
    area = ExpertiseAreaFactory()

    def grow():
        for user in UserFactory.create_batch(5):
            user.expertise.add(area)

    assert_queries_do_not_grow(lambda: auth_client.get(reverse("accounts:directory")), grow)


def test_directory_search_by_organisation(auth_client):
    UserFactory(full_name="Pia Portugal", organisation="Direção-Geral de Reinserção")
    UserFactory(full_name="Rui Reinserção", organisation="Probation Service of Flanders")
    UserFactory(full_name="Ola Other", organisation="Kriminalomsorgen")
    UserFactory(full_name="Hidden Hans", organisation="Direção-Geral", directory_visible=False)

    def names(q):
        response = auth_client.get(reverse("accounts:directory"), {"q": q})
        assert response.status_code == HTTPStatus.OK
        return {u.full_name for u in response.context["page"]}

    assert names("direção-geral") == {"Pia Portugal"}  # case does not matter
    assert names("Probation Service of") == {"Rui Reinserção"}
    assert names("Kriminalomsorgen") == {"Ola Other"}
    assert names("No such organisation") == set()


@pytest.mark.parametrize(
    ("zone", "shown"),
    [
        ("UTC", "Jan. 15, 2026, 12:30 p.m."),
        ("Europe/Helsinki", "Jan. 15, 2026, 2:30 p.m."),  # UTC+2 in winter
        ("America/New_York", "Jan. 15, 2026, 7:30 a.m."),  # UTC-5
        ("Asia/Tokyo", "Jan. 15, 2026, 9:30 p.m."),  # UTC+9
    ],
)
def test_a_date_is_shown_in_the_time_zone_of_the_person_reading(client, zone, shown):
    from accounts.personal_data import personal_export_request

    reader = UserFactory(timezone=zone, language="en")
    with time_machine.travel(datetime(2026, 1, 15, 12, 30, tzinfo=UTC), tick=False):
        personal_export_request(actor=reader)
    client.force_login(reader)
    page = client.get(reverse("accounts:my_data")).content.decode()
    assert shown in page
    if zone != "UTC":
        assert "12:30 p.m." not in page
    assert f"Times are shown in {zone}." in page


def test_an_expertise_id_past_64_bits_is_an_invalid_choice(auth_client, user):
    """Found by tests/hostile: SQLite raised OverflowError on it (a 500)."""
    response = auth_client.post(
        reverse("accounts:profile_edit"), profile_data(full_name="Changed", expertise=[str(2**63)])
    )
    assert response.status_code == HTTPStatus.OK
    assert "expertise" in response.context["form"].errors
    user.refresh_from_db()
    assert user.full_name != "Changed"
