"""The catalog REST API under /api/catalog — Backstage's paths, parameters, statuses and shapes.

Thin by design: parse the request, call the catalog service, shape the response. Entities are
sent as the JSON text stored by the stitcher, never re-encoded unless `fields` prunes them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import orjson
import yaml
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import StreamingResponse

from greenroom.core.errors import InputError, NotFoundError
from greenroom.plugins.catalog.query.filters import Filter, parse_filter_params, parse_predicate
from greenroom.plugins.catalog.service import CatalogService

JSON = "application/json"
YAML = "application/yaml"

# The OpenAPI document of this router (docs/openapi/catalog.yaml is an identical copy), read once.
OPENAPI_YAML: bytes = (Path(__file__).parent / "openapi.yaml").read_bytes()
OPENAPI_JSON: bytes = orjson.dumps(yaml.safe_load(OPENAPI_YAML))


def _json(content: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(content), status_code=status, media_type=JSON, headers=headers)


def _raw_list(items: list[bytes | None]) -> bytes:
    return b"[" + b",".join(b"null" if item is None else item for item in items) + b"]"


def _fields(request: Request) -> list[str] | None:
    values = [part.strip() for raw in request.query_params.getlist("fields") for part in raw.split(",")]
    values = [v for v in values if v]
    return values or None


# Integer query parameters are clamped to what every database accepts as LIMIT/OFFSET (a 32-bit
# INTEGER on PostgreSQL); larger values mean "everything" anyway.
_INT_PARAM_BOUND = 2**31 - 1


def _int_param(request: Request, name: str) -> int | None:
    given = request.query_params.getlist(name)
    if len(given) > 1:  # which one was meant is a guess; Backstage refuses the list too
        raise InputError(f"Invalid query parameter '{name}': expected one integer, got {len(given)} values")
    raw = given[0] if given else None
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError as error:
        raise InputError(f"Invalid query parameter '{name}': expected an integer, got '{raw}'") from error
    return max(-_INT_PARAM_BOUND, min(value, _INT_PARAM_BOUND))


def _reject_nul_in_url(request: Request) -> None:
    """NUL characters cannot be stored or compared in PostgreSQL text; refuse them as bad input."""
    if "\x00" in request.url.path or any(
        "\x00" in key or "\x00" in value for key, value in request.query_params.multi_items()
    ):
        raise InputError("The request URL must not contain NUL (\\u0000) characters")


def _reject_nul_in_body(value: Any) -> None:
    if isinstance(value, str):
        if "\x00" in value:
            raise InputError("The request body must not contain NUL (\\u0000) characters")
    elif isinstance(value, dict):
        for key, item in value.items():
            _reject_nul_in_body(key)
            _reject_nul_in_body(item)
    elif isinstance(value, list):
        for item in value:
            _reject_nul_in_body(item)


def _order_params(request: Request) -> list[tuple[str, str]]:
    orders: list[tuple[str, str]] = []
    for raw in request.query_params.getlist("order"):
        direction, sep, field = raw.partition(":")
        if not sep or direction not in ("asc", "desc") or not field.strip():
            raise InputError(f"Invalid order '{raw}': expected asc:<field> or desc:<field>")
        orders.append((field.strip(), direction))
    return orders


def _order_fields(request: Request) -> list[tuple[str, str]]:
    result: list[tuple[str, str]] = []
    for raw in request.query_params.getlist("orderField"):
        field, _, direction = raw.partition(",")
        direction = (direction or "asc").strip()
        if not field.strip() or direction not in ("asc", "desc"):
            raise InputError(f"Invalid orderField '{raw}': expected <field>,asc or <field>,desc")
        result.append((field.strip(), direction))
    return result


def _filter(request: Request) -> Filter | None:
    return parse_filter_params(request.query_params.getlist("filter"))


async def _body(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise InputError(f"Request body is not valid JSON: {error}") from error
    _reject_nul_in_body(body)
    return body


def _object_body(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InputError(f"Request body must be a JSON object, got {type(body).__name__}")
    return body


def _combine(a: Filter | None, b: Filter | None) -> Filter | None:
    from greenroom.plugins.catalog.query.filters import AllOf

    if a is None:
        return b
    if b is None:
        return a
    return AllOf((a, b))


def _location_json(location: Any) -> dict[str, str]:
    """A location as the API shows it: `{id, type, target, entityRef}`."""
    return {**location.to_json(), "entityRef": location.entity_ref}


def _page_body(items: list[bytes], total: int, next_cursor: str | None, prev_cursor: str | None) -> bytes:
    page_info: dict[str, str] = {}
    if next_cursor:
        page_info["nextCursor"] = next_cursor
    if prev_cursor:
        page_info["prevCursor"] = prev_cursor
    return (
        b'{"items":'
        + _raw_list(list(items))
        + b',"totalItems":'
        + str(total).encode()
        + b',"pageInfo":'
        + orjson.dumps(page_info)
        + b"}"
    )


def create_router(catalog: CatalogService) -> APIRouter:
    router = APIRouter(dependencies=[Depends(_reject_nul_in_url)])
    query = catalog.query

    # ---------------------------------------------------------------- entities
    @router.get("/entities")
    def get_entities(request: Request) -> Response:
        filter_ = _filter(request)
        fields = _fields(request)
        order = _order_params(request)
        offset = _int_param(request, "offset")
        limit = _int_param(request, "limit")
        after = request.query_params.get("after")
        if offset is None and limit is None and after is None:
            stream: Iterator[bytes] = query.stream_entities(filter=filter_, fields=fields, order=order)  # type: ignore[arg-type]
            return StreamingResponse(stream, media_type=JSON)
        page = query.list_entities(
            filter=filter_,
            fields=fields,
            order=order,  # type: ignore[arg-type]
            offset=offset,
            limit=limit,
            after=after,
        )
        headers = {}
        if page.next_after:
            params = [(k, v) for k, v in request.query_params.multi_items() if k not in ("after", "offset")]
            params.append(("after", page.next_after))
            headers["Link"] = f'<{request.url.path}?{urlencode(params)}>; rel="next"'
        return Response(_raw_list(list(page.items)), media_type=JSON, headers=headers)

    @router.get("/entities/by-query")
    def get_entities_by_query(request: Request) -> Response:
        cursor = request.query_params.get("cursor")
        full_text_term = request.query_params.get("fullTextFilterTerm")
        full_text_fields = [
            f.strip()
            for raw in request.query_params.getlist("fullTextFilterFields")
            for f in raw.split(",")
            if f.strip()
        ]
        total_param = request.query_params.get("totalItems", "include")
        page = query.query_entities(
            filter=None if cursor else _filter(request),
            order_fields=[] if cursor else _order_fields(request),
            full_text=(full_text_term, full_text_fields) if full_text_term and not cursor else None,
            limit=_int_param(request, "limit"),
            offset=_int_param(request, "offset"),
            fields=_fields(request),
            cursor=cursor,
            total_items=total_param != "exclude",
        )
        return Response(
            _page_body(list(page.items), page.total_items, page.next_cursor, page.prev_cursor),
            media_type=JSON,
        )

    @router.post("/entities/by-query")
    async def post_entities_by_query(request: Request) -> Response:
        body = _object_body(await _body(request))
        cursor = body.get("cursor")
        predicate = parse_predicate(body["query"]) if body.get("query") is not None and not cursor else None
        order_fields: list[tuple[str, str]] = []
        order_by = body.get("orderBy") or body.get("orderFields") or []
        if not isinstance(order_by, list):
            raise InputError('\'orderBy\' must be an array of {"field": ..., "order": "asc" | "desc"}')
        for item in order_by:
            if (
                not isinstance(item, dict)
                or not isinstance(item.get("field"), str)
                or item.get("order", "asc") not in ("asc", "desc")
            ):
                raise InputError(
                    'orderBy items must be objects like {"field": "metadata.name", "order": "asc"}'
                )
            order_fields.append((item["field"], item.get("order", "asc")))
        full_text = body.get("fullTextFilter")
        if full_text is not None and (
            not isinstance(full_text, dict)
            or not isinstance(full_text.get("term", ""), str)
            or not isinstance(full_text.get("fields") or [], list)
            or not all(isinstance(f, str) for f in full_text.get("fields") or [])
        ):
            raise InputError('\'fullTextFilter\' must be an object like {"term": "...", "fields": ["..."]}')
        fields = body.get("fields")
        if fields is not None and (
            not isinstance(fields, list) or not all(isinstance(f, str) for f in fields)
        ):
            raise InputError("'fields' must be an array of strings")
        limit = body.get("limit")
        offset = body.get("offset")
        for name, value in (("limit", limit), ("offset", offset)):
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                raise InputError(f"'{name}' must be an integer")
        limit = None if limit is None else max(-_INT_PARAM_BOUND, min(limit, _INT_PARAM_BOUND))
        offset = None if offset is None else max(-_INT_PARAM_BOUND, min(offset, _INT_PARAM_BOUND))
        if cursor is not None and not isinstance(cursor, str):
            raise InputError("'cursor' must be a string")
        total = body.get("totalItems", True)
        from starlette.concurrency import run_in_threadpool

        page = await run_in_threadpool(
            query.query_entities,
            filter=predicate,
            order_fields=order_fields,
            full_text=(full_text["term"], full_text.get("fields") or [])
            if isinstance(full_text, dict) and full_text.get("term")
            else None,
            limit=limit,
            offset=offset,
            fields=fields,
            cursor=cursor,
            total_items=total not in (False, "exclude"),
        )
        return Response(
            _page_body(list(page.items), page.total_items, page.next_cursor, page.prev_cursor),
            media_type=JSON,
        )

    @router.post("/entities/by-refs")
    async def post_entities_by_refs(request: Request) -> Response:
        body = _object_body(await _body(request))
        refs = body.get("entityRefs")
        if not isinstance(refs, list) or not all(isinstance(r, str) for r in refs):
            raise InputError("'entityRefs' must be an array of entity reference strings")
        fields = body.get("fields")
        if fields is not None and (
            not isinstance(fields, list) or not all(isinstance(f, str) for f in fields)
        ):
            raise InputError("'fields' must be an array of strings")
        filter_ = _combine(_filter(request), parse_predicate(body["query"]) if body.get("query") else None)
        from starlette.concurrency import run_in_threadpool

        items = await run_in_threadpool(query.entities_by_refs, refs, fields=fields, filter=filter_)
        return Response(b'{"items":' + _raw_list(items) + b"}", media_type=JSON)

    @router.get("/entities/by-uid/{uid}")
    def get_entity_by_uid(uid: str) -> Response:
        raw = query.entity_by_uid(uid)
        if raw is None:
            raise NotFoundError(f"No entity with uid {uid}")
        return Response(raw, media_type=JSON)

    @router.delete("/entities/by-uid/{uid}", status_code=204)
    def delete_entity_by_uid(uid: str) -> Response:
        catalog.delete_entity_by_uid(uid)
        return Response(status_code=204)

    @router.get("/entities/by-name/{kind}/{namespace}/{name}")
    def get_entity_by_name(kind: str, namespace: str, name: str) -> Response:
        raw = query.entity_by_ref(f"{kind}:{namespace}/{name}")
        if raw is None:
            raise NotFoundError(
                f"No entity named '{name}' found, with kind '{kind}' in namespace '{namespace}'"
            )
        return Response(raw, media_type=JSON)

    @router.get("/entities/by-name/{kind}/{namespace}/{name}/ancestry")
    def get_entity_ancestry(kind: str, namespace: str, name: str) -> Response:
        return _json(catalog.ancestry(f"{kind}:{namespace}/{name}"))

    # ---------------------------------------------------------------- facets
    @router.get("/entity-facets")
    def get_entity_facets(request: Request) -> Response:
        facets = [f for f in request.query_params.getlist("facet") if f.strip()]
        if not facets:
            raise InputError("Missing required query parameter 'facet'")
        return _json({"facets": query.facets(facets, filter=_filter(request))})

    @router.post("/entity-facets")
    async def post_entity_facets(request: Request) -> Response:
        body = _object_body(await _body(request))
        facets = body.get("facets")
        if not isinstance(facets, list) or not facets or not all(isinstance(f, str) for f in facets):
            raise InputError("'facets' must be a non-empty array of strings")
        filter_ = parse_predicate(body["query"]) if body.get("query") is not None else None
        from starlette.concurrency import run_in_threadpool

        result = await run_in_threadpool(query.facets, facets, filter=filter_)
        return _json({"facets": result})

    # ---------------------------------------------------------------- refresh, validation, analysis
    @router.post("/refresh")
    async def post_refresh(request: Request) -> Response:
        body = _object_body(await _body(request))
        ref = body.get("entityRef")
        if not isinstance(ref, str) or not ref:
            raise InputError("'entityRef' must be an entity reference string")
        from starlette.concurrency import run_in_threadpool

        await run_in_threadpool(catalog.refresh, ref)
        return Response(status_code=200)

    @router.post("/validate-entity")
    async def post_validate_entity(request: Request) -> Response:
        body = _object_body(await _body(request))
        errors = catalog.validate_entity(body.get("entity"), body.get("location"))
        if errors:
            return _json({"errors": errors}, status=400)
        return Response(status_code=200)

    @router.post("/analyze-location")
    async def post_analyze_location(request: Request) -> Response:
        body = _object_body(await _body(request))
        from starlette.concurrency import run_in_threadpool

        filename = body.get("catalogFilename") or body.get("catalogFileName")
        if filename is not None and not isinstance(filename, str):
            raise InputError("'catalogFilename' must be a string")
        result = await run_in_threadpool(catalog.analyze_location, body.get("location"), filename)
        return _json(result)

    # ---------------------------------------------------------------- locations
    @router.post("/locations")
    async def post_locations(request: Request) -> Response:
        body = _object_body(await _body(request))
        unknown = set(body) - {"type", "target", "presence"}
        if unknown:
            raise InputError(
                f"Unknown field(s) in location: {', '.join(sorted(unknown))}; expected type and target"
            )
        dry_run = request.query_params.get("dryRun", "").lower() in ("true", "yes", "1")
        on_conflict = request.query_params.get("onConflict")
        if on_conflict not in (None, "reject", "refresh"):
            raise InputError("onConflict must be 'reject' or 'refresh'")
        from starlette.concurrency import run_in_threadpool

        location, entities, exists = await run_in_threadpool(
            catalog.locations.create,
            body.get("type"),
            body.get("target"),
            dry_run=dry_run,
            on_conflict=on_conflict,
        )
        result: dict[str, Any] = {"location": _location_json(location), "entities": entities}
        if dry_run or exists:
            result["exists"] = exists
        return _json(result, status=201)

    @router.get("/locations")
    def get_locations() -> Response:
        return _json([{"data": _location_json(loc)} for loc in catalog.locations.list_locations()])

    @router.post("/locations/by-query")
    async def post_locations_by_query(request: Request) -> Response:
        body = _object_body(await _body(request))
        limit = body.get("limit")
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit <= 0):
            raise InputError("'limit' must be a positive integer")
        limit = None if limit is None else min(limit, _INT_PARAM_BOUND)
        items, total, next_cursor = catalog.locations.query(cursor=body.get("cursor"), limit=limit)
        return _json(
            {
                "items": [_location_json(loc) for loc in items],
                "totalItems": total,
                "pageInfo": {"nextCursor": next_cursor} if next_cursor else {},
            }
        )

    @router.get("/locations/by-entity/{kind}/{namespace}/{name}")
    def get_location_by_entity(kind: str, namespace: str, name: str) -> Response:
        return _json(_location_json(catalog.location_by_entity(f"{kind}:{namespace}/{name}")))

    @router.get("/locations/{location_id}")
    def get_location(location_id: str) -> Response:
        return _json(_location_json(catalog.locations.get(location_id)))

    @router.put("/locations/{location_id}")
    async def put_location(location_id: str, request: Request) -> Response:
        body = _object_body(await _body(request))
        from starlette.concurrency import run_in_threadpool

        location = await run_in_threadpool(
            catalog.locations.update, location_id, body.get("type"), body.get("target")
        )
        return _json(_location_json(location))

    @router.delete("/locations/{location_id}", status_code=204)
    def delete_location(location_id: str) -> Response:
        catalog.locations.delete(location_id)
        return Response(status_code=204)

    # ---------------------------------------------------------------- Greenroom additions
    @router.get("/processing-errors")
    def get_processing_errors(request: Request) -> Response:
        """Every entity or location whose last processing reported errors, including never-visible ones."""
        limit = _int_param(request, "limit") or 500
        if limit < 0:
            raise InputError("limit must not be negative")
        return _json({"items": catalog.processing_errors(limit=min(limit, 5000))})

    @router.get("/status")
    def get_status() -> Response:
        """Queue depths and counters of the processing loop (what is still to do, and why)."""
        return _json(catalog.status())

    # ---------------------------------------------------------------- the API's own description
    @router.get("/openapi.yaml")
    def get_openapi_yaml() -> Response:
        return Response(OPENAPI_YAML, media_type=YAML)

    @router.get("/openapi.json")
    def get_openapi_json() -> Response:
        return Response(OPENAPI_JSON, media_type=JSON)

    return router
