"""OpenAPI 3.x and Swagger 2.0 documents to a display model: info, servers, operations by tag, schemas."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup

from greenroom.plugins.api_docs.schema_tree import Budget, RefResolver, SchemaNode, SchemaTreeBuilder
from greenroom.plugins.api_docs.text import Anchors, clip, markdown, plain, safe_url

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
MAX_OPERATIONS = 400
MAX_SCHEMAS = 300
MAX_PARAMETERS = 100
MAX_RESPONSES = 40
MAX_MEDIA_TYPES = 8
MAX_SERVERS = 20


class DefinitionError(ValueError):
    """The document parsed but is not a usable definition of this type."""


@dataclass
class Link:
    label: str
    url: str | None  # None: show as text only (not an http(s)/mailto URL)


@dataclass
class Info:
    title: str
    version: str | None
    description: Markup | None
    spec_version: str
    links: list[Link] = field(default_factory=list)
    facts: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Server:
    url: str
    description: Markup | None = None


@dataclass
class Parameter:
    name: str
    location: str
    required: bool
    schema: SchemaNode | None
    description: Markup | None
    deprecated: bool = False


@dataclass
class Body:
    media_type: str
    schema: SchemaNode | None


@dataclass
class Response:
    status: str
    description: Markup | None
    bodies: list[Body]

    @property
    def variant(self) -> str:
        first = self.status[:1]
        return {"2": "success", "3": "info", "4": "warning", "5": "danger"}.get(first, "neutral")


@dataclass
class Operation:
    method: str
    path: str
    anchor: str
    operation_id: str | None
    summary: str | None
    description: Markup | None
    deprecated: bool
    parameters: list[Parameter]
    request_description: Markup | None
    request_required: bool
    request_bodies: list[Body]
    responses: list[Response]
    security: list[str]


@dataclass
class TagGroup:
    name: str
    anchor: str
    description: Markup | None
    operations: list[Operation] = field(default_factory=list)


@dataclass
class NamedSchema:
    name: str
    anchor: str
    tree: SchemaNode


@dataclass
class OpenApiView:
    info: Info
    servers: list[Server]
    tags: list[TagGroup]
    schemas: list[NamedSchema]
    notes: list[str]
    operation_count: int


def _info(doc: Mapping[str, Any], spec_version: str) -> Info:
    info = doc.get("info") if isinstance(doc.get("info"), Mapping) else {}
    assert isinstance(info, Mapping)
    result = Info(
        title=plain(info.get("title")) or "Untitled API",
        version=plain(info.get("version")),
        description=markdown(info.get("description")),
        spec_version=spec_version,
    )
    contact = info.get("contact")
    if isinstance(contact, Mapping):
        name = plain(contact.get("name"))
        email = plain(contact.get("email"))
        url = plain(contact.get("url"))
        if email:
            result.links.append(Link(name or email, safe_url(f"mailto:{email}") if "@" in email else None))
        if url:
            result.links.append(Link(name or url if not email else url, safe_url(url)))
        if name and not email and not url:
            result.facts.append(("Contact", name))
    license_ = info.get("license")
    if isinstance(license_, Mapping) and plain(license_.get("name")):
        result.links.append(Link(f"License: {plain(license_.get('name'))}", safe_url(license_.get("url"))))
    terms = plain(info.get("termsOfService"))
    if terms:
        result.links.append(Link("Terms of service", safe_url(terms)))
    external = doc.get("externalDocs")
    if isinstance(external, Mapping) and plain(external.get("url")):
        url = str(external["url"])
        result.links.append(Link(plain(external.get("description")) or url, safe_url(url)))
    return result


def _servers(doc: Mapping[str, Any]) -> list[Server]:
    servers: list[Server] = []
    if "swagger" in doc:
        host = plain(doc.get("host"))
        base = plain(doc.get("basePath")) or ""
        schemes = [s for s in doc.get("schemes") or [] if isinstance(s, str)] or ["https"]
        if host:
            servers.extend(Server(clip(f"{scheme}://{host}{base}", 300)) for scheme in schemes[:4])
        elif base:
            servers.append(Server(clip(base, 300)))
        return servers
    raw = doc.get("servers")
    for server in raw[:MAX_SERVERS] if isinstance(raw, list) else []:
        if isinstance(server, Mapping) and plain(server.get("url")):
            servers.append(Server(clip(server["url"], 300), markdown(server.get("description"))))
    return servers


class OpenApiRenderer:
    def __init__(self, doc: Mapping[str, Any], budget: Budget) -> None:
        self.doc = doc
        self.swagger2 = "swagger" in doc
        self.anchors = Anchors()
        schemas_root = self._schemas_root()
        prefix = "#/definitions/" if self.swagger2 else "#/components/schemas/"
        self.schema_anchors: dict[str, str] = {}
        for name in list(schemas_root)[:MAX_SCHEMAS]:
            self.schema_anchors[prefix + str(name).replace("~", "~0").replace("/", "~1")] = self.anchors.make(
                "schema", str(name)
            )
        self.resolver = RefResolver(doc, self.schema_anchors)
        self.trees = SchemaTreeBuilder(self.resolver, budget)
        self.budget = budget
        self.notes: list[str] = []

    def _schemas_root(self) -> Mapping[str, Any]:
        if self.swagger2:
            root = self.doc.get("definitions")
        else:
            components = self.doc.get("components")
            root = components.get("schemas") if isinstance(components, Mapping) else None
        return root if isinstance(root, Mapping) else {}

    def render(self) -> OpenApiView:
        spec_version = str(self.doc.get("openapi") or self.doc.get("swagger") or "")
        info = _info(self.doc, ("Swagger " if self.swagger2 else "OpenAPI ") + clip(spec_version, 20))
        tags = self._tags()
        count = sum(len(t.operations) for t in tags)
        schemas = self._named_schemas()
        if self.budget.exhausted:
            self.notes.append(
                "This definition is very large: some schemas are cut short. "
                "Download the raw definition to see all of it."
            )
        return OpenApiView(
            info, _servers(self.doc), [t for t in tags if t.operations], schemas, self.notes, count
        )

    def _tags(self) -> list[TagGroup]:
        groups: dict[str, TagGroup] = {}
        declared = self.doc.get("tags")
        for tag in declared if isinstance(declared, list) else []:
            if isinstance(tag, Mapping) and plain(tag.get("name")):
                name = str(tag["name"])
                groups.setdefault(
                    name, TagGroup(name, self.anchors.make("tag", name), markdown(tag.get("description")))
                )
        paths = self.doc.get("paths")
        if not isinstance(paths, Mapping):
            return list(groups.values())
        total = 0
        for path, item in paths.items():
            item = self.resolver.deref(item)
            if not isinstance(item, Mapping):
                continue
            raw_shared = item.get("parameters")
            shared: list[Any] = raw_shared if isinstance(raw_shared, list) else []
            for method in HTTP_METHODS:
                op = item.get(method)
                if not isinstance(op, Mapping):
                    continue
                total += 1
                if total > MAX_OPERATIONS:
                    continue
                operation = self._operation(str(path), method, op, shared)
                op_tags = [str(t) for t in op.get("tags") or [] if isinstance(t, str | int)] or ["default"]
                for tag_name in op_tags[:3]:
                    group = groups.get(tag_name)
                    if group is None:
                        group = groups[tag_name] = TagGroup(
                            tag_name, self.anchors.make("tag", tag_name), None
                        )
                    group.operations.append(operation)
        if total > MAX_OPERATIONS:
            self.notes.append(f"Showing the first {MAX_OPERATIONS} of {total} operations.")
        return list(groups.values())

    def _operation(self, path: str, method: str, op: Mapping[str, Any], shared: list[Any]) -> Operation:
        operation_id = plain(op.get("operationId"))
        params: dict[tuple[str, str], Mapping[str, Any]] = {}
        body_param: Mapping[str, Any] | None = None
        form_params: list[Mapping[str, Any]] = []
        raw_own = op.get("parameters")
        own: list[Any] = raw_own if isinstance(raw_own, list) else []
        for raw in [*shared, *own][: MAX_PARAMETERS * 2]:
            param = self.resolver.deref(raw)
            if isinstance(param, Mapping) and isinstance(param.get("name"), str):
                params[(param["name"], str(param.get("in", "")))] = param
        parameters: list[Parameter] = []
        for (name, location), param in list(params.items())[:MAX_PARAMETERS]:
            if self.swagger2 and location == "body":
                body_param = param
                continue
            if self.swagger2 and location == "formData":
                form_params.append(param)
            schema_source = param.get("schema") if "schema" in param else param  # Swagger 2 puts type inline
            parameters.append(
                Parameter(
                    name=clip(name, 120),
                    location=clip(location, 20),
                    required=param.get("required") is True,
                    schema=self.trees.build(schema_source) if isinstance(schema_source, Mapping) else None,
                    description=markdown(param.get("description")),
                    deprecated=param.get("deprecated") is True,
                )
            )
        request_bodies: list[Body] = []
        request_description = None
        request_required = False
        if self.swagger2:
            consumes = op.get("consumes") or self.doc.get("consumes") or ["application/json"]
            media = str(consumes[0]) if isinstance(consumes, list) and consumes else "application/json"
            if body_param is not None:
                request_description = markdown(body_param.get("description"))
                request_required = body_param.get("required") is True
                request_bodies.append(Body(clip(media, 80), self.trees.build(body_param.get("schema"))))
        else:
            body = self.resolver.deref(op.get("requestBody"))
            if isinstance(body, Mapping):
                request_description = markdown(body.get("description"))
                request_required = body.get("required") is True
                request_bodies = self._bodies(body.get("content"))
        return Operation(
            method=method,
            path=clip(path, 300),
            anchor=self.anchors.make("op", method, operation_id or path),
            operation_id=operation_id,
            summary=plain(op.get("summary")),
            description=markdown(op.get("description")),
            deprecated=op.get("deprecated") is True,
            parameters=parameters,
            request_description=request_description,
            request_required=request_required,
            request_bodies=request_bodies,
            responses=self._responses(op.get("responses"), op),
            security=self._security(op),
        )

    def _bodies(self, content: Any) -> list[Body]:
        if not isinstance(content, Mapping):
            return []
        bodies = []
        for media, media_object in list(content.items())[:MAX_MEDIA_TYPES]:
            schema = media_object.get("schema") if isinstance(media_object, Mapping) else None
            bodies.append(Body(clip(media, 80), self.trees.build(schema) if schema is not None else None))
        return bodies

    def _responses(self, raw: Any, op: Mapping[str, Any]) -> list[Response]:
        if not isinstance(raw, Mapping):
            return []
        responses = []
        for status, value in list(raw.items())[:MAX_RESPONSES]:
            response = self.resolver.deref(value)
            if not isinstance(response, Mapping):
                continue
            if self.swagger2:
                produces = op.get("produces") or self.doc.get("produces") or ["application/json"]
                media = str(produces[0]) if isinstance(produces, list) and produces else "application/json"
                schema = response.get("schema")
                bodies = [Body(clip(media, 80), self.trees.build(schema))] if schema is not None else []
            else:
                bodies = self._bodies(response.get("content"))
            responses.append(Response(clip(status, 20), markdown(response.get("description")), bodies))
        return responses

    def _security(self, op: Mapping[str, Any]) -> list[str]:
        security = op.get("security", self.doc.get("security"))
        names: list[str] = []
        for requirement in security if isinstance(security, list) else []:
            if isinstance(requirement, Mapping):
                names.extend(clip(name, 60) for name in requirement)
        return list(dict.fromkeys(names))[:10]

    def _named_schemas(self) -> list[NamedSchema]:
        prefix = "#/definitions/" if self.swagger2 else "#/components/schemas/"
        named = []
        for name in list(self._schemas_root())[:MAX_SCHEMAS]:
            ref = prefix + str(name).replace("~", "~0").replace("/", "~1")
            tree = self.trees.build({"$ref": ref})
            tree.name = None
            if tree.ref_name:
                tree.type_label = (
                    tree.type_label.removeprefix(f"{tree.ref_name} · ").removeprefix(tree.ref_name) or "any"
                )
            named.append(NamedSchema(clip(name, 120), self.schema_anchors[ref], tree))
        return named


def render_openapi(doc: Any, budget: Budget | None = None) -> OpenApiView:
    """Build the display model, or raise DefinitionError when `doc` is not an OpenAPI document."""
    if not isinstance(doc, Mapping):
        raise DefinitionError("The definition is not an object (expected an OpenAPI document)")
    if "openapi" not in doc and "swagger" not in doc:
        raise DefinitionError('The definition has neither an "openapi" nor a "swagger" version field')
    return OpenApiRenderer(doc, budget or Budget()).render()
