"""Entity page extension: tabs and cards contributed by any plugin, shown when a predicate holds.

The catalog's own tabs (Overview, Relations graph, Raw) use this same registry, so a plugin's
"Docs" or "API definition" tab is a peer of the built-in ones, not a special case.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from fastapi import Request
from markupsafe import Markup

from greenroom.core.plugin_api import ExtensionPoint, ServiceRef, create_extension_point, create_service_ref

if TYPE_CHECKING:
    from greenroom.core.services.identity import Principal
    from greenroom.plugins.catalog.service import CatalogService

Entity = Mapping[str, Any]
EntityPredicate = Callable[[Entity], bool]


@dataclass(frozen=True)
class EntityContext:
    """Everything a tab or card needs to render for one entity."""

    request: Request
    entity: dict[str, Any]
    entity_ref: str
    catalog: CatalogService
    principal: Principal | None = None

    @property
    def kind(self) -> str:
        return str(self.entity.get("kind", ""))

    @property
    def metadata(self) -> dict[str, Any]:
        return dict(self.entity.get("metadata") or {})

    @property
    def spec(self) -> dict[str, Any]:
        return dict(self.entity.get("spec") or {})

    @property
    def annotations(self) -> dict[str, str]:
        return dict(self.metadata.get("annotations") or {})


Render = Callable[[EntityContext], Markup | str | None]


def always(entity: Entity) -> bool:
    return True


def is_kind(*kinds: str) -> EntityPredicate:
    wanted = {k.lower() for k in kinds}
    return lambda entity: str(entity.get("kind", "")).lower() in wanted


def has_annotation(key: str) -> EntityPredicate:
    return lambda entity: bool(((entity.get("metadata") or {}).get("annotations") or {}).get(key))


def is_spec_type(*types: str) -> EntityPredicate:
    wanted = {t.lower() for t in types}
    return lambda entity: str((entity.get("spec") or {}).get("type", "")).lower() in wanted


def all_of(*predicates: EntityPredicate) -> EntityPredicate:
    return lambda entity: all(p(entity) for p in predicates)


def any_of(*predicates: EntityPredicate) -> EntityPredicate:
    return lambda entity: any(p(entity) for p in predicates)


@dataclass(frozen=True)
class EntityTab:
    """A tab at /catalog/{namespace}/{kind}/{name}/{id}; `id` "" is the default (overview) tab."""

    id: str
    title: str
    render: Render
    predicate: EntityPredicate = always
    order: int = 100
    plugin_id: str = "catalog"


@dataclass(frozen=True)
class EntityCard:
    """A card on the overview tab; `area` "main" is the wide column, "side" the narrow one."""

    id: str
    title: str
    render: Render
    predicate: EntityPredicate = always
    area: Literal["main", "side"] = "main"
    order: int = 100
    plugin_id: str = "catalog"


@dataclass
class EntityPageRegistry:
    """Holds every tab and card; thread-safe, later registrations with the same id replace earlier."""

    _tabs: dict[str, EntityTab] = field(default_factory=dict)
    _cards: dict[str, EntityCard] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add_tab(self, tab: EntityTab) -> None:
        with self._lock:
            self._tabs[tab.id] = tab

    def add_card(self, card: EntityCard) -> None:
        with self._lock:
            self._cards[card.id] = card

    def tabs_for(self, entity: Entity) -> list[EntityTab]:
        with self._lock:
            tabs = list(self._tabs.values())
        return sorted((t for t in tabs if t.predicate(entity)), key=lambda t: (t.order, t.title))

    def cards_for(self, entity: Entity, area: str) -> list[EntityCard]:
        with self._lock:
            cards = list(self._cards.values())
        return sorted(
            (c for c in cards if c.area == area and c.predicate(entity)), key=lambda c: (c.order, c.title)
        )


catalog_entity_page_extension_point: ExtensionPoint[EntityPageRegistry] = create_extension_point(
    "catalog.entityPage"
)
entity_page_service_ref: ServiceRef[EntityPageRegistry] = create_service_ref("catalog.entityPage", "root")
