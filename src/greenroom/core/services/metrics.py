"""Prometheus metrics: one registry per backend, HTTP metrics by route, and plugin metrics."""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class RootMetrics:
    """Owns the registry; a registry per backend keeps test backends from colliding."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.http_requests = Counter(
            "http_requests_total",
            "HTTP requests by method, route template and status code",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.http_latency = Histogram(
            "http_request_duration_seconds",
            "HTTP request latency by method and route template",
            ["method", "route"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MetricsService:
    """A plugin's metrics; names are prefixed `greenroom_<plugin>_` so plugins never clash."""

    def __init__(self, root: RootMetrics, plugin_id: str) -> None:
        self._root = root
        self.plugin_id = plugin_id
        self._prefix = f"greenroom_{plugin_id.replace('-', '_')}_"

    @property
    def registry(self) -> CollectorRegistry:
        return self._root.registry

    def counter(self, name: str, documentation: str, labels: Sequence[str] = ()) -> Counter:
        return Counter(self._prefix + name, documentation, list(labels), registry=self._root.registry)

    def gauge(self, name: str, documentation: str, labels: Sequence[str] = ()) -> Gauge:
        return Gauge(self._prefix + name, documentation, list(labels), registry=self._root.registry)

    def histogram(
        self,
        name: str,
        documentation: str,
        labels: Sequence[str] = (),
        buckets: Sequence[float] = _LATENCY_BUCKETS,
    ) -> Histogram:
        return Histogram(
            self._prefix + name, documentation, list(labels), buckets=buckets, registry=self._root.registry
        )
