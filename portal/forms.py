from collections.abc import Iterable

from django import forms
from django.core.exceptions import ValidationError
from django.db import connections, models
from django.forms.models import ModelChoiceIterator
from django.forms.utils import flatatt
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from .models import Notification, NotificationPreference

#: The largest primary key the database can hold (``BigAutoField``).
MAX_ID = 2**63 - 1


def posted_ids(values: Iterable[str]) -> list[int]:
    """The ids among posted values: ASCII digits within the range of a primary key.

    Anything else is the id of nothing and is left out: ``str.isdigit`` alone lets
    through ``²`` (which ``int`` refuses), numbers of thousands of digits (which
    ``int`` refuses too) and numbers past 64 bits (which the database refuses).
    """
    ids = []
    for value in values:
        if value.isascii() and value.isdigit() and len(value) <= len(str(MAX_ID)):
            number = int(value)
            if 0 < number <= MAX_ID:
                ids.append(number)
    return ids


class Select(forms.Select):
    """Django's select, with its options written in Python instead of templates.

    Django renders each option through two templates of its own (the option and
    its attributes), which made the documents page's filter form, with its lists
    of keywords and uploaders, cost more than the table of documents beside it
    (bench/page_cost.py). The HTML is the same as Django's (``tests/portal/
    test_forms.py`` compares them); values and labels are escaped by
    ``format_html``.
    """

    def render(self, name, value, attrs=None, renderer=None):
        widget = self.get_context(name, value, attrs)["widget"]
        parts = [format_html('<select name="{}"{}>', widget["name"], flatatt(widget["attrs"]))]
        for group_name, options, _index in widget["optgroups"]:
            if group_name:
                parts.append(format_html('<optgroup label="{}">', group_name))
            parts.append(
                format_html_join(
                    "",
                    '<option value="{}"{}>{}</option>',
                    ((str(o["value"]), flatatt(o["attrs"]), o["label"]) for o in options),
                )
            )
            if group_name:
                parts.append(SafeString("</optgroup>"))
        parts.append(SafeString("</select>"))
        return format_html_join("", "{}", ((part,) for part in parts))


class ListedModelChoiceIterator(ModelChoiceIterator):
    """The choices of a model field, read with one plain query.

    Django's iterator calls ``QuerySet.iterator()``, which on PostgreSQL opens a
    server-side cursor: DECLARE, FETCH and CLOSE, three round trips for a list of
    a few dozen folders or people in a select (bench/page_cost.py, documents).
    The exports keep their server-side cursors: they read big tables.
    """

    def __iter__(self):
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        for obj in self.queryset:
            yield self.choice(obj)


class ModelChoiceField(forms.ModelChoiceField):
    iterator = ListedModelChoiceIterator
    widget = Select


class BoundedModelMultipleChoiceField(forms.ModelMultipleChoiceField):
    """Django's field, refusing keys beyond the database's integer range as invalid
    choices before its ``__in`` query, where SQLite raises OverflowError (a 500)."""

    iterator = ListedModelChoiceIterator

    def _check_values(self, value):
        meta = self.queryset.model._meta
        field = meta.get_field(self.to_field_name) if self.to_field_name else meta.pk
        if isinstance(field, models.IntegerField) and isinstance(value, list | tuple):
            ops = connections[self.queryset.db].ops
            low, high = ops.integer_field_range(field.get_internal_type())
            for key in value:
                try:
                    number = int(key)
                except (TypeError, ValueError):
                    continue  # not a key at all: Django's own check says so
                if not low <= number <= high:
                    raise ValidationError(
                        self.error_messages["invalid_choice"],
                        code="invalid_choice",
                        params={"value": key},
                    )
        return super()._check_values(value)


class NotificationPreferencesForm(forms.Form):
    """One choice per category: e-mail at once, in a daily digest, or not at all."""

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        current = dict(
            NotificationPreference.objects.filter(user=user).values_list("category", "delivery")
        )
        for value, label in Notification.Category.choices:
            self.fields[value] = forms.ChoiceField(
                label=label,
                choices=NotificationPreference.Delivery.choices,
                initial=current.get(value, NotificationPreference.Delivery.IMMEDIATELY),
                widget=forms.RadioSelect,
            )
