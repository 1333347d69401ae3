from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.password_validation import validate_password

from viggle_web.accounts.models import User


class MemberCreateForm(forms.Form):
    username = forms.CharField(max_length=150)
    email = forms.EmailField()
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
    role = forms.ChoiceField(choices=User.Role.choices, initial=User.Role.MEMBER)
    password = forms.CharField(
        widget=forms.PasswordInput,
        required=False,
        help_text="Leave empty to get a one-time set-password link to send to the member.",
    )

    def clean_username(self) -> str:
        username = self.cleaned_data["username"]
        User.username_validator(username)
        return username

    def clean(self) -> dict:
        data = super().clean()
        password = data.get("password")
        if password:
            validate_password(password, User(username=data.get("username", "")))
        return data


class MemberUpdateForm(forms.Form):
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
    email = forms.EmailField()
    role = forms.ChoiceField(choices=User.Role.choices)


class MemberListFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=150, label="Search")
    status = forms.ChoiceField(
        required=False,
        choices=[("", "All"), ("active", "Active"), ("inactive", "Deactivated")],
        label="Status",
    )
    page = forms.IntegerField(required=False, min_value=1, max_value=1_000_000, label="Page")


class AuditFilterForm(forms.Form):
    action = forms.ChoiceField(required=False, choices=[("", "All actions")], label="Action")
    page = forms.IntegerField(required=False, min_value=1, max_value=1_000_000, label="Page")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        from viggle_web.core.models import AuditEvent

        self.fields["action"].choices = [("", "All actions"), *AuditEvent.Action.choices]


class LoginForm(AuthenticationForm):
    """Django's login form, refusing an over-long username before anything is looked up (the
    stock form sets max_length only on the widget)."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "deactivated": "This account is deactivated. Ask a team admin if you need it again.",
    }

    def clean_username(self) -> str:
        username = self.cleaned_data.get("username") or ""
        if len(username) > 150:
            raise forms.ValidationError("That username is too long (150 characters at most).")
        return username

    def clean(self) -> dict:
        try:
            return super().clean()
        except forms.ValidationError as exc:
            # Django's backend refuses inactive members with the same words as a wrong password.
            # Only someone who knows the password learns that the account is deactivated.
            if getattr(exc, "code", "") == "invalid_login" and self._deactivated():
                raise forms.ValidationError(
                    self.error_messages["deactivated"], code="deactivated"
                ) from None
            raise

    def _deactivated(self) -> bool:
        username = self.cleaned_data.get("username") or ""
        password = self.cleaned_data.get("password") or ""
        user = User.objects.filter(username=username, is_active=False).first()
        return user is not None and user.check_password(password)
