"""Deterministic generator of realistic Backstage catalogs, from 1k to 1M entities.

    python -m bench.generator --entities 100000 --out bench/.cache/catalog-100000-s42

The mix follows the reference generator used for the Backstage measurement: a Group hierarchy
(organization -> departments -> teams -> sub-teams), Users that are members of teams, Domains
(some sub-domains), Systems, Resources (a fifth of them in the non-default namespace `infra`),
Components (services, websites, libraries) that provide and consume APIs, depend on resources
and libraries and are sometimes sub-components, and stand-alone APIs. Every well-known relation
kind appears. The output is streamed: names are planned first (strings only), then entities are
written into files of at most `--per-file` entities, so 1M entities means ~4k files, not 1M.

Writes into --out:
  all.yaml        the root Location whose spec.targets lists every other file
  <kind dirs>/    multi-document YAML files
  manifest.json   counts per kind, expected relation count, a sample of refs per kind, the
                  expected relations of a sample of entities, the files and what they hold

`--entities N` counts the non-Location entities; the root Location is one more.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

API_VERSION = "backstage.io/v1alpha1"
MANIFEST_FORMAT = 1
ROOT_NAME = "generated-catalog-root"
INFRA_NS = "infra"

WORDS_A = [
    "payments",
    "checkout",
    "billing",
    "invoice",
    "catalog",
    "search",
    "inventory",
    "shipping",
    "orders",
    "cart",
    "pricing",
    "accounts",
    "identity",
    "auth",
    "profile",
    "notifications",
    "email",
    "sms",
    "messaging",
    "chat",
    "media",
    "images",
    "video",
    "recommendations",
    "analytics",
    "metrics",
    "reporting",
    "ledger",
    "fraud",
    "risk",
    "loyalty",
    "rewards",
    "coupons",
    "reviews",
    "ratings",
    "support",
    "tickets",
    "returns",
    "warehouse",
    "fulfillment",
    "delivery",
    "routing",
    "maps",
    "geo",
    "tax",
    "compliance",
    "audit",
    "consent",
    "feature-flags",
    "config",
    "scheduler",
    "workflow",
    "export",
    "import",
    "sync",
    "gateway",
    "edge",
    "cdn",
    "session",
    "token",
    "subscription",
]
WORDS_B = [
    "service",
    "api",
    "worker",
    "processor",
    "engine",
    "manager",
    "store",
    "hub",
    "gateway",
    "adapter",
    "connector",
    "scheduler",
    "indexer",
    "collector",
    "router",
    "aggregator",
    "bridge",
    "publisher",
    "consumer",
    "tracker",
]
WEB_SUFFIX = ["web", "portal", "ui", "frontend", "dashboard", "console", "app", "site"]
LIB_SUFFIX = ["lib", "sdk", "client", "utils", "common", "core", "kit", "toolkit"]
TAGS = [
    "java",
    "kotlin",
    "go",
    "python",
    "typescript",
    "javascript",
    "rust",
    "scala",
    "react",
    "spring",
    "grpc",
    "rest",
    "graphql",
    "kafka",
    "postgres",
    "redis",
    "kubernetes",
    "aws",
    "gcp",
    "terraform",
    "pci",
    "gdpr",
    "tier-1",
    "tier-2",
    "tier-3",
    "internal",
    "external",
    "legacy",
    "critical",
    "batch",
    "streaming",
    "ml",
]
LIFECYCLES = ["production"] * 6 + ["experimental"] * 2 + ["deprecated"]
FIRST = [
    "alex",
    "sam",
    "jordan",
    "taylor",
    "morgan",
    "casey",
    "riley",
    "jamie",
    "avery",
    "quinn",
    "harper",
    "rowan",
    "emerson",
    "finley",
    "kai",
    "logan",
    "parker",
    "reese",
    "sage",
    "skyler",
    "dana",
    "robin",
    "noah",
    "emma",
    "liam",
    "olivia",
    "mia",
    "lucas",
    "ava",
    "ethan",
    "sofia",
    "mateo",
    "yuki",
    "wei",
    "arjun",
    "priya",
    "fatima",
    "omar",
]
LAST = [
    "smith",
    "johnson",
    "lee",
    "garcia",
    "martin",
    "brown",
    "davis",
    "lopez",
    "wilson",
    "anderson",
    "thomas",
    "moore",
    "jackson",
    "white",
    "harris",
    "clark",
    "lewis",
    "young",
    "walker",
    "hall",
    "allen",
    "king",
    "wright",
    "scott",
    "green",
    "baker",
    "adams",
    "nelson",
    "hill",
    "campbell",
    "mitchell",
    "roberts",
    "carter",
    "phillips",
    "evans",
    "turner",
    "torres",
    "parker",
    "collins",
    "edwards",
    "stewart",
    "morris",
    "nguyen",
    "kim",
    "chen",
    "patel",
    "singh",
    "kumar",
    "tanaka",
    "sato",
    "muller",
    "schmidt",
]
DEPARTMENTS = [
    "engineering",
    "product",
    "platform",
    "data",
    "security",
    "infrastructure",
    "commerce",
    "growth",
    "operations",
    "finance-tech",
    "mobile",
    "research",
]
DOMAIN_WORDS = [
    "commerce",
    "identity",
    "logistics",
    "finance",
    "marketing",
    "data",
    "platform",
    "customer",
    "content",
    "security",
    "operations",
    "partner",
]
RESOURCE_TYPES = [
    ("database", "db"),
    ("s3-bucket", "bucket"),
    ("queue", "queue"),
    ("cache", "cache"),
    ("topic", "topic"),
]
API_TYPES = [
    ("openapi", "rest", 0.6),
    ("grpc", "grpc", 0.75),
    ("asyncapi", "events", 0.9),
    ("graphql", "graphql", 1.0),
]

# The relations each kind's spec fields produce: (field, default kind, relation, inverse relation).
REL_SPEC: dict[str, list[tuple[str, str | None, str, str]]] = {
    "Component": [
        ("owner", "Group", "ownedBy", "ownerOf"),
        ("subcomponentOf", "Component", "partOf", "hasPart"),
        ("providesApis", "API", "providesApi", "apiProvidedBy"),
        ("consumesApis", "API", "consumesApi", "apiConsumedBy"),
        ("dependsOn", None, "dependsOn", "dependencyOf"),
        ("dependencyOf", None, "dependencyOf", "dependsOn"),
        ("system", "System", "partOf", "hasPart"),
    ],
    "API": [("owner", "Group", "ownedBy", "ownerOf"), ("system", "System", "partOf", "hasPart")],
    "Resource": [
        ("owner", "Group", "ownedBy", "ownerOf"),
        ("dependsOn", None, "dependsOn", "dependencyOf"),
        ("dependencyOf", None, "dependencyOf", "dependsOn"),
        ("system", "System", "partOf", "hasPart"),
    ],
    "User": [("memberOf", "Group", "memberOf", "hasMember")],
    "Group": [
        ("parent", "Group", "childOf", "parentOf"),
        ("children", "Group", "parentOf", "childOf"),
        ("members", "User", "hasMember", "memberOf"),
    ],
    "System": [("owner", "Group", "ownedBy", "ownerOf"), ("domain", "Domain", "partOf", "hasPart")],
    "Domain": [("owner", "Group", "ownedBy", "ownerOf"), ("subdomainOf", "Domain", "partOf", "hasPart")],
}


# --------------------------------------------------------------------------- YAML output
_PLAIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/@()-]*(?: [A-Za-z0-9._/@()-]+)*$")
_RESERVED = {"true", "false", "null", "yes", "no", "on", "off", "y", "n", "~"}
_NUMBERISH = re.compile(r"^[-+]?(\d[\d_]*)?(\.\d*)?([eE][-+]?\d+)?$|^0[xo]")


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    text = str(value)
    if _PLAIN.match(text) and text.lower() not in _RESERVED and not _NUMBERISH.match(text):
        return text
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a valid double-quoted YAML scalar


def _emit(value: Any, indent: int, out: list[str]) -> None:
    """Block-style YAML for the dict/list/str shapes this generator produces (fast, no PyYAML)."""
    pad = " " * indent
    if isinstance(value, dict):
        for key, item in value.items():
            if (isinstance(item, dict) and item) or (isinstance(item, list) and item):
                out.append(f"{pad}{key}:\n")
                _emit(item, indent + 2, out)
            elif isinstance(item, str) and "\n" in item:
                out.append(f"{pad}{key}: |\n")
                inner = " " * (indent + 2)
                out.extend(f"{inner}{line}\n" if line else "\n" for line in item.rstrip("\n").split("\n"))
            elif isinstance(item, dict | list):
                out.append(f"{pad}{key}: {'{}' if isinstance(item, dict) else '[]'}\n")
            else:
                out.append(f"{pad}{key}: {_scalar(item)}\n")
    else:
        for item in value:
            if isinstance(item, dict):
                sub: list[str] = []
                _emit(item, indent + 2, sub)
                first = sub[0].lstrip(" ")
                out.append(f"{pad}- {first}")
                out.extend(sub[1:])
            else:
                out.append(f"{pad}- {_scalar(item)}\n")


def dump_documents(docs: Iterable[dict[str, Any]]) -> str:
    out: list[str] = []
    for doc in docs:
        out.append("---\n")
        _emit(doc, 0, out)
    return "".join(out)


# --------------------------------------------------------------------------- helpers
class Namer:
    """Unique names with O(distinct bases) memory: base, base-2, base-3, ... (bases never end in -<digit>)."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def unique(self, base: str) -> str:
        count = self.counts.get(base, 0) + 1
        self.counts[base] = count
        return base if count == 1 else f"{base}-{count}"


def entity_ref(kind: str, name: str, namespace: str = "default") -> str:
    return f"{kind.lower()}:{namespace}/{name}".lower()


def parse_ref(text: str, default_kind: str | None, default_ns: str) -> str:
    kind, rest = text.split(":", 1) if ":" in text else (default_kind or "", text)
    ns, name = rest.split("/", 1) if "/" in rest else (default_ns, rest)
    return f"{kind}:{ns}/{name}".lower()


def plan_counts(n: int) -> dict[str, int]:
    counts = {
        "Group": max(3, round(n * 0.04)),
        "User": max(3, round(n * 0.20)),
        "Domain": max(1, round(n * 0.01)),
        "System": max(2, round(n * 0.04)),
        "API": max(2, round(n * 0.14)),
        "Resource": max(1, round(n * 0.10)),
    }
    counts["Component"] = n - sum(counts.values())
    if counts["Component"] < 3:
        raise ValueError(f"--entities {n} is too small (need at least ~20)")
    return counts


def _title(name: str) -> str:
    return name.replace("-", " ").replace(".", " ").title()


def _definition(kind: str, name: str, title: str, rnd: random.Random) -> str:
    if kind == "openapi":
        res = rnd.choice(["items", "orders", "accounts", "events", "records", "jobs"])
        return (
            f"openapi: 3.0.3\ninfo:\n  title: {title}\n  version: {rnd.randint(1, 4)}.{rnd.randint(0, 9)}.0\n"
            f"paths:\n  /{res}:\n    get:\n      summary: List {res}\n      responses:\n"
            f"        '200':\n          description: OK\n"
        )
    if kind == "grpc":
        svc = "".join(p.capitalize() for p in name.split("-"))
        return f'syntax = "proto3";\nservice {svc} {{\n  rpc Get(GetRequest) returns (GetResponse);\n}}\n'
    if kind == "asyncapi":
        return (
            f"asyncapi: 2.6.0\ninfo:\n  title: {title}\n  version: 1.0.0\nchannels:\n  {name}.events: {{}}\n"
        )
    t = "".join(p.capitalize() for p in name.split("-"))
    return f"type {t} {{\n  id: ID!\n  name: String\n}}\n"


class _FileSink:
    """Writes entities to `<dir>/<prefix>-NNNN.yaml`, at most `cap` per file (groups are kept together)."""

    def __init__(self, out: Path, directory: str, cap: int, files: list[dict[str, Any]]) -> None:
        self.out, self.directory, self.cap, self.files = out, directory, cap, files
        self.index = 0
        self.buffer: list[dict[str, Any]] = []
        (out / directory).mkdir(parents=True, exist_ok=True)

    def add(self, docs: list[dict[str, Any]]) -> None:
        if self.buffer and len(self.buffer) + len(docs) > self.cap:
            self.flush()
        self.buffer.extend(docs)

    def flush(self) -> None:
        if not self.buffer:
            return
        rel = f"{self.directory}/part-{self.index:05d}.yaml"
        (self.out / rel).write_text(dump_documents(self.buffer), encoding="utf-8")
        self.files.append(
            {
                "path": rel,
                "refs": len(self.buffer),
                "first": entity_ref(
                    self.buffer[0]["kind"],
                    self.buffer[0]["metadata"]["name"],
                    self.buffer[0]["metadata"].get("namespace", "default"),
                ),
            }
        )
        self.index += 1
        self.buffer = []


# --------------------------------------------------------------------------- generation
def generate(n: int, out: Path, *, seed: int = 42, per_file: int = 250, sample: int = 100) -> dict[str, Any]:
    """Write the catalog for `n` entities into `out` (replaced) and return the manifest."""
    started = time.perf_counter()
    rnd = random.Random(seed)
    counts = plan_counts(n)
    namer = Namer()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)

    # ---- plan every name first (strings only), so relations can target anything ----
    ng = counts["Group"]
    n_depts = max(1, min(len(DEPARTMENTS), round((ng - 1) ** 0.5)))
    org = namer.unique("acme")
    groups: list[tuple[str, str, str | None]] = [(org, "organization", None)]
    depts = [namer.unique(DEPARTMENTS[i % len(DEPARTMENTS)]) for i in range(n_depts)]
    groups += [(d, "department", org) for d in depts]
    teams: list[str] = []
    while len(groups) < ng:
        parent = rnd.choice(depts)
        if teams and rnd.random() < 0.15:
            parent = rnd.choice(teams)
        team = namer.unique("team-" + rnd.choice(WORDS_A))
        teams.append(team)
        groups.append((team, "team" if parent in depts else "sub-team", parent))
    if not teams:
        teams = depts
    users = []
    for _ in range(counts["User"]):
        first, last = rnd.choice(FIRST), rnd.choice(LAST)
        users.append((namer.unique(f"{first}.{last}"), first, last))
    domains = [namer.unique(DOMAIN_WORDS[i % len(DOMAIN_WORDS)]) for i in range(counts["Domain"])]
    systems = [namer.unique(rnd.choice(WORDS_A) + "-platform") for _ in range(counts["System"])]
    resources: list[tuple[str, str, str]] = []  # name, namespace, type
    for _ in range(counts["Resource"]):
        rtype, suffix = rnd.choice(RESOURCE_TYPES)
        ns = INFRA_NS if rnd.random() < 0.2 else "default"
        resources.append((namer.unique(f"{rnd.choice(WORDS_A)}-{suffix}"), ns, rtype))
    resource_refs = [entity_ref("Resource", name, ns) for name, ns, _ in resources]
    components: list[tuple[str, str]] = []  # name, type
    for _ in range(counts["Component"]):
        x = rnd.random()
        ctype = "service" if x < 0.6 else ("website" if x < 0.8 else "library")
        suffix = rnd.choice(
            WORDS_B if ctype == "service" else WEB_SUFFIX if ctype == "website" else LIB_SUFFIX
        )
        components.append((namer.unique(f"{rnd.choice(WORDS_A)}-{suffix}"), ctype))
    services = [i for i, (_, t) in enumerate(components) if t == "service"] or list(range(len(components)))
    libraries = [i for i, (_, t) in enumerate(components) if t == "library"]
    apis: list[tuple[str, str, int | None]] = []  # name, type, providing component index
    for _ in range(counts["API"]):
        provider = rnd.choice(services) if rnd.random() < 0.85 else None
        base = components[provider][0].rsplit("-", 1)[0] if provider is not None else rnd.choice(WORDS_A)
        x = rnd.random()
        atype, word = next((t, w) for t, w, p in API_TYPES if x < p)
        apis.append((namer.unique(f"{base}-{word}-api"), atype, provider))
    provides: dict[int, list[int]] = {}
    for index, (_, _, provider) in enumerate(apis):
        if provider is not None:
            provides.setdefault(provider, []).append(index)

    # ---- the sample whose full relations go into the manifest ----
    sample_rnd = random.Random(seed + 1)
    kind_refs: dict[str, list[str]] = {
        "Group": [entity_ref("Group", g[0]) for g in groups],
        "User": [entity_ref("User", u[0]) for u in users],
        "Domain": [entity_ref("Domain", d) for d in domains],
        "System": [entity_ref("System", s) for s in systems],
        "Resource": resource_refs,
        "Component": [entity_ref("Component", c[0]) for c in components],
        "API": [entity_ref("API", a[0]) for a in apis],
    }
    sampled: list[str] = [refs[0] for refs in kind_refs.values()]
    everything = [r for refs in kind_refs.values() for r in refs[1:]]
    sampled += sample_rnd.sample(everything, min(len(everything), max(0, sample - len(sampled))))
    sample_rel: dict[str, set[tuple[str, str]]] = {r: set() for r in sampled}
    ref_samples = {k: sorted(sample_rnd.sample(v, min(len(v), 1000))) for k, v in kind_refs.items()}
    del kind_refs, everything

    relation_count = 0
    files: list[dict[str, Any]] = []
    tag_counts: dict[str, int] = {}
    type_counts: dict[str, int] = {}

    def record(entity: dict[str, Any]) -> None:
        """Count the entity's relations (both directions) and remember those touching the sample."""
        nonlocal relation_count
        kind = entity["kind"]
        ns = entity["metadata"].get("namespace", "default")
        source = entity_ref(kind, entity["metadata"]["name"], ns)
        for tag in entity["metadata"].get("tags", ()):
            tag_counts[tag] = tag_counts.get(tag, 0) + 1
        for field, default_kind, relation, inverse in REL_SPEC[kind]:
            value = entity["spec"].get(field)
            if value is None:
                continue
            for target_text in value if isinstance(value, list) else [value]:
                target = parse_ref(target_text, default_kind, ns)
                # a Group's `children` repeat its children's `parent`: the same two relations
                if not (kind == "Group" and field == "children"):
                    relation_count += 2
                if source in sample_rel:
                    sample_rel[source].add((relation, target))
                if target in sample_rel:
                    sample_rel[target].add((inverse, source))

    # ---- groups (one set of files; children need the whole hierarchy) ----
    children: dict[str, list[str]] = {}
    for name, _, parent in groups:
        if parent:
            children.setdefault(parent, []).append(name)
    sink = _FileSink(out, "org/groups", per_file, files)
    for name, gtype, parent in groups:
        spec: dict[str, Any] = {"type": gtype}
        if parent:
            spec["parent"] = parent
        spec["children"] = children.get(name, [])
        spec["profile"] = {"displayName": _title(name), "email": f"{name}@example.com"}
        entity = {
            "apiVersion": API_VERSION,
            "kind": "Group",
            "metadata": {
                "name": name,
                "title": _title(name),
                "description": f"The {_title(name)} {gtype}",
                "annotations": {"example.com/cost-center": f"CC-{rnd.randint(1000, 9999)}"},
            },
            "spec": spec,
        }
        record(entity)
        sink.add([entity])
    sink.flush()

    sink = _FileSink(out, "org/users", per_file, files)
    for name, first, last in users:
        member = [rnd.choice(teams)]
        if rnd.random() < 0.2:
            other = rnd.choice(teams)
            if other not in member:
                member.append(other)
        entity = {
            "apiVersion": API_VERSION,
            "kind": "User",
            "metadata": {"name": name},
            "spec": {
                "profile": {"displayName": f"{first.title()} {last.title()}", "email": f"{name}@example.com"},
                "memberOf": member,
            },
        }
        record(entity)
        sink.add([entity])
    sink.flush()

    sink = _FileSink(out, "domains", per_file, files)
    for i, name in enumerate(domains):
        spec = {"owner": rnd.choice(depts)}
        if i >= len(DOMAIN_WORDS) // 2 and rnd.random() < 0.3:
            spec["subdomainOf"] = domains[rnd.randrange(0, i)]
        entity = {
            "apiVersion": API_VERSION,
            "kind": "Domain",
            "metadata": {"name": name, "title": _title(name), "description": f"Everything about {name}"},
            "spec": spec,
        }
        record(entity)
        sink.add([entity])
    sink.flush()

    system_owner: dict[str, str] = {}
    sink = _FileSink(out, "systems", per_file, files)
    for name in systems:
        owner = rnd.choice(teams)
        system_owner[name] = owner
        entity = {
            "apiVersion": API_VERSION,
            "kind": "System",
            "metadata": {
                "name": name,
                "description": f"The {name} system",
                "tags": sorted(rnd.sample(TAGS, 1)),
            },
            "spec": {"owner": owner, "domain": rnd.choice(domains)},
        }
        record(entity)
        sink.add([entity])
    sink.flush()

    sink = _FileSink(out, "resources", per_file, files)
    for index, (name, ns, rtype) in enumerate(resources):
        sysname = rnd.choice(systems)
        owner = system_owner[sysname]
        metadata: dict[str, Any] = {"name": name}
        if ns != "default":
            metadata["namespace"] = ns
        metadata["description"] = f"{rtype} used by {sysname}"
        metadata["tags"] = sorted(rnd.sample(TAGS, rnd.randint(0, 2)))
        spec = {
            "type": rtype,
            "owner": f"group:default/{owner}" if ns != "default" else owner,
            "system": f"system:default/{sysname}" if ns != "default" else sysname,
        }
        if index > 0 and rnd.random() < 0.15:
            spec["dependsOn"] = [resource_refs[rnd.randrange(0, index)]]
        entity = {"apiVersion": API_VERSION, "kind": "Resource", "metadata": metadata, "spec": spec}
        record(entity)
        sink.add([entity])
    sink.flush()

    def api_entity(index: int, owner: str, sysname: str) -> dict[str, Any]:
        name, atype, _ = apis[index]
        title = _title(name)
        return {
            "apiVersion": API_VERSION,
            "kind": "API",
            "metadata": {
                "name": name,
                "title": title,
                "description": f"{title} ({atype})",
                "tags": sorted(rnd.sample(TAGS, rnd.randint(0, 3))),
            },
            "spec": {
                "type": atype,
                "lifecycle": rnd.choice(LIFECYCLES),
                "owner": owner,
                "system": sysname,
                "definition": _definition(atype, name, title, rnd),
            },
        }

    # ---- components, each followed by the APIs it provides (same file) ----
    sink = _FileSink(out, "components", per_file, files)
    n_apis = len(apis)
    for i, (name, ctype) in enumerate(components):
        type_counts[ctype] = type_counts.get(ctype, 0) + 1
        sysname = rnd.choice(systems)
        owner = system_owner[sysname] if rnd.random() < 0.8 else rnd.choice(teams)
        metadata = {
            "name": name,
            "title": _title(name),
            "description": f"{name.replace('-', ' ').capitalize()} ({ctype}) of the {sysname} system",
            "tags": sorted(rnd.sample(TAGS, rnd.randint(1, 4))),
            "annotations": {"github.com/project-slug": f"acme/{name}", "backstage.io/techdocs-ref": "dir:."},
        }
        if rnd.random() < 0.3:
            metadata["labels"] = {"tier": rnd.choice(["1", "2", "3"])}
        if rnd.random() < 0.4:
            metadata["links"] = [{"url": f"https://{name}.example.com", "title": "Home", "icon": "dashboard"}]
        spec = {"type": ctype, "lifecycle": rnd.choice(LIFECYCLES), "owner": owner, "system": sysname}
        own = provides.get(i, [])
        if own:
            spec["providesApis"] = [apis[j][0] for j in own]
        k = rnd.choice([0, 0, 1, 1, 2, 3])
        consumed = {rnd.randrange(n_apis) for _ in range(k)} - set(own)
        if consumed:
            spec["consumesApis"] = [apis[j][0] for j in sorted(consumed)]
        deps: list[str] = []
        if ctype == "service":
            if rnd.random() < 0.7:
                deps += [resource_refs[rnd.randrange(len(resource_refs))] for _ in range(rnd.randint(1, 2))]
            if libraries and rnd.random() < 0.5:
                deps += [
                    entity_ref("Component", components[rnd.choice(libraries)][0])
                    for _ in range(rnd.randint(1, 2))
                ]
        elif ctype == "website" and rnd.random() < 0.6:
            deps.append(entity_ref("Component", components[rnd.choice(services)][0]))
        if i > 0 and ctype != "library" and rnd.random() < 0.05:
            j = rnd.randrange(0, i)
            if components[j][1] != "library":
                spec["subcomponentOf"] = components[j][0]
        own_ref = entity_ref("Component", name)
        deps = [d for d in dict.fromkeys(deps) if d != own_ref]
        if deps:
            spec["dependsOn"] = deps
        docs = [{"apiVersion": API_VERSION, "kind": "Component", "metadata": metadata, "spec": spec}]
        docs += [api_entity(j, owner, sysname) for j in own]
        for doc in docs:
            record(doc)
        sink.add(docs)
    sink.flush()

    sink = _FileSink(out, "apis", per_file, files)
    for index, (_, _, provider) in enumerate(apis):
        if provider is None:
            sysname = rnd.choice(systems)
            entity = api_entity(index, system_owner[sysname], sysname)
            record(entity)
            sink.add([entity])
    sink.flush()

    root = {
        "apiVersion": API_VERSION,
        "kind": "Location",
        "metadata": {"name": ROOT_NAME, "description": f"Synthetic catalog, {n} entities, seed {seed}"},
        "spec": {"type": "file", "targets": [f"./{f['path']}" for f in files]},
    }
    (out / "all.yaml").write_text(dump_documents([root]), encoding="utf-8")

    manifest = {
        "format": MANIFEST_FORMAT,
        "generator": "greenroom-bench",
        "entities": n,
        "seed": seed,
        "perFile": per_file,
        "root": "all.yaml",
        "rootLocationRef": f"location:default/{ROOT_NAME}",
        "counts": counts,
        "total": n + 1,
        "componentTypeCounts": dict(sorted(type_counts.items())),
        "tagCounts": dict(sorted(tag_counts.items())),
        "namespaces": sorted({"default", *(ns for _, ns, _ in resources)}),
        "relationCount": relation_count,
        "files": files,
        "refSamples": ref_samples,
        "sampleRelations": {r: sorted([t, target] for t, target in rels) for r, rels in sample_rel.items()},
        "generationSeconds": round(time.perf_counter() - started, 3),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return manifest


def cached_catalog(
    cache_dir: Path, n: int, seed: int = 42, per_file: int = 250
) -> tuple[Path, dict[str, Any]]:
    """The generated catalog for (n, seed), generated once and reused from `cache_dir`."""
    out = cache_dir / f"catalog-{n}-s{seed}-f{per_file}"
    manifest_path = out / "manifest.json"
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if manifest.get("format") == MANIFEST_FORMAT:
            return out, manifest
    tmp = out.with_name(out.name + ".tmp")
    manifest = generate(n, tmp, seed=seed, per_file=per_file)
    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)
    return out, manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--entities", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--per-file", type=int, default=250)
    args = parser.parse_args(argv)
    manifest = generate(args.entities, args.out, seed=args.seed, per_file=args.per_file)
    summary = {k: manifest[k] for k in ("entities", "counts", "relationCount", "generationSeconds")}
    summary["files"] = len(manifest["files"]) + 1
    sys.stdout.write(json.dumps(summary) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
