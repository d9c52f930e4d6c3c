"""Forms for meetings and polls: they parse input; the services decide what is allowed.

Dates and times are entered as wall-clock times (``datetime-local``) in a
time zone chosen beside them (the user's own zone by default). The forms keep
them naive; the service turns them into UTC and refuses times that a
daylight-saving change skips or repeats, and its messages land at the field
(field names match the services' argument names).
"""

from datetime import datetime

from django import forms
from django.core.exceptions import ValidationError
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import User, timezone_choices
from documents.models import Document
from portal.forms import BoundedModelMultipleChoiceField, ModelChoiceField

from .models import Invitee, PollVote
from .services import MAX_SLOTS


class DateTimeLocalInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%dT%H:%M")


class LocalDateTimeField(forms.Field):
    """A wall-clock date and time, kept naive: its zone is another field of the form."""

    widget = DateTimeLocalInput
    default_error_messages = {
        "invalid": _("Enter a date and a time, for example 2027-03-30 14:30."),
    }

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if isinstance(value, datetime):
            return value.replace(tzinfo=None, second=0, microsecond=0)
        try:
            parsed = datetime.fromisoformat(str(value).strip().replace(" ", "T"))
        except ValueError:
            raise ValidationError(self.error_messages["invalid"], code="invalid") from None
        if parsed.tzinfo is not None:
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return parsed.replace(second=0, microsecond=0)


def _zone_field() -> forms.TypedChoiceField:
    return forms.TypedChoiceField(
        label=_("Time zone"),
        choices=timezone_choices,
        help_text=_(
            "The dates and times of this form are in this zone. Everyone sees them in their "
            "own zone."
        ),
    )


def _link_field() -> forms.CharField:
    return forms.CharField(
        label=_("Online link (optional)"),
        required=False,
        max_length=500,
        widget=forms.URLInput(attrs={"placeholder": "https://", "inputmode": "url"}),
        help_text=_("A secure address starting with https://."),
    )


class MemberChoiceField(BoundedModelMultipleChoiceField):
    def label_from_instance(self, obj):
        return obj.get_full_name() or obj.email


class MeetingForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    starts_at = LocalDateTimeField(label=_("Starts"))
    ends_at = LocalDateTimeField(label=_("Ends"))
    timezone = _zone_field()
    place = forms.CharField(
        label=_("Place (optional)"),
        required=False,
        max_length=300,
        help_text=_("Address and room for those who attend in person."),
    )
    online_url = _link_field()
    agenda = forms.CharField(
        label=_("Agenda (optional)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
    )
    agenda_document = ModelChoiceField(
        label=_("Agenda as a document of the group (optional)"),
        queryset=Document.objects.none(),
        required=False,
        empty_label=_("No document"),
        error_messages={"invalid_choice": _("Choose a document of this group.")},
    )
    invite = forms.ChoiceField(
        label=_("Who is invited?"),
        choices=[
            ("all", _("All members of the group")),
            ("selection", _("Only the members I choose")),
        ],
        initial="all",
        widget=forms.RadioSelect,
    )
    invitees = MemberChoiceField(
        label=_("Members to invite"),
        queryset=User.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"invalid_choice": _("Only members of this group can be invited.")},
    )

    def __init__(self, *args, members, documents, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["invitees"].queryset = members
        self.fields["agenda_document"].queryset = documents

    def clean(self):
        data = super().clean()
        if (
            data.get("invite") == "selection"
            and not data.get("invitees")
            and "invitees" not in self.errors
        ):
            self.add_error("invitees", _("Choose at least one member, or invite all members."))
        return data

    def service_arguments(self) -> dict:
        data = self.cleaned_data
        return {
            "title": data["title"],
            "agenda": data["agenda"],
            "starts_at": data["starts_at"],
            "ends_at": data["ends_at"],
            "timezone_name": data["timezone"],
            "place": data["place"],
            "online_url": data["online_url"],
            "invitees": list(data["invitees"]) if data["invite"] == "selection" else None,
            "agenda_document": data["agenda_document"],
        }


class CancelForm(forms.Form):
    reason = forms.CharField(
        label=_("Why is the meeting cancelled?"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("The invitees receive this with the cancellation."),
    )


class AnswerForm(forms.Form):
    answer = forms.ChoiceField(
        label=_("Will you attend?"), choices=Invitee.Answer.choices, widget=forms.RadioSelect
    )
    comment = forms.CharField(
        label=_("Comment (optional)"),
        required=False,
        max_length=500,
        help_text=_("For example: I join online, or I arrive at 11:00."),
    )


class MinutesForm(forms.Form):
    minutes = forms.CharField(
        label=_("Minutes"),
        required=False,
        max_length=100_000,
        widget=forms.Textarea(attrs={"rows": 14}),
    )
    minutes_document = ModelChoiceField(
        label=_("Minutes as a document of the group (optional)"),
        queryset=Document.objects.none(),
        required=False,
        empty_label=_("No document"),
        help_text=_("Upload the document in the group's documents first, then choose it here."),
        error_messages={"invalid_choice": _("Choose a document of this group.")},
    )

    def __init__(self, *args, documents, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["minutes_document"].queryset = documents


class AttendanceForm(forms.Form):
    """One choice per invitee: present, excused or absent."""

    def __init__(self, *args, invitees, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [("", _("Not recorded")), *Invitee.Attendance.choices]
        for invitee in invitees:
            self.fields[f"user-{invitee.user_id}"] = forms.ChoiceField(
                label=invitee.user.get_full_name() or invitee.user.email,
                choices=choices,
                required=False,
                initial=invitee.attendance or _suggested(invitee),
            )

    def attendance(self) -> dict[int, str]:
        return {int(name.removeprefix("user-")): value for name, value in self.cleaned_data.items()}


def _suggested(invitee: Invitee) -> str:
    """Before anything is recorded: a "no" answer suggests excused."""
    return Invitee.Attendance.EXCUSED if invitee.answer == Invitee.Answer.NO else ""


class PollForm(forms.Form):
    title = forms.CharField(label=_("Title of the meeting"), max_length=200)
    timezone = _zone_field()
    closes_at = LocalDateTimeField(
        label=_("Voting closes"),
        help_text=_("Members can answer until then; it must be before the first slot."),
    )
    place = forms.CharField(label=_("Place (optional)"), required=False, max_length=300)
    online_url = _link_field()
    agenda = forms.CharField(
        label=_("Agenda (optional)"), required=False, widget=forms.Textarea(attrs={"rows": 4})
    )

    def service_arguments(self) -> dict:
        data = self.cleaned_data
        return {
            "title": data["title"],
            "agenda": data["agenda"],
            "timezone_name": data["timezone"],
            "closes_at": data["closes_at"],
            "place": data["place"],
            "online_url": data["online_url"],
        }


class SlotForm(forms.Form):
    starts_at = LocalDateTimeField(label=_("Starts"), required=False)
    ends_at = LocalDateTimeField(label=_("Ends"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Each row names its slot, so that a screen reader tells the rows apart.
        number = (self.prefix or "").rsplit("-", 1)[-1]
        if number.isdigit():
            values = {"n": int(number) + 1}
            self.fields["starts_at"].label = _("Slot %(n)d starts") % values
            self.fields["ends_at"].label = _("Slot %(n)d ends") % values
        else:
            self.fields["starts_at"].label = _("Another slot starts")
            self.fields["ends_at"].label = _("Another slot ends")

    def clean(self):
        data = super().clean()
        start, end = data.get("starts_at"), data.get("ends_at")
        if (start is None) != (end is None) and not self.errors:
            field = "ends_at" if start is not None else "starts_at"
            self.add_error(field, _("Give both the start and the end of this slot."))
        return data


SlotFormSet = forms.formset_factory(
    SlotForm, extra=4, max_num=MAX_SLOTS, absolute_max=MAX_SLOTS, validate_max=True
)


class VoteForm(forms.Form):
    """One choice per slot: yes, if need be, or no. Labels show the slot in the viewer's zone."""

    def __init__(self, *args, slots, initial_choices=None, **kwargs):
        super().__init__(*args, **kwargs)
        initial_choices = initial_choices or {}
        for slot in slots:
            self.fields[f"slot-{slot.pk}"] = forms.ChoiceField(
                label=slot_label(slot),
                choices=PollVote.Choice.choices,
                required=False,
                widget=forms.RadioSelect,
                initial=initial_choices.get(slot.pk, ""),
            )

    def choices(self) -> dict[int, str]:
        return {
            int(name.removeprefix("slot-")): value
            for name, value in self.cleaned_data.items()
            if value
        }


def span_label(start: datetime, end: datetime) -> str:
    """ "Tue 30 Mar 2027, 10:00–12:00" for two datetimes already in the zone to show."""
    text = f"{formats.date_format(start, 'D j M Y')}, {formats.time_format(start, 'H:i')}–"
    if end.date() != start.date():
        text += formats.date_format(end, "D j M Y") + ", "
    return text + formats.time_format(end, "H:i")


def slot_label(slot) -> str:
    """A slot (or meeting) in the active time zone."""
    return span_label(timezone.localtime(slot.starts_at), timezone.localtime(slot.ends_at))


class PollCloseForm(forms.Form):
    slot = forms.TypedChoiceField(
        label=_("Chosen slot"), coerce=int, widget=forms.RadioSelect, choices=()
    )

    def __init__(self, *args, columns, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["slot"].choices = [(c.slot.pk, slot_label(c.slot)) for c in columns]
        best = [c.slot.pk for c in columns if c.best]
        if best:
            self.fields["slot"].initial = best[0]
