from datetime import timedelta

from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from portal.forms import BoundedModelMultipleChoiceField, ModelChoiceField

from .models import ExpertGroup


class JoinRequestForm(forms.Form):
    motivation = forms.CharField(
        label=_("Why do you want to join?"),
        min_length=10,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("A sentence or two for the coordinators: your work and what you bring."),
    )


class InvitationForm(forms.Form):
    email = forms.EmailField(label=_("E-mail address"))
    message = forms.CharField(
        label=_("Personal message (optional)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class ExtensionRequestForm(forms.Form):
    justification = forms.CharField(
        label=_("Why should the group continue for two more years?"),
        min_length=20,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("What the group achieved, what it will do next, who stays involved."),
    )


class ExtensionDecisionForm(forms.Form):
    decision = forms.ChoiceField(
        label=_("Decision"),
        choices=[("approve", _("Approve the extension")), ("refuse", _("Refuse the extension"))],
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(
        label=_("Reason"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Required when refusing."),
    )

    def clean(self):
        data = super().clean()
        if data.get("decision") == "refuse" and not (data.get("reason") or "").strip():
            self.add_error("reason", _("Give a reason when refusing an extension."))
        return data


class GroupForm(forms.ModelForm):
    class Meta:
        model = ExpertGroup
        fields = ["name", "slug", "kind", "summary", "description", "standing_membership"]
        widgets = {
            "summary": forms.Textarea(attrs={"rows": 3}),
            "description": forms.Textarea(attrs={"rows": 6}),
        }


class GroupCreateForm(GroupForm):
    start_date = forms.DateField(
        label=_("Mandate starts on"),
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("Term 1 lasts two years from this date."),
    )
    coordinators = BoundedModelMultipleChoiceField(
        label=_("Coordinators"),
        queryset=User.objects.filter(is_active=True).order_by("full_name"),
        widget=forms.SelectMultiple(attrs={"size": 8}),
        help_text=_("At least one. More can be appointed later."),
    )

    def clean_start_date(self):
        start = self.cleaned_data["start_date"]
        earliest = timezone.localdate() - timedelta(days=settings.MANDATE_START_MAX_PAST_DAYS)
        if start < earliest:
            raise forms.ValidationError(
                _("The mandate cannot start more than %(days)d days in the past."),
                params={"days": settings.MANDATE_START_MAX_PAST_DAYS},
            )
        return start


class GroupEditForm(GroupForm):
    class Meta(GroupForm.Meta):
        fields = ["name", "kind", "summary", "description", "standing_membership"]


class CloseForm(forms.Form):
    reason = forms.CharField(
        label=_("Why does the group close early?"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class AppointForm(forms.Form):
    email = forms.EmailField(label=_("E-mail of the new coordinator"))

    def clean_email(self):
        email = self.cleaned_data["email"]
        user = User.objects.filter(email__iexact=email, is_active=True).first()
        if user is None:
            raise forms.ValidationError(_("No account uses this address. Invite the person first."))
        self.user = user
        return email


class AuditFilterForm(forms.Form):
    group = ModelChoiceField(
        label=_("Group"),
        queryset=ExpertGroup.objects.order_by("name"),
        required=False,
        empty_label=_("All groups"),
        to_field_name="slug",
    )
    verb = forms.CharField(label=_("Action"), required=False, max_length=64)
    since = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        label=_("Until"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
