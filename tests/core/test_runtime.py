"""Plugin wiring: order, missing and circular dependencies, modules, failing inits, overrides."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from greenroom.core import core_services as cs
from greenroom.core.config import Config, LoadedConfig
from greenroom.core.plugin_api import (
    create_extension_point,
    create_module,
    create_plugin,
    create_service_factory,
    create_service_ref,
)
from greenroom.core.runtime import Backend, StartupError, discover_features
from greenroom.core.testing import make_test_config, start_test_backend


def _backend(tmp_path: Path, *features, config: dict | None = None) -> Backend:
    return Backend(
        LoadedConfig(data=make_test_config(tmp_path, config), files=[]), features=features, discover=False
    )


def test_plugins_start_after_the_plugins_whose_services_they_use(tmp_path: Path) -> None:
    order: list[str] = []
    greeter_ref = create_service_ref("test.greeter", "root")

    def register_provider(env):
        env.provide_service(greeter_ref, lambda name: f"hi {name}")
        env.register_init(deps={}, init=lambda: order.append("provider"))

    def register_consumer(env):
        env.register_init(
            deps={"greeter": greeter_ref}, init=lambda greeter: order.append(greeter("consumer"))
        )

    # "a-consumer" sorts before "z-provider": only the dependency can put the provider first
    backend = _backend(
        tmp_path,
        create_plugin("a-consumer", register_consumer),
        create_plugin("z-provider", register_provider),
    )
    backend.start()
    try:
        assert order == ["provider", "hi consumer"]
    finally:
        backend.stop()


def test_missing_dependency_names_the_plugin_and_the_service(tmp_path: Path) -> None:
    missing = create_service_ref("test.nowhere", "root")
    backend = _backend(
        tmp_path,
        create_plugin("needy", lambda env: env.register_init(deps={"x": missing}, init=lambda x: None)),
    )
    with pytest.raises(StartupError) as raised:
        backend.start()
    assert "Plugin 'needy'" in str(raised.value)
    assert "test.nowhere" in str(raised.value)
    assert backend.get_service(cs.health).readiness()[0] == 503


def test_circular_dependency_between_plugins_is_reported_with_the_cycle(tmp_path: Path) -> None:
    a_ref = create_service_ref("test.a", "root")
    b_ref = create_service_ref("test.b", "root")

    def register_a(env):
        env.provide_service(a_ref, object())
        env.register_init(deps={"b": b_ref}, init=lambda b: None)

    def register_b(env):
        env.provide_service(b_ref, object())
        env.register_init(deps={"a": a_ref}, init=lambda a: None)

    backend = _backend(tmp_path, create_plugin("alpha", register_a), create_plugin("beta", register_b))
    with pytest.raises(
        StartupError, match=r"Circular dependency between plugins: 'alpha' -> 'beta' -> 'alpha'"
    ):
        backend.start()


def test_circular_dependency_between_service_factories(tmp_path: Path) -> None:
    x_ref = create_service_ref("test.x", "root")
    y_ref = create_service_ref("test.y", "root")
    backend = _backend(
        tmp_path,
        create_service_factory(x_ref, lambda y: "x", deps={"y": y_ref}),
        create_service_factory(y_ref, lambda x: "y", deps={"x": x_ref}),
        create_plugin("user", lambda env: env.register_init(deps={"x": x_ref}, init=lambda x: None)),
    )
    with pytest.raises(
        StartupError, match=r"Circular dependency between services: test.x -> test.y -> test.x"
    ):
        backend.start()


def test_module_extends_its_plugin_and_initialises_first(tmp_path: Path) -> None:
    actions_point = create_extension_point("test.actions")
    events: list[str] = []

    def register_plugin(env):
        registry: list[str] = []
        env.register_extension_point(actions_point, registry)
        env.register_init(deps={}, init=lambda: events.append(f"plugin sees {registry}"))

    def register_module(env):
        env.register_init(deps={"actions": actions_point}, init=lambda actions: actions.append("deploy"))

    backend = _backend(
        tmp_path, create_plugin("runner", register_plugin), create_module("runner", "deploy", register_module)
    )
    backend.start()
    backend.stop()
    assert events == ["plugin sees ['deploy']"]


def test_module_cannot_use_another_plugins_extension_point(tmp_path: Path) -> None:
    point = create_extension_point("test.other-point")

    def register_owner(env):
        env.register_extension_point(point, [])
        env.register_init(deps={}, init=lambda: None)

    backend = _backend(
        tmp_path,
        create_plugin("owner", register_owner),
        create_plugin("target", lambda env: env.register_init(deps={}, init=lambda: None)),
        create_module(
            "target", "sneaky", lambda env: env.register_init(deps={"p": point}, init=lambda p: None)
        ),
    )
    with pytest.raises(StartupError, match=r"offered by plugin 'owner'.*only extend their own plugin"):
        backend.start()


def test_module_for_a_missing_plugin_is_an_error(tmp_path: Path) -> None:
    backend = _backend(
        tmp_path, create_module("ghost", "m", lambda env: env.register_init(deps={}, init=lambda: None))
    )
    with pytest.raises(StartupError, match="extends plugin 'ghost', which is not installed"):
        backend.start()


def test_failing_init_stops_startup_with_the_plugins_name(tmp_path: Path) -> None:
    def boom() -> None:
        raise RuntimeError("cannot reach the moon")

    backend = _backend(tmp_path, create_plugin("lunar", lambda env: env.register_init(deps={}, init=boom)))
    with pytest.raises(
        StartupError, match=r"Plugin 'lunar' failed to initialize: RuntimeError: cannot reach the moon"
    ):
        backend.start()
    status, body = backend.get_service(cs.health).readiness()
    assert status == 503 and body["status"] == "error"


def test_a_service_factory_overrides_the_default(tmp_path: Path) -> None:
    seen: list[str] = []
    custom = create_service_factory(cs.logger, lambda: logging.getLogger("custom-test-logger"))
    plugin = create_plugin(
        "observer",
        lambda env: env.register_init(deps={"log": cs.logger}, init=lambda log: seen.append(log.name)),
    )
    backend = _backend(tmp_path, plugin, custom)
    backend.start()
    backend.stop()
    assert seen == ["custom-test-logger"]


def test_plugin_scoped_services_are_per_plugin_and_root_services_shared(tmp_path: Path) -> None:
    got: dict[str, tuple] = {}

    def make(pid: str):
        return create_plugin(
            pid,
            lambda env: env.register_init(
                deps={"log": cs.logger, "events": cs.events},
                init=lambda log, events: got.__setitem__(pid, (log, events)),
            ),
        )

    backend = _backend(tmp_path, make("one"), make("two"))
    backend.start()
    backend.stop()
    assert got["one"][0].name == "greenroom.one" and got["two"][0].name == "greenroom.two"
    assert got["one"][1] is got["two"][1]


def test_disabled_plugin_is_not_started(tmp_path: Path) -> None:
    started: list[str] = []
    plugin = create_plugin(
        "optional", lambda env: env.register_init(deps={}, init=lambda: started.append("x"))
    )
    backend = _backend(tmp_path, plugin, config={"backend": {"plugins": {"optional": {"enabled": False}}}})
    backend.start()
    backend.stop()
    assert started == []


def test_builtin_plugins_are_discovered_through_the_entry_point_group() -> None:
    ids = {getattr(f, "feature_id", None) for f in discover_features()}
    assert "catalog" in ids


def test_invalid_config_fails_startup_naming_the_key(tmp_path: Path) -> None:
    backend = _backend(tmp_path, config={"backend": {"listen": {"port": "not-a-port"}}})
    with pytest.raises(StartupError, match=r"backend\.listen\.port"):
        backend.start()


def test_lifecycle_hooks_run_on_start_and_stop(tmp_path: Path) -> None:
    calls: list[str] = []

    def init(lifecycle) -> None:
        lifecycle.add_startup_hook(lambda: calls.append("start"))
        lifecycle.add_shutdown_hook(lambda: calls.append("stop"))

    with start_test_backend(
        [create_plugin("hooks", lambda env: env.register_init(deps={"lifecycle": cs.lifecycle}, init=init))]
    ):
        assert calls == ["start"]
    assert calls == ["start", "stop"]


def test_config_is_available_to_plugins(tmp_path: Path) -> None:
    seen: list[str | None] = []
    plugin = create_plugin(
        "reader",
        lambda env: env.register_init(
            deps={"config": cs.root_config},
            init=lambda config: seen.append(Config.get_optional_string(config, "app.title")),
        ),
    )
    backend = _backend(tmp_path, plugin)
    backend.start()
    backend.stop()
    assert seen == ["Greenroom (test)"]
