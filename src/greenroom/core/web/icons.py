"""The shell's built-in inline SVG icons.

Icons are inlined (not an icon font or sprite file) so they inherit `currentColor`, need no extra
request, and keep working offline. Plugins pick one by name; an unknown name falls back to "box"
instead of failing, because a typo in a nav item must not break every page.
"""

from __future__ import annotations

from markupsafe import Markup

# 24x24 stroke paths, drawn for this project. Each value is the SVG body (no outer <svg>).
_ICON_BODIES: dict[str, str] = {
    "home": '<path d="M3.5 10.5 12 3.5l8.5 7"/><path d="M5.5 9v11h5v-6h3v6h5V9"/>',
    "catalog": (
        '<rect x="3.5" y="3.5" width="7" height="7" rx="1.5"/>'
        '<rect x="13.5" y="3.5" width="7" height="7" rx="1.5"/>'
        '<rect x="3.5" y="13.5" width="7" height="7" rx="1.5"/>'
        '<rect x="13.5" y="13.5" width="7" height="7" rx="1.5"/>'
    ),
    "api": '<path d="M8 7.5 3.5 12 8 16.5"/><path d="M16 7.5 20.5 12 16 16.5"/><path d="M13.5 5l-3 14"/>',
    "docs": '<path d="M6 3.5h8l4.5 4.5v12.5H6z"/><path d="M13.5 3.5V8.5h5"/><path d="M9 13h6.5M9 16.5h4.5"/>',
    "create": '<circle cx="12" cy="12" r="8.5"/><path d="M12 8v8M8 12h8"/>',
    "search": '<circle cx="11" cy="11" r="6.5"/><path d="m20 20-4.2-4.2"/>',
    "group": (
        '<circle cx="9" cy="8.5" r="3.5"/><path d="M2.5 20c.7-3.4 3.3-5.5 6.5-5.5s5.8 2.1 6.5 5.5"/>'
        '<circle cx="17" cy="9" r="2.5"/><path d="M17 14.3c2.3.2 4 1.9 4.5 4.7"/>'
    ),
    "user": '<circle cx="12" cy="8" r="4"/><path d="M4.5 20.5c.9-3.8 3.9-6 7.5-6s6.6 2.2 7.5 6"/>',
    "settings": (
        '<path d="M4 6.5h9M17 6.5h3M4 12h3M11 12h9M4 17.5h11M19 17.5h1"/>'
        '<circle cx="15" cy="6.5" r="2"/><circle cx="9" cy="12" r="2"/><circle cx="17" cy="17.5" r="2"/>'
    ),
    "box": '<path d="M12 3 20 7.5v9L12 21l-8-4.5v-9z"/><path d="m4 7.5 8 4.5 8-4.5M12 12v9"/>',
    "graph": (
        '<circle cx="6" cy="6" r="2.5"/><circle cx="18" cy="6" r="2.5"/><circle cx="12" cy="18" r="2.5"/>'
        '<path d="M8.5 6h7M7.2 8.3l3.6 7.4M16.8 8.3l-3.6 7.4"/>'
    ),
    "admin": (
        '<path d="M12 3.5 19.5 6v6c0 4.3-3.1 7.6-7.5 8.5-4.4-.9-7.5-4.2-7.5-8.5V6z"/>'
        '<path d="m9 12 2 2 4-4"/>'
    ),
    # Used by the shell itself (alerts, theme toggle, cards); plugins may use them too.
    "sun": (
        '<circle cx="12" cy="12" r="4"/><path d="M12 2.5v2M12 19.5v2M4.6 4.6 6 6M18 18l1.4 1.4'
        'M2.5 12h2M19.5 12h2M4.6 19.4 6 18M18 6l1.4-1.4"/>'
    ),
    "moon": '<path d="M19.5 14.5A8 8 0 0 1 9.5 4.5a8 8 0 1 0 10 10z"/>',
    "info": '<circle cx="12" cy="12" r="8.5"/><path d="M12 11v5.5M12 7.75v.01"/>',
    "warning": '<path d="M12 4 2.8 19.5h18.4z"/><path d="M12 10v4.5M12 17.2v.01"/>',
    "error": '<circle cx="12" cy="12" r="8.5"/><path d="m15 9-6 6M9 9l6 6"/>',
    "success": '<circle cx="12" cy="12" r="8.5"/><path d="m8.2 12.3 2.6 2.6 5-5.4"/>',
    "plug": '<path d="M9 3.5V8M15 3.5V8"/><path d="M6.5 8h11v3a5.5 5.5 0 0 1-11 0z"/><path d="M12 16.5v4"/>',
    "arrow-right": '<path d="M5 12h14M13 6l6 6-6 6"/>',
    "external": (
        '<path d="M14 4h6v6M20 4l-8.5 8.5"/>'
        '<path d="M18 14v5a1 1 0 0 1-1 1H5a1 1 0 0 1-1-1V7a1 1 0 0 1 1-1h5"/>'
    ),
}

ICON_NAMES: frozenset[str] = frozenset(_ICON_BODIES)
"""Every name `icon()` knows; NavItem.icon should be one of these."""

_LOGO = (
    '<svg class="gr-logo" width="{size}" height="{size}" viewBox="0 0 32 32" aria-hidden="true" '
    'focusable="false"><rect width="32" height="32" rx="8" fill="var(--gr-logo-bg, #12905f)"/>'
    '<path d="M22.5 11.2A8 8 0 1 0 24 16h-7.5" fill="none" stroke="#fff" stroke-width="3.2" '
    'stroke-linecap="round" stroke-linejoin="round"/>'
    '<circle cx="22.6" cy="9.6" r="1.9" fill="#b6f2d3"/></svg>'
)


def icon(name: str, size: int = 18, label: str | None = None) -> Markup:
    """Render one icon as inline SVG; decorative (aria-hidden) unless `label` is given."""
    body = _ICON_BODIES.get(name, _ICON_BODIES["box"])
    size = int(size)
    a11y = f'role="img" aria-label="{Markup.escape(label)}"' if label else 'aria-hidden="true"'
    return Markup(
        f'<svg class="gr-icon" width="{size}" height="{size}" viewBox="0 0 24 24" fill="none" '
        f'stroke="currentColor" stroke-width="1.75" stroke-linecap="round" stroke-linejoin="round" '
        f'focusable="false" {a11y}>{body}</svg>'
    )


def logo(size: int = 28) -> Markup:
    """Render the Greenroom logo mark (a "G" with a sprout dot) as inline SVG."""
    return Markup(_LOGO.format(size=int(size)))
