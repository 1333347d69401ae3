from __future__ import annotations

from django import template

register = template.Library()


@register.simple_tag(takes_context=True)
def query_with(context: template.Context, **changes: object) -> str:
    """The current query string with some keys replaced (for pagination and sort links)."""
    query = context["request"].GET.copy()
    for key, value in changes.items():
        if value in (None, ""):
            query.pop(key, None)
        else:
            query[key] = str(value)
    return query.urlencode()


@register.filter
def get_item(mapping: object, key: str) -> object:
    """``{{ form.data|get_item:name }}``: look a key up in a dict or QueryDict."""
    getter = getattr(mapping, "get", None)
    return getter(key) if getter else None


@register.filter
def may_manage(user: object, owner_id: int | None) -> bool:
    """``{% if request.user|may_manage:job.owner_id %}``: the owner-or-admin rule
    (``User.may_manage``) for templates."""
    check = getattr(user, "may_manage", None)
    return bool(check and check(owner_id))
