"""Server-rendered web shell: layout, navigation, theme and the design system plugins build on."""

from greenroom.core.web.icons import ICON_NAMES, icon
from greenroom.core.web.shell import (
    InstalledFeature,
    NavItem,
    NavLink,
    WebShell,
    entity_href,
    humanize_entity_ref,
    parse_entity_ref,
)

__all__ = [
    "ICON_NAMES",
    "InstalledFeature",
    "NavItem",
    "NavLink",
    "WebShell",
    "entity_href",
    "humanize_entity_ref",
    "icon",
    "parse_entity_ref",
]
