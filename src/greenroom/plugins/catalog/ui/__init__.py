"""The catalog's pages: index, entity pages, search, register/import, admin, home widgets.

Each page module exposes `install(ui: UiContext)`; `install_ui` calls them in order. Other
plugins add entity tabs and cards through `EntityPageRegistry`, never by editing these modules.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
from dataclasses import dataclass
from pathlib import Path

from greenroom.core.services.web import WebService
from greenroom.plugins.catalog.service import CatalogService
from greenroom.plugins.catalog.ui.registry import EntityPageRegistry
from greenroom.plugins.user_settings.client import UserSettingsApi

TEMPLATES = Path(__file__).parent.parent / "templates"


@dataclass(frozen=True)
class UiContext:
    web: WebService
    catalog: CatalogService
    registry: EntityPageRegistry
    user_settings: UserSettingsApi
    logger: logging.Logger


def install_ui(ui: UiContext) -> None:
    """Install every page module of this package (each has `install(ui)` and an `ORDER`)."""
    ui.web.add_template_dir(TEMPLATES)
    modules = []
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        if callable(getattr(module, "install", None)):
            modules.append(module)
    for module in sorted(modules, key=lambda m: (getattr(m, "ORDER", 100), m.__name__)):
        module.install(ui)
