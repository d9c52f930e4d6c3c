"""The secretariat's yearly overview: figures, charts, CSV, access, query count."""

import csv
import io
import re
from datetime import date, datetime
from http import HTTPStatus
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.urls import reverse
from pytest_django.asserts import assertInHTML

from groups import services
from groups.models import ExpertGroup, Membership
from meetings import services as meeting_services
from portal.overview import CountryFigures, YearFigures, yearly_overview
from tests.conftest import make_secretariat
from tests.factories import UserFactory
from tests.groups.factories import add_member, make_group
from tests.helpers import count_queries
from tests.meetings.factories import make_meeting

pytestmark = pytest.mark.django_db

BRUSSELS = ZoneInfo("Europe/Brussels")
PAGES = ["secretariat_overview", "secretariat_overview_csv"]


def at(year, month, day, hour=10):
    """Freeze the clock at a wall-clock time in Brussels."""
    return time_machine.travel(datetime(year, month, day, hour, tzinfo=BRUSSELS), tick=False)


def local(year, month, day, hour=14):
    return datetime(year, month, day, hour, tzinfo=BRUSSELS)


def join(group, user, coordinator):
    membership = services.membership_request(
        actor=user, group=group, motivation="I work on this topic every day."
    )
    return services.membership_approve(actor=coordinator, membership=membership)


@pytest.fixture
def history(db):
    """Three years of the confederation, seen on 1 March 2026.

    - Group A: term 1 from 1 Feb 2024 to 1 Feb 2026 (expired since), coordinated by
      Anna (BE); Bram (NL) member from March 2024 until he leaves in June 2025.
    - Group B: from 1 June 2025, coordinated by Carla (PT); Anna, Ed (no country) and
      Finn (BE) are members.
    - Group C: proposed, its term starts in June 2026; Dora coordinates it.
    - Meetings: A in Feb 2024 (held), A in March 2024 (cancelled), B in June 2025
      (held), A in Jan 2026 (held), B in March 2026 (still to come).
    """
    staff = make_secretariat(UserFactory(full_name="Sam Secretariat"))
    anna = UserFactory(full_name="Anna", country="BE")
    bram = UserFactory(full_name="Bram", country="NL")
    carla = UserFactory(full_name="Carla", country="PT")
    dora = UserFactory(full_name="Dora", country="FI")
    ed = UserFactory(full_name="Ed", country="")
    finn = UserFactory(full_name="Finn", country="BE")
    with at(2024, 2, 1):
        a = make_group(slug="a", start=date(2024, 2, 1), coordinators=[anna], actor=staff)
        make_meeting(a, actor=anna, starts_at=local(2024, 2, 8))
        cancelled = make_meeting(a, actor=anna, starts_at=local(2024, 3, 7))
    with at(2024, 3, 1):
        join(a, bram, anna)
        meeting_services.meeting_cancel(actor=anna, meeting=cancelled, reason="Nobody can come.")
    with at(2025, 6, 1):
        b = make_group(slug="b", start=date(2025, 6, 1), coordinators=[carla], actor=staff)
        for person in (anna, ed, finn):
            join(b, person, carla)
        services.membership_leave(actor=bram, group=a)
        make_meeting(b, actor=carla, starts_at=local(2025, 6, 10))
    with at(2026, 1, 10):
        make_meeting(a, actor=anna, starts_at=local(2026, 1, 25))
    with at(2026, 2, 25):
        make_group(slug="c", start=date(2026, 6, 1), coordinators=[dora], actor=staff)
        make_meeting(b, actor=carla, starts_at=local(2026, 3, 10))
    return {"staff": staff}


@pytest.fixture
def staff_client(client, history):
    client.force_login(history["staff"])
    return client


def test_the_overview_counts_groups_meetings_and_members_per_year(history):
    with at(2026, 3, 1):
        overview = yearly_overview()
    assert overview.as_of == date(2026, 3, 1)
    assert overview.years == [
        # A alone; one meeting held (the other was cancelled); Anna and Bram.
        YearFigures(2024, groups_active=1, meetings_held=1, active_members=2),
        # A and B; B's meeting; Anna (in both groups, counted once), Bram, Carla, Ed, Finn.
        YearFigures(2025, groups_active=2, meetings_held=1, active_members=5),
        # A until 1 February, B; C has not started; the March meeting has not happened.
        YearFigures(2026, groups_active=2, meetings_held=1, active_members=4),
    ]


def test_members_per_country_counts_people_in_working_groups_once(history):
    with at(2026, 3, 1):
        overview = yearly_overview()
    # Only B works today: A has expired, C has not started. Anna is in A and B.
    assert overview.countries == [
        CountryFigures("BE", "Belgium", 2),
        CountryFigures("PT", "Portugal", 1),
        CountryFigures("unknown", "Unknown", 1),
    ]
    assert overview.total_current_members == 4


def test_archived_groups_and_people_who_left_are_not_current_members(history):
    with at(2026, 3, 1):
        b = ExpertGroup.objects.get(slug="b")
        finn = Membership.objects.get(group=b, user__full_name="Finn").user
        services.membership_leave(actor=finn, group=b)
        assert [(c.code, c.members) for c in yearly_overview().countries] == [
            ("BE", 1),
            ("PT", 1),
            ("unknown", 1),
        ]
        staff = make_secretariat(UserFactory())
        services.group_close(actor=staff, group=b, reason="Work done.")
    with at(2026, 3, 5):
        services.group_archive(actor=staff, group=ExpertGroup.objects.get(slug="b"))
        assert yearly_overview().countries == []


def test_an_empty_portal_has_no_years_and_no_countries():
    overview = yearly_overview()
    assert overview.years == [] and overview.countries == []


def test_the_page_shows_each_figure_as_a_chart_and_in_a_table(staff_client):
    with at(2026, 3, 1):
        response = staff_client.get(reverse("secretariat_overview"))
    assert response.status_code == HTTPStatus.OK
    html = response.content.decode()
    charts = re.findall(r"<svg\b[^>]*>", html)
    assert len(charts) == 4
    assert all('role="img"' in svg and "aria-labelledby=" in svg for svg in charts)
    for chart_id, title in [
        ("chart-groups", "Groups active per year"),
        ("chart-meetings", "Meetings held per year"),
        ("chart-members", "Active members per year"),
        ("chart-countries", "Members per country today"),
    ]:
        assertInHTML(f'<title id="{chart_id}-title">{title}</title>', html)
    assertInHTML('<desc id="chart-members-desc">2024: 2; 2025: 5; 2026: 4</desc>', html, count=1)
    assertInHTML('<desc id="chart-countries-desc">Belgium: 2; Portugal: 1; Unknown: 1</desc>', html)
    # The same figures, in tables a screen reader can walk.
    assertInHTML('<tr><th scope="row">2025</th><td>2</td><td>1</td><td>5</td></tr>', html, count=1)
    assertInHTML('<tr><th scope="row">Belgium</th><td>2</td></tr>', html, count=1)
    assertInHTML('<tr><th scope="row">Unknown</th><td>1</td></tr>', html, count=1)
    assertInHTML('<tr><th scope="row">All countries</th><td>4</td></tr>', html, count=1)


def test_the_longest_bar_fills_the_chart_and_the_others_are_in_proportion(staff_client):
    with at(2026, 3, 1):
        html = staff_client.get(reverse("secretariat_overview")).content.decode()
    chart = html[html.index('id="chart-members-desc"') :]
    chart = chart[: chart.index("</svg>")]
    widths = [int(w) for w in re.findall(r'<rect class="chart-bar"[^>]*width="(\d+)"', chart)]
    assert len(widths) == 3
    longest = max(widths)
    assert widths.index(longest) == 1  # 2025: 5 members
    assert widths[0] == round(longest * 2 / 5) and widths[2] == round(longest * 4 / 5)


def test_the_page_obeys_the_content_security_policy(staff_client, settings):
    with at(2026, 3, 1):
        response = staff_client.get(reverse("secretariat_overview"))
    html = response.content.decode()
    # No inline styles (the CSP has no 'unsafe-inline' for styles) and no scripts of its own.
    assert "style=" not in html and "<style" not in html
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    assert "<script" not in html.split("<main", 1)[1]


def test_the_charts_stay_valid_svg_in_every_language(history, client):
    staff = history["staff"]
    staff.language = "fr"
    staff.save()
    client.force_login(staff)
    with at(2026, 3, 1):
        html = client.get(reverse("secretariat_overview")).content.decode()
    svg = html[html.index("<svg") : html.index("</svg>")]
    assert not re.search(r'="[^"]*\d,\d', svg), "numbers in SVG attributes are not localised"
    assert 'lang="fr"' in html


def test_an_empty_overview_says_so(secretariat_client):
    html = secretariat_client.get(reverse("secretariat_overview")).content.decode()
    assert "No mandate has started yet." in html
    assert "No group has members today." in html
    assert "<svg" not in html


def test_the_overview_downloads_as_csv(staff_client):
    with at(2026, 3, 1):
        response = staff_client.get(reverse("secretariat_overview_csv"))
        raw = b"".join(response.streaming_content)
    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="overview-2026-03-01.csv"'
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert list(rows[0]) == ["figure", "year", "country", "country_name", "value", "as_of"]
    assert {r["as_of"] for r in rows} == {"2026-03-01"}
    yearly = {(r["figure"], r["year"]): r["value"] for r in rows if r["year"]}
    assert yearly == {
        ("groups_active", "2024"): "1",
        ("meetings_held", "2024"): "1",
        ("active_members", "2024"): "2",
        ("groups_active", "2025"): "2",
        ("meetings_held", "2025"): "1",
        ("active_members", "2025"): "5",
        ("groups_active", "2026"): "2",
        ("meetings_held", "2026"): "1",
        ("active_members", "2026"): "4",
    }
    countries = [
        (r["country"], r["country_name"], r["value"])
        for r in rows
        if r["figure"] == "members_by_country"
    ]
    assert countries == [
        ("BE", "Belgium", "2"),
        ("PT", "Portugal", "1"),
        ("unknown", "Unknown", "1"),
    ]


@pytest.mark.parametrize("name", PAGES)
def test_the_overview_needs_a_constant_number_of_queries(client, name):
    staff = make_secretariat(UserFactory())
    client.force_login(staff)

    def add_groups(n):
        with at(2025, 3, 1):
            for _ in range(n):
                group = make_group(actor=staff)
                add_member(group, UserFactory(country="FR"))
                make_meeting(group, starts_at=local(2025, 3, 8))

    def fetch():
        with at(2025, 4, 1):
            response = client.get(reverse(name))
            assert response.status_code == HTTPStatus.OK
            if response.streaming:
                b"".join(response.streaming_content)
            else:
                assert response.content

    add_groups(3)
    fetch()  # warm the session and content type caches
    few = count_queries(fetch)
    add_groups(27)
    assert ExpertGroup.objects.count() == 30
    assert count_queries(fetch) == few
    with at(2025, 4, 1):
        assert yearly_overview().years[-1] == YearFigures(
            2025, groups_active=30, meetings_held=30, active_members=60
        )


# --- Who may see it --------------------------------------------------------


@pytest.mark.parametrize("name", PAGES)
def test_an_anonymous_visitor_is_sent_to_sign_in(client, name):
    response = client.get(reverse(name))
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"].startswith(reverse(settings.LOGIN_URL))


@pytest.mark.parametrize("name", PAGES)
@pytest.mark.parametrize("role", [Membership.Role.MEMBER, Membership.Role.COORDINATOR])
def test_members_and_coordinators_are_refused(client, name, role):
    group = make_group()
    client.force_login(add_member(group, role=role))
    assert client.get(reverse(name)).status_code == HTTPStatus.FORBIDDEN


@pytest.mark.parametrize("name", PAGES)
def test_secretariat_without_two_factor_is_sent_to_enrol(client, name):
    client.force_login(make_secretariat(UserFactory(), with_mfa=False))
    response = client.get(reverse(name))
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == reverse("mfa_activate_totp")


@pytest.mark.parametrize("name", PAGES)
def test_secretariat_with_two_factor_sees_the_overview(secretariat_client, name):
    assert secretariat_client.get(reverse(name)).status_code == HTTPStatus.OK


def test_the_overview_links_back_and_to_its_csv(secretariat_client):
    html = secretariat_client.get(reverse("secretariat_overview")).content.decode()
    assert f'href="{reverse("secretariat_overview_csv")}"' in html
    assert f'href="{reverse("groups:secretariat_dashboard")}"' in html


def test_the_current_year_counts_only_up_to_today(history):
    # On 1 January 2026 nothing of 2026 has happened yet, beyond the groups in force.
    with at(2026, 1, 1):
        overview = yearly_overview()
    assert overview.years[-1] == YearFigures(
        2026, groups_active=2, meetings_held=0, active_members=4
    )
