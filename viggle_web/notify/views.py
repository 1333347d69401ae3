"""Pages: notification preferences, notices, webhook endpoints with their delivery logs."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from viggle_web.notify import selectors, services
from viggle_web.notify.forms import EndpointForm, PreferenceForm
from viggle_web.notify.models import Delivery, Endpoint, Notice


def _no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    return response


def _endpoint(request: HttpRequest, endpoint_id: int) -> Endpoint:
    endpoint = get_object_or_404(Endpoint.objects.select_related("owner"), pk=endpoint_id)
    if not services.endpoint_may_manage(endpoint=endpoint, actor=request.user):
        raise Http404("No such endpoint.")
    return endpoint


@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest) -> HttpResponse:
    pref = services.preference(request.user)
    initial = {n: getattr(pref, n) for n in ("browser", "email", "digest", "budget_alerts")}
    form = PreferenceForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        services.preference_set(user=request.user, **form.cleaned_data)
        messages.success(request, "Your notification settings were saved.")
        return redirect("notify:settings")
    return render(request, "notify/settings.html", {"form": form})


@require_GET
def notices(request: HttpRequest) -> HttpResponse:
    rows = list(Notice.objects.filter(user=request.user)[:100])
    services.notices_read(user=request.user)
    return render(request, "notify/notices.html", {"notices": rows})


def _webhooks_page(
    request: HttpRequest, form: EndpointForm, shown: services.ShownSecret | None
) -> HttpResponse:
    return render(
        request,
        "notify/webhooks.html",
        {
            "form": form,
            "shown": shown,
            "endpoints": selectors.endpoints_visible(user=request.user),
            "script_deliveries": selectors.script_deliveries(user=request.user)[:50],
        },
    )


@require_http_methods(["GET", "POST"])
def webhooks(request: HttpRequest) -> HttpResponse:
    form = EndpointForm(request.POST if request.method == "POST" else None)
    shown = None
    if request.method == "POST" and form.is_valid():
        try:
            shown = services.endpoint_create(actor=request.user, **form.cleaned_data)
        except services.NotifyRefused as exc:
            form.add_error("url", exc.message)
        except PermissionDenied as exc:
            form.add_error("org_wide", str(exc))
        else:
            form = EndpointForm()
    response = _webhooks_page(request, form, shown)
    if form.is_bound and form.errors:
        response.status_code = 400
    return _no_store(response) if shown else response


@require_POST
def script_rotate(request: HttpRequest) -> HttpResponse:
    shown = services.script_secret_rotate(user=request.user)
    return _no_store(_webhooks_page(request, EndpointForm(), shown))


@require_GET
def endpoint_detail(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = _endpoint(request, endpoint_id)
    deliveries = endpoint.deliveries.prefetch_related("log")[:50]
    return render(request, "notify/endpoint.html", {"endpoint": endpoint, "deliveries": deliveries})


@require_POST
def endpoint_rotate(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    shown = services.endpoint_rotate(endpoint=_endpoint(request, endpoint_id), actor=request.user)
    endpoint = shown.endpoint
    assert endpoint is not None
    deliveries = endpoint.deliveries.prefetch_related("log")[:50]
    return _no_store(
        render(
            request,
            "notify/endpoint.html",
            {"endpoint": endpoint, "deliveries": deliveries, "shown": shown},
        )
    )


@require_POST
def endpoint_enable(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    services.endpoint_enable(endpoint=_endpoint(request, endpoint_id), actor=request.user)
    messages.success(request, "The endpoint is enabled again.")
    return redirect("notify:endpoint", endpoint_id)


@require_POST
def endpoint_delete(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    services.endpoint_delete(endpoint=_endpoint(request, endpoint_id), actor=request.user)
    messages.success(request, "The endpoint was deleted.")
    return redirect("notify:webhooks")


@require_POST
def endpoint_test(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    try:
        services.endpoint_send_test(endpoint=_endpoint(request, endpoint_id), actor=request.user)
    except services.NotifyRefused as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "A test event is on its way; its attempts appear below.")
    return redirect("notify:endpoint", endpoint_id)


@require_POST
def redeliver(request: HttpRequest, delivery_id: int) -> HttpResponse:
    delivery = get_object_or_404(Delivery.objects.select_related("endpoint"), pk=delivery_id)
    if not request.user.may_manage(delivery.owner_id):
        raise Http404("No such delivery.")
    try:
        services.delivery_redeliver(delivery=delivery, actor=request.user)
    except services.NotifyRefused as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "The event will be delivered again (same webhook-id).")
    if delivery.endpoint_id:
        return redirect("notify:endpoint", delivery.endpoint_id)
    return redirect("notify:webhooks")
