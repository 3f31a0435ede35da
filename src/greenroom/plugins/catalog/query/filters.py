"""Entity filters: one small AST fed by both Backstage syntaxes and compiled to SQL on `search`.

`filter=` query strings (GET endpoints) and predicate objects (POST endpoints, permission
conditions) both become the same tree, so every endpoint filters, counts and pages in SQL the
same way. The tree also round-trips through a predicate object, which is how cursors carry it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from greenroom.core.errors import InputError
from greenroom.plugins.catalog.query.search_index import scalar_text
from greenroom.plugins.catalog.tables import final_entities, search


@dataclass(frozen=True, slots=True)
class FieldMatch:
    """Entities having `key` with a value in `values`, starting with `prefix`, or at all.

    `exists=False` negates the whole condition (the entity has no such matching row).
    """

    key: str
    values: tuple[str, ...] | None = None
    exists: bool = True
    prefix: str | None = None


@dataclass(frozen=True, slots=True)
class ContainsRelation:
    """Entities with a relation of `type` (any type when None) to one of `target_refs` (any when None)."""

    type: str | None
    target_refs: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class AllOf:
    """Every child matches; no children matches everything."""

    filters: tuple[Filter, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    """At least one child matches; no children matches nothing."""

    filters: tuple[Filter, ...]


@dataclass(frozen=True, slots=True)
class Not:
    """The child does not match."""

    filter: Filter


@dataclass(frozen=True, slots=True)
class MatchNothing:
    """Matches no entity: what an unknown `$` operator evaluates to in Backstage."""


Filter: TypeAlias = FieldMatch | ContainsRelation | AllOf | AnyOf | Not | MatchNothing


# --- filter= query strings ----------------------------------------------------------------------


def parse_filter_params(params: Sequence[str]) -> Filter | None:
    """Parse repeated `filter` parameters: each is an AND-set, the sets are ORed; None when empty."""
    sets = [parsed for parsed in (_parse_filter_set(param) for param in params) if parsed is not None]
    if not sets:
        return None
    return sets[0] if len(sets) == 1 else AnyOf(tuple(sets))


def _parse_filter_set(text: str) -> Filter | None:
    values_by_key: dict[str, list[str] | None] = {}
    for raw in text.split(","):
        statement = raw.strip()
        if not statement:
            continue
        key, equals, value = statement.partition("=")
        key = key.strip()
        if not key:
            raise InputError(
                f"Invalid filter, '{statement}' is not a valid statement (expected a string on the form a=b or a= or a)"
            )
        if not equals:
            # A bare key ORed with values of the same key is just "exists".
            values_by_key[key] = None
            continue
        if key not in values_by_key:
            values_by_key[key] = []
        known = values_by_key[key]
        if known is not None:
            known.append(value.strip())
    if not values_by_key:
        return None
    conditions: list[Filter] = [
        FieldMatch(key, None if values is None else tuple(values)) for key, values in values_by_key.items()
    ]
    return conditions[0] if len(conditions) == 1 else AllOf(tuple(conditions))


# --- predicate objects --------------------------------------------------------------------------

_LOGICAL = ("$all", "$any", "$not")


def parse_predicate(query: Any) -> Filter:
    """Parse a Backstage filter predicate (`$all`/`$any`/`$not`, field expressions and matchers)."""
    if not isinstance(query, dict):
        raise InputError("Invalid filter predicate: the query must be an object")
    return _parse_node(query, "query")


def _parse_node(node: Any, where: str) -> Filter:
    if not isinstance(node, dict):
        raise InputError(f"Invalid filter predicate at {where}: expected an object")
    operators = [key for key in node if isinstance(key, str) and key.startswith("$")]
    if operators:
        if len(node) != 1:
            raise InputError(
                f"Invalid filter predicate at {where}: '{operators[0]}' must be the only key in its object"
            )
        operator = operators[0]
        operand = node[operator]
        if operator in ("$all", "$any"):
            if not isinstance(operand, list):
                raise InputError(f"Invalid filter predicate at {where}: '{operator}' expects an array")
            children = tuple(
                _parse_node(child, f"{where}.{operator}[{i}]") for i, child in enumerate(operand)
            )
            return AllOf(children) if operator == "$all" else AnyOf(children)
        if operator == "$not":
            return Not(_parse_node(operand, f"{where}.$not"))
        return MatchNothing()
    conditions = [_parse_field(key, matcher, f"{where}.{key}") for key, matcher in node.items()]
    return conditions[0] if len(conditions) == 1 else AllOf(tuple(conditions))


def _primitive(value: Any) -> bool:
    return isinstance(value, str | int | float)  # bool is an int


def _parse_field(key: str, matcher: Any, where: str) -> Filter:
    if not key:
        raise InputError(f"Invalid filter predicate at {where}: empty field name")
    if _primitive(matcher):
        return FieldMatch(key, (scalar_text(matcher),))
    if not isinstance(matcher, dict) or not matcher:
        raise InputError(
            f"Invalid filter predicate at {where}: expected a string, number, boolean or operator"
        )
    conditions: list[Filter] = []
    for operator, operand in matcher.items():
        if not isinstance(operator, str) or not operator.startswith("$"):
            raise InputError(f"Invalid filter predicate at {where}: '{operator}' is not an operator")
        conditions.append(_parse_operator(key, operator, operand, f"{where}.{operator}"))
    return conditions[0] if len(conditions) == 1 else AllOf(tuple(conditions))


def _parse_operator(key: str, operator: str, operand: Any, where: str) -> Filter:
    if operator == "$exists":
        if not isinstance(operand, bool):
            raise InputError(f"Invalid filter predicate at {where}: expected a boolean")
        return FieldMatch(key, exists=operand)
    if operator == "$in":
        return FieldMatch(key, _primitive_list(operand, where))
    if operator == "$hasPrefix":
        if not isinstance(operand, str):
            raise InputError(f"Invalid filter predicate at {where}: expected a string")
        return FieldMatch(key, prefix=operand)
    if operator == "$contains":
        return _parse_contains(key, operand, where)
    return MatchNothing()


def _primitive_list(operand: Any, where: str) -> tuple[str, ...]:
    if not isinstance(operand, list) or not all(_primitive(item) for item in operand):
        raise InputError(
            f"Invalid filter predicate at {where}: expected an array of strings, numbers or booleans"
        )
    return tuple(scalar_text(item) for item in operand)


def _parse_contains(key: str, operand: Any, where: str) -> Filter:
    # Array elements are indexed under the array's own key, so an element match is a field match.
    if _primitive(operand):
        return FieldMatch(key, (scalar_text(operand),))
    if not isinstance(operand, dict):
        raise InputError(f"Invalid filter predicate at {where}: expected a value or an object")
    if any(isinstance(k, str) and k.startswith("$") for k in operand):
        return _parse_field(key, operand, where)
    if key.lower() == "relations":
        return _parse_relation(operand, where)
    if not operand:
        raise InputError(f"Invalid filter predicate at {where}: expected a value or an object")
    conditions = [_parse_field(f"{key}.{sub}", matcher, f"{where}.{sub}") for sub, matcher in operand.items()]
    return conditions[0] if len(conditions) == 1 else AllOf(tuple(conditions))


def _parse_relation(operand: dict[str, Any], where: str) -> Filter:
    unknown = set(operand) - {"type", "targetRef"}
    if unknown:
        raise InputError(
            f"Invalid filter predicate at {where}: unknown relation field '{sorted(unknown)[0]}'"
        )
    relation_type = operand.get("type")
    if relation_type is not None and not isinstance(relation_type, str):
        raise InputError(f"Invalid filter predicate at {where}.type: expected a string")
    target = operand.get("targetRef")
    targets: tuple[str, ...] | None
    if target is None:
        targets = None
    elif isinstance(target, str):
        targets = (target,)
    elif isinstance(target, dict) and set(target) == {"$in"}:
        targets = _primitive_list(target["$in"], f"{where}.targetRef.$in")
    else:
        raise InputError(
            f"Invalid filter predicate at {where}.targetRef: expected a string or {{$in: [...]}}"
        )
    return ContainsRelation(relation_type, targets)


def filter_to_predicate(f: Filter) -> dict[str, Any]:
    """Serialise a filter as a predicate object that `parse_predicate` reads back to the same filter."""
    if isinstance(f, FieldMatch):
        if f.values is not None:
            matcher: dict[str, Any] = {"$in": list(f.values)}
        elif f.prefix is not None:
            matcher = {"$hasPrefix": f.prefix}
        else:
            return {f.key: {"$exists": f.exists}}
        return {f.key: matcher} if f.exists else {"$not": {f.key: matcher}}
    if isinstance(f, ContainsRelation):
        relation: dict[str, Any] = {}
        if f.type is not None:
            relation["type"] = f.type
        if f.target_refs is not None:
            relation["targetRef"] = {"$in": list(f.target_refs)}
        return {"relations": {"$contains": relation}}
    if isinstance(f, AllOf):
        return {"$all": [filter_to_predicate(child) for child in f.filters]}
    if isinstance(f, AnyOf):
        return {"$any": [filter_to_predicate(child) for child in f.filters]}
    if isinstance(f, Not):
        return {"$not": filter_to_predicate(f.filter)}
    return {"$any": []}


# --- SQL ----------------------------------------------------------------------------------------


def escape_like(text: str) -> str:
    """Escape LIKE wildcards with backslash (pair with `escape='\\\\'`)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def substring_match(keys: Sequence[str], needle: str) -> ColumnElement[bool]:
    """Search rows of one of `keys` whose value contains `needle` (already lower-cased).

    One `key = k AND value LIKE` arm per key rather than `key IN (...)`: on PostgreSQL each arm
    is answered by that key's own partial trigram index (migration 0014), so only rows of the
    asked-for keys are fetched and rechecked, not every name, title and description that
    contains the term.
    """
    pattern = f"%{escape_like(needle)}%"
    arms = [sa.and_(search.c.key == key, search.c.value.like(pattern, escape="\\")) for key in keys]
    return arms[0] if len(arms) == 1 else sa.or_(*arms)


def _value_condition(f: FieldMatch) -> ColumnElement[bool] | None:
    """The value part of a field match (values or prefix), None when any value will do."""
    if f.values is not None:
        lowered = sorted({value.lower() for value in f.values})
        return search.c.value == lowered[0] if len(lowered) == 1 else search.c.value.in_(lowered)
    if f.prefix is not None:
        return search.c.value.like(escape_like(f.prefix.lower()) + "%", escape="\\")
    return None


def _relation_conditions(f: ContainsRelation) -> list[ColumnElement[bool]]:
    """The key and target conditions of a relation match on `search` rows."""
    conditions: list[ColumnElement[bool]] = [
        search.c.key == f"relations.{f.type.lower()}"
        if f.type is not None
        else search.c.key.like("relations.%")
    ]
    if f.target_refs is not None:
        conditions.append(search.c.value.in_(sorted({ref.lower() for ref in f.target_refs})))
    return conditions


def all_entity_ids() -> sa.Select[Any]:
    """Every stored entity id: the universe a negation is taken from."""
    return sa.select(final_entities.c.entity_id.label("entity_id"))


def filter_to_id_select(f: Filter) -> sa.Select[Any]:
    """Compile a filter to the set of matching entity ids, one `entity_id` column without duplicates.

    Nothing here touches `final_entities` unless a negation needs the universe: leaves are ranges of the (key, value, entity_id) index combined with INTERSECT,
    UNION and EXCEPT, so counting and unordered paging read only that index. A single-value leaf
    comes out in entity id order straight from the index, which is what a first page needs.
    """
    if isinstance(f, FieldMatch):
        rows = sa.select(search.c.entity_id).where(search.c.key == f.key.lower())
        value = _value_condition(f)
        if value is not None:
            rows = rows.where(value)
        # one row per (entity, key, value): only a single-value match is free of duplicates
        single = f.values is not None and len({v.lower() for v in f.values}) == 1
        positive = rows if single else rows.distinct()
        return positive if f.exists else _except(all_entity_ids(), positive)
    if isinstance(f, ContainsRelation):
        return sa.select(search.c.entity_id).where(*_relation_conditions(f)).distinct()
    if isinstance(f, AllOf):
        if not f.filters:
            return all_entity_ids()
        parts = [filter_to_id_select(child) for child in f.filters]
        return parts[0] if len(parts) == 1 else _compound(sa.intersect, parts)
    if isinstance(f, AnyOf):
        if not f.filters:
            return no_entity_ids()
        parts = [filter_to_id_select(child) for child in f.filters]
        return parts[0] if len(parts) == 1 else _compound(sa.union, parts)
    if isinstance(f, Not):
        return _except(all_entity_ids(), filter_to_id_select(f.filter))
    return no_entity_ids()


def no_entity_ids() -> sa.Select[Any]:
    """The empty id set (an unknown operator, an empty `$any`)."""
    return sa.select(final_entities.c.entity_id.label("entity_id")).where(sa.false())


def intersect_ids(parts: Sequence[sa.Select[Any]]) -> sa.Select[Any]:
    """Entity ids in every one of `parts` (each an id select from `filter_to_id_select`)."""
    return parts[0] if len(parts) == 1 else _compound(sa.intersect, list(parts))


def _except(left: sa.Select[Any], right: sa.Select[Any]) -> sa.Select[Any]:
    return _compound(sa.except_, [left, right])


def _compound(operator: Any, parts: list[sa.Select[Any]]) -> sa.Select[Any]:
    # SQLite rejects a parenthesised compound inside another, so each side is a plain subquery.
    members = [sa.select(part.subquery().c.entity_id) for part in parts]
    compound = operator(*members).subquery()
    return sa.select(compound.c.entity_id)


def filter_to_probe(f: Filter, entity_id_col: ColumnElement[Any], dialect: str) -> ColumnElement[bool]:
    """Compile a filter to correlated EXISTS probes of one entity's own search rows.

    For walking an index in sort order and stopping after a page: each candidate costs a few
    index lookups instead of materialising every match first. On SQLite a leaf that is not a
    plain equality hides its key from the (key, value) index (`key || ''`), since SQLite without
    statistics would otherwise range-scan that key for every candidate instead of looking up
    the candidate's own rows through (entity_id, key).
    """

    def key_is(rows: sa.Select[Any], key: str, *, exact: bool) -> sa.Select[Any]:
        column: ColumnElement[Any] = search.c.key
        if not exact and dialect == "sqlite":
            column = search.c.key.op("||")(sa.literal_column("''"))
        return rows.where(column == key)

    if isinstance(f, FieldMatch):
        rows = sa.select(sa.literal(1)).select_from(search).where(search.c.entity_id == entity_id_col)
        rows = key_is(rows, f.key.lower(), exact=f.values is not None)
        value = _value_condition(f)
        if value is not None:
            rows = rows.where(value)
        return rows.exists() if f.exists else ~rows.exists()
    if isinstance(f, ContainsRelation):
        rows = sa.select(sa.literal(1)).select_from(search).where(search.c.entity_id == entity_id_col)
        if f.type is not None:
            rows = key_is(rows, f"relations.{f.type.lower()}", exact=f.target_refs is not None)
        else:
            rows = rows.where(search.c.key.like("relations.%"))
        if f.target_refs is not None:
            rows = rows.where(search.c.value.in_(sorted({ref.lower() for ref in f.target_refs})))
        return rows.exists()
    if isinstance(f, AllOf):
        if not f.filters:
            return sa.true()
        return sa.and_(*(filter_to_probe(child, entity_id_col, dialect) for child in f.filters))
    if isinstance(f, AnyOf):
        if not f.filters:
            return sa.false()
        return sa.or_(*(filter_to_probe(child, entity_id_col, dialect) for child in f.filters))
    if isinstance(f, Not):
        return sa.not_(filter_to_probe(f.filter, entity_id_col, dialect))
    return sa.false()
