"""Forms for documents: they parse input; the services decide what is allowed.

Files themselves are not validated here: each uploaded file goes to the
service on its own, so one bad file of several gets its own message and the
others are still accepted.
"""

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from portal.forms import ModelChoiceField, Select

from .models import Document, Folder
from .selectors import SORTS
from .services import (
    COMMENT_MAX_LENGTH,
    DESCRIPTION_MAX_LENGTH,
    FOLDER_NAME_MAX_LENGTH,
    TITLE_MAX_LENGTH,
)


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


def _max_size_help():
    return _("At most %(size)s per file.") % {"size": filesizeformat(settings.DOCUMENT_MAX_BYTES)}


class UploadForm(forms.Form):
    files = forms.FileField(
        label=_("Files"),
        required=False,  # checked by the view, one message per file
        widget=MultipleFileInput(attrs={"multiple": True}),
    )
    title = forms.CharField(
        label=_("Title"),
        required=False,
        max_length=TITLE_MAX_LENGTH,
        help_text=_("Leave empty to use the file name. With several files, each keeps its name."),
    )
    description = forms.CharField(
        label=_("Description"),
        required=False,
        max_length=DESCRIPTION_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    keywords = forms.CharField(
        label=_("Keywords"),
        required=False,
        max_length=600,
        help_text=_("Separated by commas, for example: electronic monitoring, guidelines"),
    )
    folder = ModelChoiceField(
        label=_("Folder"), required=False, queryset=Folder.objects.none(), empty_label=_("(none)")
    )
    new_folder = forms.CharField(
        label=_("…or a new folder"), required=False, max_length=FOLDER_NAME_MAX_LENGTH
    )
    sensitivity = forms.ChoiceField(
        label=_("Sensitivity"),
        choices=Document.Sensitivity.choices,
        initial=Document.Sensitivity.NORMAL,
        widget=forms.RadioSelect,
        help_text=_(
            "Restricted documents show a confidentiality notice that each reader confirms "
            "before downloading; the confirmations are recorded."
        ),
    )
    purpose = forms.ChoiceField(
        label=_("Purpose"), choices=Document.Purpose.choices, initial=Document.Purpose.GENERAL
    )

    def __init__(self, *args, group, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["folder"].queryset = Folder.objects.filter(group=group).order_by("name")
        self.fields["files"].help_text = _max_size_help()


class VersionForm(forms.Form):
    files = forms.FileField(label=_("New file"), required=False)
    comment = forms.CharField(
        label=_("What changed?"),
        required=False,
        max_length=COMMENT_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["files"].help_text = _max_size_help()


class FolderForm(forms.Form):
    name = forms.CharField(label=_("Folder name"), max_length=FOLDER_NAME_MAX_LENGTH)


class DocumentFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=200)
    folder = ModelChoiceField(
        label=_("Folder"), required=False, queryset=Folder.objects.none(), empty_label=_("All")
    )
    keyword = forms.CharField(label=_("Keyword"), required=False, max_length=40)
    uploader = ModelChoiceField(
        label=_("Uploaded by"),
        required=False,
        queryset=User.objects.none(),
        empty_label=_("Anyone"),
    )
    sort = forms.ChoiceField(
        label=_("Sort by"),
        required=False,
        choices=[
            ("date", _("Newest first")),
            ("-date", _("Oldest first")),
            ("name", _("Name A–Z")),
            ("-name", _("Name Z–A")),
        ],
        widget=Select,
    )

    def __init__(self, *args, folders, keywords, uploaders, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["folder"].queryset = folders
        self.fields["uploader"].queryset = uploaders
        self.fields["keyword"].widget = Select(
            choices=[("", _("Any"))] + [(k, k) for k in keywords]
        )

    def clean_sort(self):
        sort = self.cleaned_data.get("sort") or "date"
        return sort if sort in SORTS else "date"


class ConfirmNoticeForm(forms.Form):
    confirm = forms.BooleanField(
        label=_("I have read the notice and will handle this document accordingly."),
        required=True,
        error_messages={"required": _("Tick the box to confirm the notice.")},
    )
