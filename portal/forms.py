from django import forms

from .models import Notification, NotificationPreference


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
