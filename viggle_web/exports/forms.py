from __future__ import annotations

from django import forms

from viggle_web.exports.models import Export


class ExportRequestForm(forms.Form):
    format = forms.ChoiceField(
        choices=Export.Format.choices,
        error_messages={"invalid_choice": "Choose webm, mov or png as the export format."},
    )


class ExportFileForm(forms.Form):
    file = forms.ChoiceField(choices=[("file", "file"), ("still", "still")], required=False)


class ExportStreamForm(forms.Form):
    since = forms.CharField(required=False, max_length=64)
