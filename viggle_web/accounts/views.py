from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse_lazy
from django.views.decorators.http import require_http_methods, require_POST

from viggle_web.accounts import selectors, services
from viggle_web.accounts.forms import (
    AuditFilterForm,
    MemberCreateForm,
    MemberListFilterForm,
    MemberUpdateForm,
)
from viggle_web.accounts.models import User
from viggle_web.accounts.permissions import admin_required
from viggle_web.core.filters import filter_messages, filter_values
from viggle_web.core.models import AuditEvent


def _get_member_for_admin(request: HttpRequest, member_id: int) -> User:
    # Callers are wrapped by admin_required; admins may manage every member.
    return get_object_or_404(User, pk=member_id)


def _apply_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            for error in errors:
                form.add_error(field if field in form.fields else None, error)
    else:
        for message in exc.messages:
            form.add_error(None, message)


@admin_required
def member_list(request: HttpRequest) -> HttpResponse:
    filters = MemberListFilterForm(request.GET)
    data = filter_values(filters)
    members = selectors.member_list(q=data["q"] or "", status=data["status"] or "")
    # Spent this budget month against the cap: one subquery per row of the page, no more queries.
    members = selectors.with_member_annotations(members)
    page = Paginator(members, 50).get_page(data["page"] or 1)
    return render(
        request,
        "accounts/member_list.html",
        {
            "page": page,
            "filters": filters,
            "query": request.GET.urlencode(),
            "filter_errors": filter_messages(filters),
        },
        status=400 if filters.errors else 200,
    )


@admin_required
@require_http_methods(["GET", "POST"])
def member_add(request: HttpRequest) -> HttpResponse:
    form = MemberCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.member_create(actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            if user.has_usable_password():
                messages.success(request, f"{user.username} was added and can log in now.")
                return redirect("members:list")
            link = request.build_absolute_uri(services.member_set_password_path(user=user))
            return render(
                request, "accounts/member_added.html", {"member": user, "set_password_link": link}
            )
    return render(request, "accounts/member_form.html", {"form": form, "title": "Add a member"})


@admin_required
@require_http_methods(["GET", "POST"])
def member_edit(request: HttpRequest, member_id: int) -> HttpResponse:
    member = _get_member_for_admin(request, member_id)
    form = MemberUpdateForm(
        request.POST or None,
        initial={
            "first_name": member.first_name,
            "last_name": member.last_name,
            "email": member.email,
            "role": member.role,
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.member_update(actor=request.user, user=member, **form.cleaned_data)
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, f"{member.username} was updated.")
            return redirect("members:list")
    return render(
        request,
        "accounts/member_form.html",
        {"form": form, "member": member, "title": f"Edit {member.username}"},
    )


@admin_required
@require_POST
def member_set_active(request: HttpRequest, member_id: int) -> HttpResponse:
    member = _get_member_for_admin(request, member_id)
    active = request.POST.get("active") == "1"
    try:
        services.member_set_active(actor=request.user, user=member, active=active)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        state = "reactivated" if active else "deactivated; their history stays"
        messages.success(request, f"{member.username} was {state}.")
    return redirect("members:list")


@admin_required
@require_POST
def member_password_link(request: HttpRequest, member_id: int) -> HttpResponse:
    member = _get_member_for_admin(request, member_id)
    link = request.build_absolute_uri(
        services.member_password_link(actor=request.user, user=member)
    )
    return render(
        request, "accounts/member_added.html", {"member": member, "set_password_link": link}
    )


class SetPasswordView(auth_views.PasswordResetConfirmView):
    """The one-time link a new member follows to choose their password (public by design)."""

    template_name = "accounts/set_password.html"
    success_url = reverse_lazy("login")
    post_reset_login = False

    def form_valid(self, form):
        messages.success(self.request, "Your password is set. Log in with it now.")
        return super().form_valid(form)


@admin_required
@require_http_methods(["GET"])
def audit_log(request: HttpRequest) -> HttpResponse:
    filters = AuditFilterForm(request.GET)
    data = filter_values(filters)
    events = AuditEvent.objects.select_related("actor")
    if data["action"]:
        events = events.filter(action=data["action"])
    page = Paginator(events, 50).get_page(data["page"] or 1)
    return render(
        request,
        "accounts/audit_log.html",
        {"page": page, "filters": filters, "filter_errors": filter_messages(filters)},
        status=400 if filters.errors else 200,
    )
