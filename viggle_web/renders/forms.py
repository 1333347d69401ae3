from __future__ import annotations

import re
import uuid

from django import forms

from viggle_web.accounts.models import User
from viggle_web.assets.models import Asset
from viggle_web.core.filters import FilterDateField
from viggle_web.renders import selectors
from viggle_web.renders.models import RenderJob
from viggle_web.viggle.colour import parse_bg_color

_KEY = re.compile(r"^[A-Za-z0-9_-]{8,80}$")


OPTION_FIELDS = ("model", "background_mode", "bg_color", "fast")


class RenderOptionsForm(forms.Form):
    """The options a render and a batch share, and the form's one-use key (a double click or a
    browser retry finds the same job)."""

    key_pattern = _KEY
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

    def options(self) -> dict[str, object]:
        """The cleaned shared options, as RenderRequest and BatchOptions take them."""
        return {name: self.cleaned_data[name] for name in OPTION_FIELDS}

    def clean_bg_color(self) -> str:
        try:  # the colour picker's #rrggbb, or Viggle's "R,G,B"
            return parse_bg_color(self.cleaned_data.get("bg_color", ""), allow_hex=True)
        except ValueError:
            raise forms.ValidationError("Use a colour like #00ff00 or 0,255,0 (each 0-255).")

    def clean_idempotency_key(self) -> str:
        key = self.cleaned_data["idempotency_key"]
        if not self.key_pattern.match(key):
            raise forms.ValidationError("The form is damaged; reload the page.")
        return key


class RenderForm(RenderOptionsForm):
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
    # Transparent results only: WebM/MOV/PNG exports with alpha, made when the render completes.
    alpha_exports = forms.BooleanField(required=False)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        motion = self._motion_for_mapping()
        self.segment_fields: list[tuple[dict, str]] = []
        # A template's people, each with the character chosen for it (a page shows a picker per
        # person; the choice survives a refused submit and "render again", which pass it back).
        self.people: list[dict] = []
        if motion is not None:
            for person in motion.people:
                name = f"segment_{person['uuid']}"
                self.fields[name] = forms.ModelChoiceField(
                    queryset=Asset.objects.filter(kind=Asset.Kind.IMAGE, archived_at__isnull=True),
                    required=False,
                    error_messages={
                        "invalid_choice": f"The character for person {person['number']} is not "
                        "in the gallery any more."
                    },
                )
                source = self.data if self.is_bound else self.initial
                chosen = source.get(name) or ""
                self.segment_fields.append((person, name))
                self.people.append(
                    {
                        **person,
                        "label": f"Person {person['number']} ({person['type']})",
                        "field": name,
                        "selected": str(getattr(chosen, "pk", chosen)),
                    }
                )

    def _motion_for_mapping(self) -> Asset | None:
        raw = self.data.get("motion") if self.is_bound else self.initial.get("motion")
        if isinstance(raw, Asset):
            return raw if raw.kind == Asset.Kind.TEMPLATE else None
        try:
            return Asset.objects.filter(pk=int(raw), kind=Asset.Kind.TEMPLATE).first()
        except (TypeError, ValueError):
            return None

    def clean_alpha_exports(self) -> bool:
        wanted = self.cleaned_data.get("alpha_exports", False)
        if wanted and self.data.get("background_mode") != RenderJob.Background.TRANSPARENT:
            raise forms.ValidationError("Alpha exports need the transparent background.")
        return wanted

    def mapping(self) -> dict[str, int]:
        return {
            segment["uuid"]: self.cleaned_data[name].pk
            for segment, name in self.segment_fields
            if self.cleaned_data.get(name) is not None
        }


class JobFilterForm(forms.Form):
    member = forms.ModelChoiceField(
        queryset=User.objects.order_by("first_name", "last_name", "username"),
        required=False,
        empty_label="Everyone",
    )
    status = forms.ChoiceField(
        choices=[("", "Any status"), ("active", "In progress"), *RenderJob.Status.choices],
        required=False,
    )
    asset = forms.IntegerField(required=False, min_value=1)
    group = forms.ChoiceField(label="Collection", required=False)
    date_from = FilterDateField(label="From")
    date_to = FilterDateField(label="To")
    page = forms.IntegerField(required=False, min_value=1, max_value=1_000_000)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # People's names, as the gallery's uploader filter shows them.
        self.fields["member"].label_from_instance = lambda user: user.display_name
        self.fields["group"].choices = [("", "Any collection"), *selectors.job_group_choices()]

    def clean(self) -> dict:
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            raise forms.ValidationError("The start date must be before the end date.")
        return data


class StreamForm(forms.Form):
    jobs = forms.CharField(max_length=5000, required=False)
    view = forms.ChoiceField(choices=[("row", "row"), ("detail", "detail")], required=False)
    since = forms.CharField(required=False, max_length=64)
    # A list page: also send jobs created after `since` that its filters would show.
    new = forms.BooleanField(required=False)

    def clean(self) -> dict:
        data = super().clean()
        if not data.get("jobs") and not data.get("new"):
            raise forms.ValidationError("Name the jobs to follow, or ask for new ones.")
        return data

    def job_ids(self) -> list[str]:
        return [j for j in self.cleaned_data["jobs"].split(",") if j][:100]


class DownloadForm(forms.Form):
    file = forms.ChoiceField(choices=[("output", "video"), ("mask", "mask"), ("poster", "poster")])


class ResolveSendForm(forms.Form):
    """An admin's answer for a render whose send outcome is unknown."""

    action = forms.ChoiceField(choices=[("link", "Link"), ("release", "Release")])
    upstream_job_id = forms.CharField(required=False, max_length=100, strip=True)
