"""The gallery page, the detail page, in-place edits, permissions and file serving."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.assets.conftest import stored_files
from tests.assets.factories import make_asset
from viggle_web.assets.models import Asset, Tag, ViggleResource
from viggle_web.renders.models import RenderJob

INDEX = reverse("gallery:index")
HTMX = {"HTTP_HX_REQUEST": "true"}


def url(name: str, asset: Asset) -> str:
    return reverse(f"gallery:{name}", args=[asset.pk])


@pytest.mark.django_db
def test_an_empty_gallery_says_so(member_client, media_root):
    response = member_client.get(INDEX)
    assert response.status_code == 200
    assert b"The gallery is empty" in response.content


@pytest.mark.django_db
def test_the_gallery_lists_cards_with_previews(member_client, member, media_root):
    asset = make_asset(member, name="Dancer")
    response = member_client.get(INDEX)
    assert response.status_code == 200
    html = response.content.decode()
    assert f'id="asset-{asset.pk}"' in html
    assert url("preview", asset) in html
    assert "Dancer" in html


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query", ["kind=sound", "page=abc", "page=0", "uploader=999999", "tag=nope", "sort=random"]
)
def test_an_invalid_query_string_is_a_400(member_client, query):
    assert member_client.get(f"{INDEX}?{query}").status_code == 400


@pytest.mark.django_db
def test_it_filters_by_kind_uploader_tag_favourite_and_name(
    member_client, member, other_member, media_root
):
    hero = make_asset(member, name="Hero pose")
    dance = make_asset(other_member, name="Dance loop", kind="video", duration_seconds=3.0)
    villain = make_asset(other_member, name="Villain")
    tag = Tag.objects.create(name="dance")
    dance.tags.add(tag)
    villain.favourited_by.add(member)

    def names(query: str) -> set[str]:
        response = member_client.get(f"{INDEX}?{query}")
        assert response.status_code == 200
        return {a.name for a in response.context["page"].object_list}

    assert names("kind=video") == {"Dance loop"}
    assert names(f"uploader={member.pk}") == {"Hero pose"}
    assert names("tag=dance") == {"Dance loop"}
    assert names("favourites=on") == {"Villain"}
    assert names("q=hero") == {"Hero pose"}
    assert names("") == {"Hero pose", "Dance loop", "Villain"}
    assert hero.pk  # all three were created


@pytest.mark.django_db
def test_it_sorts_by_name_duration_and_use(member_client, member, media_root):
    make_asset(member, name="b", kind="video", duration_seconds=1.0, use_count=5)
    make_asset(member, name="a", kind="video", duration_seconds=9.0, use_count=1)
    make_asset(member, name="c")

    def order(sort: str) -> list[str]:
        response = member_client.get(f"{INDEX}?sort={sort}")
        return [a.name for a in response.context["page"].object_list]

    assert order("name") == ["a", "b", "c"]
    assert order("duration") == ["a", "b", "c"]
    assert order("most_used") == ["b", "a", "c"]
    assert order("newest") == ["c", "a", "b"]


@pytest.mark.django_db
def test_archived_assets_are_not_listed(member_client, member, media_root):
    make_asset(member, name="Gone", archived_at="2026-01-01T00:00:00Z")
    response = member_client.get(INDEX)
    assert list(response.context["page"].object_list) == []


@pytest.mark.django_db
def test_the_first_page_of_10000_assets_takes_few_queries(
    member_client, member, django_assert_max_num_queries
):
    Asset.objects.bulk_create(
        Asset(
            kind="image",
            name=f"asset {i:05d}",
            sha256=f"{i:064x}",
            uploaded_by=member,
            width=256,
            height=256,
        )
        for i in range(10_000)
    )
    # Tags, favourites and Viggle resources on the whole first page: no query per card.
    first_page = list(Asset.objects.order_by("name")[:30])
    tag = Tag.objects.create(name="crowd")
    Asset.tags.through.objects.bulk_create(
        Asset.tags.through(asset_id=a.pk, tag_id=tag.pk) for a in first_page
    )
    Asset.favourited_by.through.objects.bulk_create(
        Asset.favourited_by.through(asset_id=a.pk, user_id=member.pk) for a in first_page
    )
    ViggleResource.objects.bulk_create(
        ViggleResource(asset=a, kind="character", requested_by=member, status="ready")
        for a in first_page
    )
    with django_assert_max_num_queries(12):
        response = member_client.get(f"{INDEX}?sort=name")
    assert response.status_code == 200
    assert response.context["page"].paginator.count == 10_000
    html = response.content.decode()
    assert "asset 00000" in html and "#crowd" in html and "Character: Ready" in html


@pytest.mark.django_db
def test_rename_in_place_returns_the_card(member_client, member, media_root):
    asset = make_asset(member, name="Old")
    form = member_client.get(url("rename", asset), **HTMX)
    assert form.status_code == 200
    assert b'name="name"' in form.content

    response = member_client.post(url("rename", asset), {"name": "New name"}, **HTMX)

    assert response.status_code == 200
    assert b"New name" in response.content
    assert b'id="asset-' in response.content
    assert b"<html" not in response.content  # a fragment, not the page
    asset.refresh_from_db()
    assert asset.name == "New name"


@pytest.mark.django_db
def test_tags_and_favourite_in_place(member_client, member, media_root):
    asset = make_asset(member)
    response = member_client.post(url("tags", asset), {"tags": "Dance, hero ,dance"}, **HTMX)
    assert response.status_code == 200
    assert b"#dance" in response.content
    assert sorted(asset.tags.values_list("name", flat=True)) == ["dance", "hero"]

    response = member_client.post(url("favourite", asset), **HTMX)
    assert b'aria-pressed="true"' in response.content
    assert asset.favourited_by.filter(pk=member.pk).exists()
    member_client.post(url("favourite", asset), **HTMX)
    assert not asset.favourited_by.exists()


@pytest.mark.django_db
def test_another_member_may_view_but_not_change(client, member, other_member, media_root):
    asset = make_asset(member, name="Mine")
    client.force_login(other_member)

    assert client.get(url("detail", asset)).status_code == 200
    assert client.get(url("file", asset)).status_code == 200
    assert client.post(url("rename", asset), {"name": "Theirs"}).status_code == 403
    assert client.post(url("tags", asset), {"tags": "x"}).status_code == 403
    assert client.post(url("delete", asset)).status_code == 403
    asset.refresh_from_db()
    assert asset.name == "Mine"
    assert not asset.tags.exists()
    # A favourite is personal, so anyone may star a shared asset.
    assert client.post(url("favourite", asset)).status_code == 302


@pytest.mark.django_db
def test_an_admin_may_delete_any_asset_and_its_files_go(
    admin_client, member, media_root, django_capture_on_commit_callbacks
):
    asset = make_asset(member)
    assert len(stored_files(media_root)) == 2
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url("delete", asset))
    assert response.status_code == 302
    assert not Asset.objects.filter(pk=asset.pk).exists()
    assert stored_files(media_root) == []


@pytest.mark.django_db
def test_an_asset_used_by_a_render_is_archived_not_deleted(
    member_client, member, media_root, django_capture_on_commit_callbacks
):
    character = make_asset(member, name="Star")
    job = RenderJob.objects.create(owner=member, idempotency_key="k1", character=character)
    with django_capture_on_commit_callbacks(execute=True):
        response = member_client.post(url("delete", character), **HTMX)
    assert response.status_code == 200
    assert "archived" in response["HX-Trigger"]
    character.refresh_from_db()
    assert character.archived_at is not None
    assert len(stored_files(media_root)) == 2
    # Its detail page still shows the render that used it.
    detail = member_client.get(url("detail", character))
    assert job.public_id in detail.content.decode()


@pytest.mark.django_db
def test_media_needs_login(client, member, media_root):
    asset = make_asset(member)
    for name in ("file", "preview"):
        response = client.get(url(name, asset))
        assert response.status_code == 302
        assert response["Location"].startswith("/login/")


@pytest.mark.django_db
def test_media_is_served_with_ranges(member_client, member, media_root):
    asset = make_asset(member, content=bytes(range(256)) * 4)
    whole = member_client.get(url("file", asset))
    assert whole.status_code == 200
    assert b"".join(whole.streaming_content) == bytes(range(256)) * 4
    part = member_client.get(url("file", asset), HTTP_RANGE="bytes=10-19")
    assert part.status_code == 206
    assert part["Content-Range"] == "bytes 10-19/1024"
    assert b"".join(part.streaming_content) == bytes(range(10, 20))
    assert member_client.get(url("file", asset), HTTP_RANGE="bytes=5000-").status_code == 416


@pytest.mark.django_db
def test_detail_page_shows_metadata_and_render_link(member_client, member, media_root):
    asset = make_asset(member, name="Walk", kind="video", duration_seconds=2.5, fps=24)
    response = member_client.get(url("detail", asset))
    html = response.content.decode()
    assert response.status_code == 200
    assert "2.50 s" in html and "24 fps" in html
    assert member.display_name in html
    try:
        new_render = reverse("renders:new")
    except Exception:
        return
    assert f"{new_render}?motion={asset.pk}" in html


@pytest.mark.django_db
def test_the_htmx_filter_refresh_shows_why_a_value_was_refused(member_client, member, media_root):
    """The filter form refreshes only the results (htmx): a refused value's message comes with
    them, next to the filter, and the results are those without the refused filter."""
    make_asset(member, name="Dancer")
    fragment = member_client.get(INDEX, {"sort": "random", "q": "Dan"}, **HTMX)
    assert fragment.status_code == 200  # htmx swaps only 2xx answers
    body = fragment.content.decode()
    assert body.lstrip().startswith('<div id="gallery-results">')
    assert 'class="filter-errors" role="alert"' in body
    assert "Sort" in body[body.index("filter-errors") : body.index('id="asset-grid"')]
    assert "Dancer" in body
    # A good filter brings no message.
    clean = member_client.get(INDEX, {"sort": "newest"}, **HTMX).content.decode()
    assert "filter-errors" not in clean
