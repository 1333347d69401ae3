from __future__ import annotations

import re
import uuid

from django import forms

from viggle_web.accounts.models import User
from viggle_web.assets.models import Asset
from viggle_web.renders.models import RenderJob

_HEX = re.compile(r"^#?([0-9a-fA-F]{2})([0-9a-fA-F]{2})([0-9a-fA-F]{2})$")
_RGB = re.compile(r"^\s*(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})\s*$")
_KEY = re.compile(r"^[A-Za-z0-9_-]{8,80}$")


def normalise_colour(value: str) -> str:
    """Accept the colour picker's #rrggbb or Viggle's "R,G,B"; return "R,G,B"."""
    value = (value or "").strip()
    if not value:
        return "0,255,0"
    match = _HEX.match(value)
    if match:
        return ",".join(str(int(part, 16)) for part in match.groups())
    match = _RGB.match(value)
    if match and all(0 <= int(part) <= 255 for part in match.groups()):
        return ",".join(str(int(part)) for part in match.groups())
    raise forms.ValidationError("Use a colour like #00ff00 or 0,255,0 (each 0-255).")


class RenderForm(forms.Form):
    character = forms.ModelChoiceField(
        queryset=Asset.objects.filter(kind=Asset.Kind.IMAGE, archived_at__isnull=True),
        required=False,
        error_messages={"invalid_choice": "That character is not in the gallery any more."},
    )
    motion = forms.ModelChoiceField(
        queryset=Asset.objects.filter(
            kind__in=[Asset.Kind.VIDEO, Asset.Kind.TEMPLATE], archived_at__isnull=True
        ),
        error_messages={
            "required": "Choose a motion video.",
            "invalid_choice": "That motion is not in the gallery any more.",
        },
    )
    model = forms.ChoiceField(choices=RenderJob.Model.choices, initial=RenderJob.Model.V4)
    background_mode = forms.ChoiceField(
        choices=RenderJob.Background.choices, initial=RenderJob.Background.ORIGINAL
    )
    bg_color = forms.CharField(required=False, max_length=20, initial="#00ff00")
    fast = forms.BooleanField(required=False)
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=80)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("idempotency_key", uuid.uuid4().hex)
        motion = self._motion_for_mapping()
        self.segment_fields: list[tuple[dict, str]] = []
        if motion is not None:
            for segment in motion.segments:
                if isinstance(segment, dict) and segment.get("uuid"):
                    name = f"segment_{segment['uuid']}"
                    self.fields[name] = forms.ModelChoiceField(
                        queryset=Asset.objects.filter(
                            kind=Asset.Kind.IMAGE, archived_at__isnull=True
                        ),
                        required=False,
                    )
                    self.segment_fields.append((segment, name))

    def _motion_for_mapping(self) -> Asset | None:
        raw = self.data.get("motion") if self.is_bound else self.initial.get("motion")
        if isinstance(raw, Asset):
            return raw if raw.kind == Asset.Kind.TEMPLATE else None
        try:
            return Asset.objects.filter(pk=int(raw), kind=Asset.Kind.TEMPLATE).first()
        except (TypeError, ValueError):
            return None

    def clean_bg_color(self) -> str:
        return normalise_colour(self.cleaned_data.get("bg_color", ""))

    def clean_idempotency_key(self) -> str:
        key = self.cleaned_data["idempotency_key"]
        if not _KEY.match(key):
            raise forms.ValidationError("The form is damaged; reload the page.")
        return key

    def mapping(self) -> dict[str, int]:
        return {
            segment["uuid"]: self.cleaned_data[name].pk
            for segment, name in self.segment_fields
            if self.cleaned_data.get(name) is not None
        }


class JobFilterForm(forms.Form):
    member = forms.ModelChoiceField(queryset=User.objects.all(), required=False)
    status = forms.ChoiceField(
        choices=[("", "Any status"), ("active", "In progress"), *RenderJob.Status.choices],
        required=False,
    )
    asset = forms.IntegerField(required=False, min_value=1)
    date_from = forms.DateField(required=False)
    date_to = forms.DateField(required=False)
    page = forms.IntegerField(required=False, min_value=1)

    def clean(self) -> dict:
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            raise forms.ValidationError("The start date must be before the end date.")
        return data


class StreamForm(forms.Form):
    jobs = forms.CharField(max_length=5000)
    view = forms.ChoiceField(choices=[("row", "row"), ("detail", "detail")], required=False)
    since = forms.CharField(required=False, max_length=64)

    def job_ids(self) -> list[str]:
        return [j for j in self.cleaned_data["jobs"].split(",") if j][:100]


class DownloadForm(forms.Form):
    file = forms.ChoiceField(choices=[("output", "video"), ("mask", "mask"), ("poster", "poster")])
