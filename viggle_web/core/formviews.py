"""The shape every "new …" page shares (a render, a batch): a form that is posted, refreshed live
by htmx as its options change (estimate, budget), or opened with values from the query string."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django import forms
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from viggle_web.core.errors import ApplicationError

F = TypeVar("F", bound=forms.Form)


def form_view(
    request: HttpRequest,
    form_class: type[F],
    *,
    template: str,
    context: Callable[[HttpRequest, F], dict[str, Any]],
    initial: Callable[[HttpRequest], dict[str, Any]],
    submit: Callable[[HttpRequest, F], HttpResponse],
) -> HttpResponse:
    """A "new …" page from end to end. A plain GET starts from ``initial(request)``; an htmx GET
    re-renders the form's live part (``<template>#live``) from the values so far; a valid POST
    runs ``submit``, which answers (a redirect). A refusal it raises (an ApplicationError or a
    ValidationError: over budget, a bad input) becomes the form's error and the page comes back
    with 400, nothing written."""
    if request.method == "POST":
        form = form_class(request.POST)
        if form.is_valid():
            try:
                return submit(request, form)
            except (ApplicationError, ValidationError) as exc:
                for message in exc.messages:
                    form.add_error(None, message)
        return render(request, template, context(request, form), status=400)
    if getattr(request, "htmx", False):
        form = form_class(request.GET)
        form.is_valid()
        return render(request, f"{template}#live", context(request, form))
    form = form_class(initial=initial(request))
    return render(request, template, context(request, form))
