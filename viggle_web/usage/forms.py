"""Forms for the usage pages: the report's query string and the budget caps."""

from __future__ import annotations

from datetime import date, timedelta

from django import forms
from django.utils import timezone

from viggle_web.core.filters import FilterDateField
from viggle_web.usage.selectors import month_window

# Day-by-day tables and charts beyond this get unreadable (and long); months go much further.
MAX_DAYS_BY_DAY = 400
MAX_DAYS = 366 * 10


class UsageFilterForm(forms.Form):
    """The usage report's query string. Every field is optional: the default is this month, day
    by day, and (for members) their own usage."""

    start = FilterDateField(label="From")
    end = FilterDateField(label="To (inclusive)")
    group = forms.ChoiceField(
        required=False, choices=[("day", "Per day"), ("month", "Per month")], label="Group by"
    )
    member = forms.IntegerField(required=False, min_value=1)
    split = forms.ChoiceField(
        required=False,
        choices=[("", "Total only"), ("member", "Member"), ("kind", "Kind")],
        label="Split chart by",
    )

    @staticmethod
    def this_month() -> tuple[date, date]:
        start, end = month_window()
        return start.date(), (end - timedelta(days=1)).date()

    def clean(self) -> dict:
        data = super().clean()
        if self.errors:
            return data
        start: date | None = data.get("start")
        end: date | None = data.get("end")
        if start is None and end is None:
            start, end = self.this_month()
        elif start is None:
            start = end.replace(day=1)
        elif end is None:
            end = max(start, timezone.localdate())
        if end < start:
            raise forms.ValidationError("The end date is before the start date.")
        days = (end - start).days + 1
        if days > MAX_DAYS:
            raise forms.ValidationError("Choose a range of at most ten years.")
        group = data.get("group") or "day"
        if group == "day" and days > MAX_DAYS_BY_DAY:
            raise forms.ValidationError(
                f"Per day shows at most {MAX_DAYS_BY_DAY} days: group per month for longer ranges."
            )
        data.update(start=start, end=end, group=group)
        return data


class CapField(forms.IntegerField):
    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("min_value", 0)
        kwargs.setdefault("max_value", 2_000_000_000)
        kwargs.setdefault("help_text", "Credits per month. Leave empty for no limit.")
        kwargs.setdefault("label", "Monthly cap")
        super().__init__(**kwargs)


class BudgetForm(forms.Form):
    monthly_cap = CapField()
