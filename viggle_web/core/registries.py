"""Registries through which a higher app extends a lower app's lists without the lower app
importing it (dependencies point one way, docs/architecture.md)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from django.db import models
from django.db.models import QuerySet

M = TypeVar("M", bound=models.Model)
Choices = Callable[[], list[tuple[str, str]]]


class FilterSources(Generic[M]):
    """Filter values whose choices come from a higher app's rows (batches: one per collection).

    Each source lists its choices (value, label) and narrows a queryset for a value it knows,
    answering None for a value that is not its own. Sources register from AppConfig.ready."""

    def __init__(self) -> None:
        self._sources: list[tuple[Choices, Callable[[str, QuerySet[M]], QuerySet[M] | None]]] = []

    def register(
        self, choices: Choices, apply: Callable[[str, QuerySet[M]], QuerySet[M] | None]
    ) -> None:
        if (choices, apply) not in self._sources:
            self._sources.append((choices, apply))

    def choices(self) -> list[tuple[str, str]]:
        return [choice for choices, _ in self._sources for choice in choices()]

    def apply(self, value: str, rows: QuerySet[M]) -> QuerySet[M]:
        """``rows`` narrowed by the source that knows ``value`` (unchanged when none does)."""
        for _, apply in self._sources:
            narrowed = apply(value, rows)
            if narrowed is not None:
                return narrowed
        return rows
