from __future__ import annotations

import re

from django import forms
from django.conf import settings

from viggle_web.assets.models import Asset
from viggle_web.batches.models import Collection
from viggle_web.renders.forms import RenderOptionsForm

# Room for the "-<position>" suffix of each render's own key (at most 80).
_KEY = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def _live(kind: str) -> forms.ModelMultipleChoiceField:
    return forms.ModelMultipleChoiceField(
        queryset=Asset.objects.filter(kind=kind, archived_at__isnull=True),
        required=False,
        error_messages={"invalid_choice": "A chosen asset is not in the gallery any more."},
    )


def check_key(key: str) -> str:
    if not _KEY.match(key or ""):
        raise forms.ValidationError("The form is damaged; reload the page.")
    return key


class BatchForm(RenderOptionsForm):
    key_pattern = _KEY
    characters = _live(Asset.Kind.IMAGE)
    motions = _live(Asset.Kind.VIDEO)
    # Or one template x several mappings: "<template id>:<person uuid>", each character plays it.
    cast = forms.ChoiceField(choices=[("", "No template")], required=False)
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.templates = {
            t.pk: t
            for t in Asset.objects.filter(kind=Asset.Kind.TEMPLATE, archived_at__isnull=True)
        }
        self.fields["cast"].choices = [("", "No template")] + [
            (f"{t.pk}:{p['uuid']}", f"{t.name}: person {p['number']} ({p['type']})")
            for t in self.templates.values()
            for p in t.people
        ]

    def chosen_cast(self) -> tuple[Asset, str] | None:
        value = self.cleaned_data.get("cast") or ""
        if not value:
            return None
        pk, _, person = value.partition(":")
        return self.templates[int(pk)], person


class RetryForm(forms.Form):
    idempotency_key = forms.CharField(max_length=64)

    def clean_idempotency_key(self) -> str:
        return check_key(self.cleaned_data["idempotency_key"])


class StreamForm(forms.Form):
    since = forms.CharField(required=False, max_length=64)


class ShareForm(forms.Form):
    days = forms.IntegerField(
        min_value=1,
        max_value=90,
        required=False,
        error_messages={"min_value": "Choose 1 to 90 days.", "max_value": "Choose 1 to 90 days."},
    )

    def clean_days(self) -> int:
        return self.cleaned_data.get("days") or settings.SHARE_LINK_DEFAULT_DAYS


class CollectionForm(forms.Form):
    name = forms.CharField(max_length=100, strip=True)


class CollectionAddForm(forms.Form):
    assets = forms.ModelMultipleChoiceField(
        queryset=Asset.objects.filter(archived_at__isnull=True),
        error_messages={"required": "Tick at least one asset."},
    )


class MonthForm(forms.Form):
    month = forms.DateField(required=False, input_formats=["%Y-%m"])


class BatchFilterForm(forms.Form):
    collection = forms.ModelChoiceField(
        queryset=Collection.objects.order_by("name"),
        required=False,
        empty_label="Any collection",
        label="Collection",
    )
    page = forms.IntegerField(required=False, min_value=1, max_value=1_000_000)
