"""Org cards on Group and User pages: profile, hierarchy, members (direct or aggregated), ownership."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from greenroom.plugins.org.plugin import plugin as org_plugin
from greenroom.plugins.org.queries import catalog_href, initials

from ..api_docs.conftest import Portal, start_portal

HTML = {"accept": "text/html"}

ORG = """\
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: acme}
spec: {type: organization, profile: {displayName: Acme Corp}, children: [eng]}
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: eng, description: Engineering}
spec:
  type: department
  profile:
    displayName: "Engineering <script>alert(1)</script>"
    email: "eng@example.com\\" onmouseover=\\"alert(1)"
  parent: acme
  children: [web, data]
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: web}
spec: {type: team, parent: eng, children: [web-a11y]}
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: web-a11y}
spec: {type: team, parent: web, children: []}
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: data}
spec: {type: team, parent: eng, children: []}
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata: {name: boss}
spec: {profile: {displayName: Big Boss, email: boss@example.com}, memberOf: [eng]}
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata: {name: jane.doe}
spec: {profile: {displayName: Jane Doe, email: jane@example.com}, memberOf: [web]}
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata: {name: ada}
spec: {profile: {displayName: Ada}, memberOf: [web-a11y, data]}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: site}
spec: {type: website, lifecycle: production, owner: web}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: tool}
spec: {type: library, lifecycle: production, owner: user:jane.doe}
---
apiVersion: backstage.io/v1alpha1
kind: API
metadata: {name: site-api}
spec: {type: openapi, lifecycle: production, owner: web, definition: "openapi: 3.0.0"}
"""


@pytest.fixture
def org(tmp_path: Path) -> Iterator[Portal]:
    for portal in start_portal(tmp_path, (org_plugin,)):
        portal.register(portal.write("org.yaml", ORG))
        yield portal


def card(html: str, card_id: str) -> str:
    start = html.index(f'id="{card_id}"')
    return html[start : html.index("</section>", start)]


def test_group_profile_shows_hierarchy_up_and_one_level_down(org: Portal) -> None:
    html = org.client.get("/catalog/default/group/web", headers=HTML).text
    profile = card(html, "org-profile")
    assert profile.index("Acme Corp") < profile.index("Engineering")  # root first
    assert 'href="/catalog/default/group/web-a11y"' in profile
    assert "data" not in profile.split("Sub-groups")[1]  # siblings are not children
    top = card(org.client.get("/catalog/default/group/acme", headers=HTML).text, "org-profile")
    assert "Top of the organisation" in top and "AC" in top


def test_members_direct_and_including_sub_groups(org: Portal) -> None:
    direct = card(org.client.get("/catalog/default/group/eng", headers=HTML).text, "org-members")
    assert "Big Boss" in direct and "Jane Doe" not in direct
    assert 'href="/catalog/default/group/eng?members=all#org-members"' in direct
    everyone = card(
        org.client.get("/catalog/default/group/eng?members=all", headers=HTML).text, "org-members"
    )
    assert all(name in everyone for name in ("Big Boss", "Jane Doe", "Ada"))
    assert everyone.count('class="gr-org-member"') == 3  # Ada is in two sub-groups but listed once
    assert "3 sub-groups" in everyone


def test_ownership_counts_by_kind_link_to_catalog_filters(org: Portal) -> None:
    ownership = card(org.client.get("/catalog/default/group/web", headers=HTML).text, "org-ownership")
    assert "Component" in ownership and "API" in ownership
    assert 'href="/catalog?kind=component&amp;owner=group%3Adefault%2Fweb"' in ownership
    assert catalog_href("API", ["group:default/web", "user:default/jane.doe"]) == (
        "/catalog?kind=api&owner=group%3Adefault%2Fweb&owner=user%3Adefault%2Fjane.doe"
    )


def test_user_profile_groups_and_ownership_through_groups(org: Portal) -> None:
    html = org.client.get("/catalog/default/user/jane.doe", headers=HTML).text
    profile = card(html, "org-profile")
    assert "JD" in profile and 'href="mailto:jane@example.com"' in profile
    assert 'href="/catalog/default/group/web"' in profile
    ownership = card(html, "org-ownership")
    assert all(name in ownership for name in ("site", "tool", "site-api"))
    direct = card(
        org.client.get("/catalog/default/user/jane.doe?owned=direct", headers=HTML).text, "org-ownership"
    )
    assert "tool" in direct and ">site<" not in direct and "site-api" not in direct


def test_hostile_profile_values_are_escaped(org: Portal) -> None:
    html = org.client.get("/catalog/default/group/eng", headers=HTML).text
    assert "<script>alert(1)</script>" not in html
    assert 'onmouseover="alert(1)"' not in html


def test_initials() -> None:
    assert initials("Jane Doe") == "JD"
    assert initials("checkout-team") == "CT"
    assert initials("victoria.hughes") == "VH"
    assert initials("") == "?"
