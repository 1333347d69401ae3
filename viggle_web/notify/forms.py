from __future__ import annotations

from django import forms

from viggle_web.notify.models import EVENTS

EVENT_CHOICES = [
    ("start", "Start: Viggle took the render"),
    ("progress", "Progress: status or progress changed"),
    ("completed", "Completed: complete, failed or cancelled (also preprocessing and imports)"),
]
assert [c[0] for c in EVENT_CHOICES] == list(EVENTS)


class EndpointForm(forms.Form):
    url = forms.URLField(max_length=500, label="URL", assume_scheme="https")
    events = forms.MultipleChoiceField(
        choices=EVENT_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        initial=["completed"],
    )
    org_wide = forms.BooleanField(
        required=False,
        label="Organisation-wide (every member's renders and imports)",
    )


class PreferenceForm(forms.Form):
    browser = forms.BooleanField(
        required=False,
        label="Browser notifications when my render or import finishes or fails",
        help_text="Your browser asks for permission the first time.",
    )
    email = forms.BooleanField(
        required=False, label="An email when my render or import finishes or fails"
    )
    digest = forms.BooleanField(required=False, label="A daily digest email of what finished")
    budget_alerts = forms.BooleanField(
        required=False, label="Emails when a budget passes 80% and 100% this month"
    )
