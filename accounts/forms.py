from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _
from django_countries import countries
from django_countries.fields import LazyTypedChoiceField

from portal.forms import BoundedModelMultipleChoiceField, ModelChoiceField

from .models import BIO_MAX_LENGTH, LANGUAGE_CHOICES, ExpertiseArea, User, timezone_choices


class SignupProfileForm(forms.Form):
    """The profile fields asked at signup, added to allauth's e-mail and password."""

    full_name = forms.CharField(label=_("Full name"), max_length=150)
    organisation = forms.CharField(label=_("Organisation"), max_length=200, required=False)
    country = LazyTypedChoiceField(label=_("Country"), choices=countries, required=False)
    timezone = forms.TypedChoiceField(
        label=_("Time zone"), choices=timezone_choices, initial="Europe/Brussels"
    )
    language = forms.ChoiceField(label=_("Preferred language"), choices=settings.LANGUAGES)
    bio = forms.CharField(
        label=_("Short bio"),
        max_length=BIO_MAX_LENGTH,
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("At most %(max)d characters.") % {"max": BIO_MAX_LENGTH},
    )

    field_order = ["email", "full_name", "organisation", "country", "timezone", "language", "bio"]

    def signup(self, request, user: User) -> None:
        """Called by allauth once the user row exists; the profile is saved with it."""
        for name in ("full_name", "organisation", "country", "timezone", "language", "bio"):
            setattr(user, name, self.cleaned_data.get(name) or getattr(user, name))
        user.save()


class ProfileForm(forms.ModelForm):
    languages = forms.MultipleChoiceField(
        label=_("Languages spoken"),
        choices=LANGUAGE_CHOICES,
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 6}),
    )
    expertise = BoundedModelMultipleChoiceField(
        label=_("Areas of expertise"),
        queryset=ExpertiseArea.objects.all(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    timezone = forms.TypedChoiceField(label=_("Time zone"), choices=timezone_choices)

    class Meta:
        model = User
        fields = [
            "full_name",
            "organisation",
            "country",
            "jurisdiction",
            "languages",
            "expertise",
            "timezone",
            "language",
            "bio",
            "directory_visible",
        ]
        widgets = {"bio": forms.Textarea(attrs={"rows": 5})}


class DirectorySearchForm(forms.Form):
    q = forms.CharField(label=_("Name or organisation"), required=False, max_length=100)
    country = LazyTypedChoiceField(
        label=_("Country"), choices=[("", _("Any country"))] + list(countries), required=False
    )
    expertise = ModelChoiceField(
        label=_("Area of expertise"),
        queryset=ExpertiseArea.objects.all(),
        required=False,
        empty_label=_("Any area"),
        to_field_name="slug",
    )


class AccountDeleteForm(forms.Form):
    password = forms.CharField(
        label=_("Your password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    confirm = forms.BooleanField(
        label=_("I understand that my account and my personal data are deleted for good."),
        required=True,
    )
