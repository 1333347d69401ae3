"""List pages' query strings: a bad value in the address bar (a garbage date, an unknown status or
sort, a year out of range) keeps the normal page, drops that one filter and says so next to the
filters, instead of answering with bare text or a 500. The page is still answered with 400 so
scripts and tests can tell the query was refused."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

# Dates before or after these are typos (and beyond them, turning a local day into UTC can
# overflow Python's datetime).
MIN_YEAR = 2000
MAX_YEAR = 2999


class FilterDateField(forms.DateField):
    """A date in a filter: ISO (the browser's date input) and a year a person could mean."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
        kwargs.setdefault(
            "error_messages",
            {"invalid": "Enter a date like 2026-03-31."},
        )
        super().__init__(**kwargs)

    def validate(self, value: date | None) -> None:
        super().validate(value)
        if value is not None and not (MIN_YEAR <= value.year <= MAX_YEAR):
            raise forms.ValidationError(
                f"Choose a year between {MIN_YEAR} and {MAX_YEAR}.", code="year"
            )


def filter_values(form: forms.Form) -> dict[str, Any]:
    """Every field of the form: its cleaned value, or None where the value was refused."""
    form.is_valid()
    values: dict[str, Any] = dict.fromkeys(form.fields)
    values.update(getattr(form, "cleaned_data", {}))
    return values


def filter_messages(form: forms.Form) -> list[str]:
    """What was wrong with the query string, in words, one line per problem, naming the filter."""
    lines = []
    for name, errors in form.errors.items():
        if name in form.fields:
            label = form.fields[name].label or name.replace("_", " ").capitalize()
            what = f"{label}: {' '.join(errors)}"
            lines.append(f"{what} This filter was left out.")
        else:
            lines.extend(errors)
    return lines


def render_filtered(
    request: HttpRequest, template: str, filters: forms.Form, context: dict[str, Any]
) -> HttpResponse:
    """A list page under its filters: the form and what was wrong with it in the context, and
    400 when a filter was refused (the page itself is the normal one)."""
    return render(
        request,
        template,
        {**context, "filters": filters, "filter_errors": filter_messages(filters)},
        status=400 if filters.errors else 200,
    )
