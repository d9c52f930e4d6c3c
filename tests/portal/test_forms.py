"""portal.forms.Select writes the same HTML as Django's template-rendered select."""

import pytest
from django import forms
from django.test.html import parse_html

from portal.forms import Select

CHOICES = [
    ("", "Anyone"),
    ("a", "Ana <Lima> & co"),
    ("b", 'Ben "Okafor"'),
    ("Kinds", [("k1", "First"), ("k2", "Second")]),
    (3, "Three"),
]


@pytest.mark.parametrize(
    ("value", "attrs"),
    [
        (None, None),
        ("b", {"id": "id_who", "aria-describedby": "id_who_help"}),
        ("k2", {"required": True, "disabled": False, "class": "wide"}),
        (3, {"id": "x"}),
        ("<script>", None),
    ],
)
def test_the_select_is_the_same_html_as_djangos(value, attrs):
    ours = Select(choices=CHOICES).render("who", value, attrs)
    django = forms.Select(choices=CHOICES).render("who", value, attrs)
    assert parse_html(ours) == parse_html(django)


def test_labels_and_values_are_escaped():
    html = Select(choices=[('"><script>', "<b>bold</b>")]).render("who", None)
    assert "<script>" not in html and "<b>" not in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html
    assert 'value="&quot;&gt;&lt;script&gt;"' in html


def test_a_multiple_select_keeps_every_chosen_value():
    class Multiple(Select):
        allow_multiple_selected = True

    ours = Multiple(choices=CHOICES, attrs={"multiple": True}).render("who", ["a", "k1"])
    django = forms.SelectMultiple(choices=CHOICES).render("who", ["a", "k1"])
    assert parse_html(ours) == parse_html(django)
    assert ours.count("selected") == 2
