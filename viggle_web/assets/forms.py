"""Forms of the gallery. Even the list's query string goes through one (invalid -> 400)."""

from __future__ import annotations

from django import forms

from viggle_web.accounts.models import User
from viggle_web.assets.models import Asset, Tag
from viggle_web.assets.selectors import SORTS
from viggle_web.assets.services import SCENE_MODELS


class GalleryFilterForm(forms.Form):
    q = forms.CharField(max_length=100, required=False, strip=True)
    kind = forms.ChoiceField(choices=[("", "All kinds"), *Asset.Kind.choices], required=False)
    uploader = forms.ModelChoiceField(
        queryset=User.objects.order_by("username"), required=False, empty_label="Anyone"
    )
    tag = forms.ModelChoiceField(
        queryset=Tag.objects.order_by("name"),
        to_field_name="name",
        required=False,
        empty_label="Any tag",
    )
    favourites = forms.BooleanField(required=False, label="Favourites only")
    sort = forms.ChoiceField(
        choices=[(key, label) for key, (label, _) in SORTS.items()], required=False
    )
    page = forms.IntegerField(min_value=1, max_value=100_000, required=False)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["q"].widget.attrs.update(
            {"placeholder": "Search by name", "aria-label": "Search by name", "type": "search"}
        )
        self.fields["kind"].widget.attrs["aria-label"] = "Kind"
        self.fields["uploader"].widget.attrs["aria-label"] = "Uploader"
        self.fields["tag"].widget.attrs["aria-label"] = "Tag"
        self.fields["sort"].widget.attrs["aria-label"] = "Sort"
        self.fields["uploader"].label_from_instance = lambda user: user.display_name


class RenameForm(forms.Form):
    name = forms.CharField(max_length=200, strip=True)


class TagsForm(forms.Form):
    tags = forms.CharField(max_length=600, required=False, help_text="Comma separated")


class PreprocessForm(forms.Form):
    model = forms.ChoiceField(
        choices=[(m, m.replace("_", " ")) for m in SCENE_MODELS], required=False
    )


class TemplateImportForm(forms.Form):
    template_id = forms.UUIDField(
        label="viggle.ai template id",
        help_text="The UUID in the template's address, e.g. 3f2b…",
    )
    name = forms.CharField(max_length=200, strip=True)
