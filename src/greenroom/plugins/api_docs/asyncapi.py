"""AsyncAPI 2.x and 3.x documents to a display model: servers, channels, operations, messages."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup

from greenroom.plugins.api_docs.openapi import DefinitionError, Info, _info
from greenroom.plugins.api_docs.schema_tree import Budget, RefResolver, SchemaNode, SchemaTreeBuilder
from greenroom.plugins.api_docs.text import Anchors, clip, markdown, plain

MAX_CHANNELS = 300
MAX_MESSAGES = 40
MAX_SERVERS = 20

# AsyncAPI 2 names operations from the client's point of view (publish = the app receives).
_ACTION_VARIANT = {"publish": "info", "subscribe": "success", "send": "info", "receive": "success"}


@dataclass
class AsyncServer:
    name: str
    url: str
    protocol: str | None
    description: Markup | None


@dataclass
class Message:
    name: str
    anchor: str
    title: str | None
    summary: str | None
    description: Markup | None
    content_type: str | None
    payload: SchemaNode | None
    headers: SchemaNode | None


@dataclass
class AsyncOperation:
    action: str
    operation_id: str | None
    summary: str | None
    description: Markup | None
    messages: list[Message]
    message_names: list[str] = field(default_factory=list)  # AsyncAPI 3: messages shown on the channel

    @property
    def variant(self) -> str:
        return _ACTION_VARIANT.get(self.action, "neutral")


@dataclass
class Channel:
    name: str
    anchor: str
    address: str | None
    description: Markup | None
    parameters: list[tuple[str, Markup | None]]
    operations: list[AsyncOperation] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)


@dataclass
class AsyncApiView:
    info: Info
    servers: list[AsyncServer]
    channels: list[Channel]
    notes: list[str]


class AsyncApiRenderer:
    def __init__(self, doc: Mapping[str, Any], budget: Budget) -> None:
        self.doc = doc
        self.version = str(doc.get("asyncapi"))
        self.v3 = self.version.startswith("3")
        self.anchors = Anchors()
        self.resolver = RefResolver(doc)
        self.trees = SchemaTreeBuilder(self.resolver, budget)
        self.budget = budget
        self.notes: list[str] = []

    def render(self) -> AsyncApiView:
        info = _info(self.doc, f"AsyncAPI {clip(self.version, 20)}")
        default_ct = plain(self.doc.get("defaultContentType"))
        if default_ct:
            info.facts.append(("Default content type", default_ct))
        channels = self._channels_v3() if self.v3 else self._channels_v2()
        if self.budget.exhausted:
            self.notes.append("This definition is very large: some payloads are cut short.")
        return AsyncApiView(info, self._servers(), channels, self.notes)

    def _servers(self) -> list[AsyncServer]:
        raw = self.doc.get("servers")
        servers = []
        for name, value in list(raw.items())[:MAX_SERVERS] if isinstance(raw, Mapping) else []:
            server = self.resolver.deref(value)
            if not isinstance(server, Mapping):
                continue
            if self.v3:
                url = f"{plain(server.get('host')) or ''}{plain(server.get('pathname')) or ''}"
            else:
                url = plain(server.get("url")) or ""
            servers.append(
                AsyncServer(
                    clip(name, 80),
                    clip(url, 300),
                    plain(server.get("protocol")),
                    markdown(server.get("description")),
                )
            )
        return servers

    def _message(self, raw: Any, fallback: str) -> list[Message]:
        message = self.resolver.deref(raw)
        if not isinstance(message, Mapping):
            return []
        variants = message.get("oneOf")
        if isinstance(variants, list):
            found: list[Message] = []
            for index, variant in enumerate(variants[:MAX_MESSAGES]):
                found.extend(self._message(variant, f"{fallback} {index + 1}"))
            return found
        name = plain(message.get("name")) or (
            RefResolver.ref_name(raw["$ref"])
            if isinstance(raw, Mapping) and isinstance(raw.get("$ref"), str)
            else fallback
        )
        payload = message.get("payload")
        headers = message.get("headers")
        return [
            Message(
                name=name,
                anchor=self.anchors.make("message", name),
                title=plain(message.get("title")),
                summary=plain(message.get("summary")),
                description=markdown(message.get("description")),
                content_type=plain(message.get("contentType")),
                payload=self.trees.build(payload) if payload is not None else None,
                headers=self.trees.build(headers) if headers is not None else None,
            )
        ]

    def _parameters(self, channel: Mapping[str, Any]) -> list[tuple[str, Markup | None]]:
        raw = channel.get("parameters")
        params = []
        for name, value in list(raw.items())[:30] if isinstance(raw, Mapping) else []:
            param = self.resolver.deref(value)
            params.append(
                (clip(name, 80), markdown(param.get("description")) if isinstance(param, Mapping) else None)
            )
        return params

    def _channels_v2(self) -> list[Channel]:
        raw = self.doc.get("channels")
        if not isinstance(raw, Mapping):
            return []
        channels = []
        for name, value in list(raw.items())[:MAX_CHANNELS]:
            item = self.resolver.deref(value)
            if not isinstance(item, Mapping):
                continue
            channel = Channel(
                clip(name, 200), self.anchors.make("channel", str(name)), None,
                markdown(item.get("description")), self._parameters(item),
            )  # fmt: skip
            for action in ("publish", "subscribe"):
                op = self.resolver.deref(item.get(action))
                if isinstance(op, Mapping):
                    channel.operations.append(
                        AsyncOperation(
                            action=action,
                            operation_id=plain(op.get("operationId")),
                            summary=plain(op.get("summary")),
                            description=markdown(op.get("description")),
                            messages=self._message(op.get("message"), "message"),
                        )
                    )
            channels.append(channel)
        if len(raw) > MAX_CHANNELS:
            self.notes.append(f"Showing the first {MAX_CHANNELS} of {len(raw)} channels.")
        return channels

    def _channels_v3(self) -> list[Channel]:
        raw = self.doc.get("channels")
        channels: dict[str, Channel] = {}
        for key, value in list(raw.items())[:MAX_CHANNELS] if isinstance(raw, Mapping) else []:
            item = self.resolver.deref(value)
            if not isinstance(item, Mapping):
                continue
            channel = Channel(
                clip(key, 200), self.anchors.make("channel", str(key)), plain(item.get("address")),
                markdown(item.get("description")), self._parameters(item),
            )  # fmt: skip
            messages = item.get("messages")
            for name, message in (
                list(messages.items())[:MAX_MESSAGES] if isinstance(messages, Mapping) else []
            ):
                channel.messages.extend(self._message(message, str(name)))
            channels[f"#/channels/{key}"] = channel
        operations = self.doc.get("operations")
        for op_id, value in (
            list(operations.items())[:MAX_CHANNELS] if isinstance(operations, Mapping) else []
        ):
            op = self.resolver.deref(value)
            if not isinstance(op, Mapping):
                continue
            channel_ref = (
                op.get("channel", {}).get("$ref") if isinstance(op.get("channel"), Mapping) else None
            )
            target = channels.get(str(channel_ref)) if channel_ref else None
            raw_messages = op.get("messages")
            listed: list[Any] = raw_messages if isinstance(raw_messages, list) else []
            names = [
                RefResolver.ref_name(m["$ref"])
                for m in listed[:MAX_MESSAGES]
                if isinstance(m, Mapping) and isinstance(m.get("$ref"), str)
            ]
            operation = AsyncOperation(
                action=plain(op.get("action")) or "operation",
                operation_id=clip(op_id, 120),
                summary=plain(op.get("summary")) or plain(op.get("title")),
                description=markdown(op.get("description")),
                messages=[],
                message_names=[clip(n, 120) for n in names],
            )
            if target is not None:
                target.operations.append(operation)
        return list(channels.values())


def render_asyncapi(doc: Any, budget: Budget | None = None) -> AsyncApiView:
    """Build the display model, or raise DefinitionError when `doc` is not an AsyncAPI document."""
    if not isinstance(doc, Mapping):
        raise DefinitionError("The definition is not an object (expected an AsyncAPI document)")
    if "asyncapi" not in doc:
        raise DefinitionError('The definition has no "asyncapi" version field')
    return AsyncApiRenderer(doc, budget or Budget()).render()
