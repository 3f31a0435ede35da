"""The `greenroom` command.

Exit codes scripts can rely on: 0 success; 1 the command ran and found problems (invalid
config, invalid descriptor files); 2 usage error; 3 the configuration could not be loaded;
4 the backend failed to start.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
import yaml
from rich.console import Console
from rich.markup import escape

from greenroom import __version__

if TYPE_CHECKING:
    from greenroom.core.config import LoadedConfig
    from greenroom.core.runtime import Backend

EXIT_PROBLEMS = 1
EXIT_CONFIG = 3
EXIT_STARTUP = 4

app = typer.Typer(
    name="greenroom",
    help="Greenroom: an internal developer portal that speaks Backstage's formats and APIs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
config_app = typer.Typer(help="Check, print and describe the configuration.", no_args_is_help=True)
db_app = typer.Typer(help="Database migrations of every installed plugin.", no_args_is_help=True)
catalog_app = typer.Typer(help="Software catalog tools that work offline.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(db_app, name="db")
app.add_typer(catalog_app, name="catalog")

# soft_wrap: never break a line (paths in messages must stay greppable, e.g. in CI logs)
err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)

ConfigOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--config",
        "-c",
        help="Config file; repeat to layer several (later files win). Default: app-config.yaml "
        "(+ app-config.local.yaml) in the current directory.",
    ),
]


def _load(config: list[Path] | None) -> LoadedConfig:
    from greenroom.core.config import ConfigError, load_config

    try:
        return load_config(config or None, cwd=Path.cwd())
    except ConfigError as error:
        err.print(f"[red]Configuration error:[/red] {escape(str(error))}", highlight=False)
        raise typer.Exit(EXIT_CONFIG) from error


def _backend(config: list[Path] | None) -> tuple[LoadedConfig, Backend]:
    from greenroom.core.runtime import Backend, StartupError

    loaded = _load(config)
    try:
        return loaded, Backend(loaded)
    except StartupError as error:
        err.print(f"[red]Startup error:[/red] {escape(str(error))}", highlight=False)
        raise typer.Exit(EXIT_STARTUP) from error


@app.command()
def version() -> None:
    """Print the Greenroom version."""
    out.print(f"greenroom {__version__}", highlight=False)


@app.command()
def serve(
    config: ConfigOption = None,
    host: Annotated[
        str | None, typer.Option(help="Interface to listen on (default backend.listen.host).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port to listen on (default backend.listen.port, 7007).")
    ] = None,
) -> None:
    """Serve the portal and its APIs, and run background work, in one process."""
    from greenroom.core.server import serve as run_server

    loaded = _load(config)
    code = run_server(loaded, host=host, port=port)
    raise typer.Exit(code)


@app.command()
def worker(config: ConfigOption = None) -> None:
    """Run background work only (catalog processing, scheduled tasks) to scale out."""
    from greenroom.core.server import run_worker

    raise typer.Exit(run_worker(_load(config)))


@config_app.command("check")
def config_check(config: ConfigOption = None) -> None:
    """Validate the merged configuration against every installed plugin's schema."""
    from greenroom.core.config import validate_config

    loaded, backend = _backend(config)
    issues = validate_config(loaded, backend.config_schemas())
    if issues:
        for issue in issues:
            err.print(f"[red]✗[/red] {escape(str(issue))}", highlight=False)
        err.print(
            f"{len(issues)} problem(s) in {', '.join(str(f) for f in loaded.files) or 'the configuration'}"
        )
        raise typer.Exit(EXIT_PROBLEMS)
    out.print(
        f"[green]✓[/green] Configuration is valid ({', '.join(str(f) for f in loaded.files)})",
        highlight=False,
    )


@config_app.command("print")
def config_print(
    config: ConfigOption = None,
    with_secrets: Annotated[
        bool, typer.Option("--with-secrets", help="Show secret values instead of masking them.")
    ] = False,
    output_format: Annotated[str, typer.Option("--format", help="yaml or json")] = "yaml",
) -> None:
    """Print the effective configuration (secrets masked unless --with-secrets)."""
    from greenroom.core.config import mask_secrets

    if output_format not in ("yaml", "json"):
        err.print(f"Unknown --format '{output_format}': use yaml or json", highlight=False)
        raise typer.Exit(2)
    loaded, backend = _backend(config)
    data = loaded.data if with_secrets else mask_secrets(loaded.data, backend.config_schemas())
    if output_format == "json":
        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    else:
        sys.stdout.write(yaml.safe_dump(data, sort_keys=False, default_flow_style=False))


@config_app.command("schema")
def config_schema(config: ConfigOption = None) -> None:
    """Print the JSON Schema of the configuration of the core and every installed plugin."""
    from greenroom.core.config import config_json_schema

    _, backend = _backend(config)
    sys.stdout.write(json.dumps(config_json_schema(backend.config_schemas()), indent=2) + "\n")


@db_app.command("upgrade")
def db_upgrade(config: ConfigOption = None) -> None:
    """Apply every plugin's pending migrations (the server also does this at startup)."""
    from greenroom.core.runtime import StartupError

    _, backend = _backend(config)
    try:
        backend.prepare()
        applied = backend.migrate()
    except StartupError as error:
        err.print(f"[red]Migration failed:[/red] {escape(str(error))}", highlight=False)
        raise typer.Exit(EXIT_STARTUP) from error
    finally:
        backend.stop()
    for plugin_id, revisions in sorted(applied.items()):
        out.print(
            f"{plugin_id}: {'applied ' + ', '.join(revisions) if revisions else 'up to date'}",
            highlight=False,
        )


@db_app.command("current")
def db_current(config: ConfigOption = None) -> None:
    """Show each plugin's current and head migration revision."""
    from greenroom.core import core_services as cs

    _, backend = _backend(config)
    try:
        backend.prepare()
        behind = False
        for plugin_id, state in sorted(backend.plugins.items()):
            migrations = state.plugin.migrations_dir
            if migrations is None:
                continue
            database = backend.get_service(cs.database, plugin_id)
            current = database.current_revision(migrations)
            head = database.head_revision(migrations)
            marker = "up to date" if current == head else "needs upgrade"
            behind = behind or current != head
            out.print(f"{plugin_id}: current={current or '(none)'} head={head} ({marker})", highlight=False)
    finally:
        backend.stop()
    if behind:
        raise typer.Exit(EXIT_PROBLEMS)


@catalog_app.command("validate")
def catalog_validate(
    paths: Annotated[
        list[Path], typer.Argument(help="Descriptor files (catalog-info.yaml) or folders to scan.")
    ],
) -> None:
    """Validate descriptor files offline; prints `file:line: field: message`, exits 1 on any error."""
    from greenroom.plugins.catalog.model import validate_descriptor_files

    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*.y*ml") if p.suffix in (".yaml", ".yml")))
        elif path.exists():
            files.append(path)
        else:
            err.print(f"{path}: no such file or directory", highlight=False)
            raise typer.Exit(EXIT_PROBLEMS)
    errors = validate_descriptor_files(files)
    for problem in errors:
        out.print(str(problem), highlight=False, markup=False, soft_wrap=True)
    if errors:
        err.print(f"{len(errors)} error(s) in {len(files)} file(s)", highlight=False)
        raise typer.Exit(EXIT_PROBLEMS)
    err.print(f"{len(files)} file(s) valid", highlight=False)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
