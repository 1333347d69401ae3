"""Forms of the gallery. Even the list's query string goes through one (invalid -> 400)."""

from __future__ import annotations

from django import forms

from viggle_web.accounts.models import User
from viggle_web.assets.models import Asset, Tag
from viggle_web.assets.selectors import SORTS, gallery_show_choices
from viggle_web.assets.services import SCENE_MODELS, AssetActionRefused, template_id_parse


class GalleryFilterForm(forms.Form):
    q = forms.CharField(max_length=100, required=False, strip=True, label="Search")
    kind = forms.ChoiceField(
        choices=[("", "All kinds"), *Asset.Kind.choices], required=False, label="Kind"
    )
    uploader = forms.ModelChoiceField(
        queryset=User.objects.order_by("username"),
        required=False,
        empty_label="Anyone",
        label="Uploader",
    )
    tag = forms.ModelChoiceField(
        queryset=Tag.objects.order_by("name"),
        to_field_name="name",
        required=False,
        empty_label="Any tag",
        label="Tag",
    )
    favourites = forms.BooleanField(required=False, label="Favourites only")
    # Filters offered by apps above the gallery (batches: results, approved results).
    show = forms.ChoiceField(choices=[("", "Everything")], required=False, label="Show")
    sort = forms.ChoiceField(
        choices=[(key, label) for key, (label, _) in SORTS.items()], required=False, label="Sort"
    )
    page = forms.IntegerField(min_value=1, max_value=100_000, required=False)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["q"].widget.attrs.update({"placeholder": "Search by name", "type": "search"})
        self.fields["uploader"].label_from_instance = lambda user: user.display_name
        self.fields["show"].choices = [("", "Everything"), *gallery_show_choices()]


class RenameForm(forms.Form):
    name = forms.CharField(max_length=200, strip=True)


class TagsForm(forms.Form):
    tags = forms.CharField(max_length=600, required=False, help_text="Comma separated")


class PreprocessForm(forms.Form):
    model = forms.ChoiceField(
        choices=[(m, m.replace("_", " ")) for m in SCENE_MODELS], required=False
    )


class TemplateImportForm(forms.Form):
    template_id = forms.CharField(
        label="viggle.ai template link or id",
        max_length=500,
        help_text="Paste the template's link from viggle.ai, or just its id.",
        error_messages={"required": "Paste a viggle.ai template link or id."},
    )
    name = forms.CharField(
        max_length=200,
        strip=True,
        required=False,
        help_text="Optional: leave empty for a name with today's date.",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["template_id"].widget.attrs.update(
            {"placeholder": "https://viggle.ai/…", "autocomplete": "off", "spellcheck": "false"}
        )

    def clean_template_id(self) -> str:
        """The id, taken from a link if need be: bad input is refused here, before anything
        is sent to Viggle."""
        try:
            return template_id_parse(self.cleaned_data["template_id"])
        except AssetActionRefused as exc:
            raise forms.ValidationError(exc.message)
