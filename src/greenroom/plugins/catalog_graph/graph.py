"""Build an entity relation graph: breadth-first from root refs, one catalog query per depth level.

This mirrors Backstage's catalog-graph plugin (`/catalog-graph?rootEntityRefs[]=...`): the same
options, the same meaning of `unidirectional` (only edges pointing away from the roots) and
`mergeRelations` (a relation and its reverse drawn as one edge), but computed on the server with
bounded queries: level *d* of the traversal is fetched with a single `entities_by_refs` call that
asks only for the fields a node needs, and the whole graph is capped at `max_nodes`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol

import orjson

Direction = Literal["LR", "RL", "TB", "BT"]
DIRECTIONS: tuple[Direction, ...] = ("LR", "RL", "TB", "BT")

MAX_NODES = 300
MAX_DEPTH = 5
"""Deepest traversal a request may ask for; deeper graphs are unreadable and expensive anyway."""

# Only what a node shows or the traversal needs; never annotations, spec bodies or definitions.
NODE_FIELDS: tuple[str, ...] = (
    "kind",
    "metadata.name",
    "metadata.namespace",
    "metadata.title",
    "metadata.description",
    "spec.type",
    "relations",
)

# (primary, reverse) as Backstage's catalog graph pairs them: a merged edge is drawn in the primary
# direction (the group owns the component, the system has the part) and labelled with both names.
RELATION_PAIRS: tuple[tuple[str, str], ...] = (
    ("ownerOf", "ownedBy"),
    ("providesApi", "apiProvidedBy"),
    ("consumesApi", "apiConsumedBy"),
    ("dependsOn", "dependencyOf"),
    ("hasPart", "partOf"),
    ("parentOf", "childOf"),
    ("hasMember", "memberOf"),
)
ALL_RELATIONS: tuple[str, ...] = tuple(name for pair in RELATION_PAIRS for name in pair)
_PAIR_OF: dict[str, tuple[str, str]] = {name: pair for pair in RELATION_PAIRS for name in pair}

RELATION_TITLES: dict[str, str] = {
    "ownerOf": "owner of",
    "ownedBy": "owned by",
    "providesApi": "provides API",
    "apiProvidedBy": "API provided by",
    "consumesApi": "consumes API",
    "apiConsumedBy": "API consumed by",
    "dependsOn": "depends on",
    "dependencyOf": "dependency of",
    "hasPart": "has part",
    "partOf": "part of",
    "parentOf": "parent of",
    "childOf": "child of",
    "hasMember": "has member",
    "memberOf": "member of",
}

KINDS: tuple[str, ...] = (
    "component",
    "api",
    "resource",
    "system",
    "domain",
    "group",
    "user",
    "template",
    "location",
)

# A System or Domain is shown as an architecture view: its parts and their dependencies.
SYSTEM_VIEW_KINDS = frozenset({"system", "domain"})
SYSTEM_VIEW_RELATIONS: tuple[str, ...] = ("hasPart", "partOf", "dependsOn", "dependencyOf")
SYSTEM_VIEW_DEPTH = 2

# Team membership is what a Group or User graph is about; from anything else it only pulls in every
# member of every owning team one level further out, so it is left out unless asked for.
MEMBERSHIP_RELATIONS: tuple[str, ...] = ("hasMember", "memberOf")
MEMBERSHIP_KINDS = frozenset({"group", "user"})


class EntityLookup(Protocol):
    """The slice of the catalog query service the graph needs (`CatalogService.query`)."""

    def entities_by_refs(
        self, refs: Sequence[str], *, fields: Sequence[str] | None = None
    ) -> list[bytes | None]: ...


@dataclass(frozen=True)
class GraphOptions:
    """What to draw; field names follow Backstage's query parameters."""

    root_refs: tuple[str, ...]
    max_depth: int = 1
    kinds: tuple[str, ...] | None = None
    """Lower-case kinds to include (the roots are always shown); None means every kind."""
    relations: tuple[str, ...] | None = None
    """Relation types to follow and draw; None means every relation type."""
    direction: Direction = "LR"
    unidirectional: bool = True
    merge_relations: bool = True
    max_nodes: int = MAX_NODES
    root_edges_only: bool = False
    """Draw only relations that touch a root: the compact star the overview card shows."""

    def with_defaults_for(self, root_kind: str, *, relations_given: bool, depth_given: bool) -> GraphOptions:
        """Defaults that depend on the root's kind, for whatever the request did not choose.

        A System or Domain shows its architecture view (its parts and their dependencies); any
        other root but a Group or User leaves out team membership.
        """
        kind = root_kind.lower()
        options = self
        if not relations_given:
            options = replace(options, relations=default_relations(kind))
        if kind in SYSTEM_VIEW_KINDS and not depth_given:
            options = replace(options, max_depth=max(options.max_depth, SYSTEM_VIEW_DEPTH))
        return options


def default_relations(root_kind: str) -> tuple[str, ...] | None:
    """The relation types drawn for a root of this kind when none are chosen (None: every type)."""
    kind = root_kind.lower()
    if kind in SYSTEM_VIEW_KINDS:
        return SYSTEM_VIEW_RELATIONS
    if kind in MEMBERSHIP_KINDS:
        return None
    return tuple(name for name in ALL_RELATIONS if name not in MEMBERSHIP_RELATIONS)


@dataclass(frozen=True)
class GraphNode:
    ref: str
    kind: str
    namespace: str
    name: str
    title: str | None
    description: str | None
    spec_type: str | None
    depth: int
    is_root: bool

    @property
    def label(self) -> str:
        return self.title or self.name

    @property
    def kind_line(self) -> str:
        """The small line above the name: kind, and type when there is one."""
        return self.kind.lower() + (f" · {self.spec_type}" if self.spec_type else "")


@dataclass(frozen=True)
class GraphEdge:
    source: str
    target: str
    relations: tuple[str, ...]
    """The relation types this edge stands for: one, or a merged (primary, reverse) pair."""

    @property
    def label(self) -> str:
        return RELATION_TITLES.get(self.relations[0], self.relations[0])


@dataclass
class EntityGraph:
    nodes: dict[str, GraphNode] = field(default_factory=dict)
    edges: list[GraphEdge] = field(default_factory=list)
    truncated: bool = False
    missing_roots: list[str] = field(default_factory=list)
    queries: int = 0
    """How many `entities_by_refs` calls were made (one per depth level)."""


def normalize_ref(ref: str) -> str:
    """Lower-case a ref and fill in the default namespace, as the catalog stores `entity_ref`."""
    ref = ref.strip().lower()
    kind, colon, rest = ref.partition(":")
    if colon and "/" not in rest:
        return f"{kind}:default/{rest}"
    return ref


def _ref_kind(ref: str) -> str:
    return ref.partition(":")[0]


def _relations_of(entity: Mapping[str, Any]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for relation in entity.get("relations") or ():
        if not isinstance(relation, Mapping):
            continue
        rel_type, target = relation.get("type"), relation.get("targetRef")
        if isinstance(rel_type, str) and isinstance(target, str) and target:
            out.append((rel_type, normalize_ref(target)))
    return sorted(set(out))


def _node(ref: str, entity: Mapping[str, Any], depth: int, is_root: bool) -> GraphNode:
    metadata = entity.get("metadata") or {}
    spec = entity.get("spec") or {}
    kind, _, rest = ref.partition(":")
    namespace, _, name = rest.partition("/")

    def text(value: Any) -> str | None:
        return value if isinstance(value, str) and value.strip() else None

    return GraphNode(
        ref=ref,
        kind=str(entity.get("kind") or kind),
        namespace=str(metadata.get("namespace") or namespace),
        name=str(metadata.get("name") or name),
        title=text(metadata.get("title")),
        description=text(metadata.get("description")),
        spec_type=text(spec.get("type")) if isinstance(spec, Mapping) else None,
        depth=depth,
        is_root=is_root,
    )


def build_graph(lookup: EntityLookup, options: GraphOptions) -> EntityGraph:
    """Traverse from the roots level by level and return the nodes and the edges between them."""
    graph = EntityGraph()
    wanted_relations = None if options.relations is None else frozenset(options.relations)
    wanted_kinds = None if options.kinds is None else frozenset(k.lower() for k in options.kinds)
    max_depth = max(0, min(options.max_depth, MAX_DEPTH))
    max_nodes = max(1, options.max_nodes)

    def follows(rel_type: str, target: str) -> bool:
        if wanted_relations is not None and rel_type not in wanted_relations:
            return False
        return wanted_kinds is None or _ref_kind(target) in wanted_kinds

    roots = list(dict.fromkeys(normalize_ref(ref) for ref in options.root_refs if ref.strip()))
    if len(roots) > max_nodes:
        roots, graph.truncated = roots[:max_nodes], True
    relations: dict[str, list[tuple[str, str]]] = {}
    level = roots
    depth = 0
    while level:
        graph.queries += 1
        raw_entities = lookup.entities_by_refs(level, fields=NODE_FIELDS)
        found: list[str] = []
        for ref, raw in zip(level, raw_entities, strict=True):
            if raw is None:
                if depth == 0:
                    graph.missing_roots.append(ref)
                continue
            entity = orjson.loads(raw)
            graph.nodes[ref] = _node(ref, entity, depth, is_root=depth == 0)
            relations[ref] = [(t, target) for t, target in _relations_of(entity) if follows(t, target)]
            found.append(ref)
        if depth >= max_depth:
            break
        next_level: dict[str, None] = {}
        for ref in found:
            for _, target in relations[ref]:
                if target not in graph.nodes:
                    next_level[target] = None
        candidates = sorted(next_level)
        room = max_nodes - len(graph.nodes)
        if len(candidates) > room:
            candidates, graph.truncated = candidates[: max(room, 0)], True
        level = candidates
        depth += 1

    graph.edges = _edges(graph, relations, options)
    return graph


def _edges(
    graph: EntityGraph, relations: Mapping[str, Sequence[tuple[str, str]]], options: GraphOptions
) -> list[GraphEdge]:
    """Edges between drawn nodes, in traversal order.

    `unidirectional` keeps only relations that point away from the roots: to an entity found at a
    greater depth, or between two entities at the same depth once per pair. (Backstage drops the
    latter entirely, which hides a dependency between two neighbours of the root.)
    """
    order = sorted(graph.nodes.values(), key=lambda n: (n.depth, n.ref))
    linked: set[frozenset[str]] = set()
    seen: set[tuple[str, tuple[str, ...], str]] = set()
    edges: list[GraphEdge] = []
    for node in order:
        drawn_here: set[frozenset[str]] = set()
        for rel_type, target in relations.get(node.ref, ()):
            other = graph.nodes.get(target)
            if other is None or target == node.ref:
                continue
            if options.root_edges_only and not (node.is_root or other.is_root):
                continue
            pair_key = frozenset((node.ref, target))
            if options.unidirectional and (other.depth < node.depth or pair_key in linked):
                continue
            drawn_here.add(pair_key)
            if options.merge_relations and rel_type in _PAIR_OF:
                pair = _PAIR_OF[rel_type]
                primary = rel_type == pair[0]
                source, dest = (node.ref, target) if primary else (target, node.ref)
                edge = GraphEdge(source=source, target=dest, relations=pair)
            else:
                edge = GraphEdge(source=node.ref, target=target, relations=(rel_type,))
            key = (edge.source, edge.relations, edge.target)
            if key not in seen:
                seen.add(key)
                edges.append(edge)
        # Several relation types between the same two entities are all drawn; the reverse side is not.
        linked |= drawn_here
    return edges


def parse_refs(values: Iterable[str]) -> tuple[str, ...]:
    """Refs from repeated and/or comma- or space-separated parameter values, de-duplicated."""
    refs: dict[str, None] = {}
    for value in values:
        for part in value.replace(",", " ").split():
            refs[part] = None
    return tuple(refs)
