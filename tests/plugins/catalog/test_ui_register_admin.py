"""Register (/catalog-import) and admin (/catalog-admin) pages on a real catalog (SQLite + PostgreSQL)."""

from __future__ import annotations

import html
import json
import re
import time

import httpx
import pytest

from greenroom.plugins.catalog import tables as t
from tests.plugins.catalog.conftest import CatalogHarness, component

BASE = "http://127.0.0.1:7007"  # app.baseUrl of the test backend
SAME_ORIGIN = {"Origin": BASE}


def post(
    catalog: CatalogHarness, path: str, data: dict[str, str] | None = None, **headers: str
) -> httpx.Response:
    return catalog.client.post(
        path, data=data or {"confirm": "yes"}, headers={**SAME_ORIGIN, **headers}, follow_redirects=False
    )


def analyze(catalog: CatalogHarness, target: str) -> httpx.Response:
    return post(catalog, "/catalog-import/analyze", {"target": target})


def text_of(response_text: str) -> str:
    """Page text without tags and with entities decoded, whitespace collapsed."""
    without_tags = re.sub(r"<[^>]+>", " ", response_text.replace("<wbr>", ""))
    return re.sub(r"\s+", " ", html.unescape(without_tags))


def registered_targets(catalog: CatalogHarness) -> list[str]:
    return [item["data"]["target"] for item in catalog.client.get("/api/catalog/locations").json()]


# ------------------------------------------------------------------------------- register
def test_import_page_renders_empty_form(catalog: CatalogHarness) -> None:
    response = catalog.client.get("/catalog-import")
    assert response.status_code == 200
    assert 'action="/catalog-import/analyze"' in response.text
    assert str(catalog.root) in response.text  # the readable roots are named in the help text
    assert re.search(r'<a class="gr-nav__item is-active" href="/catalog-import"', response.text)  # nav item


def test_analyze_previews_entities(catalog: CatalogHarness) -> None:
    path = catalog.write("svc/catalog-info.yaml", component("payments", owner="team-pay"))
    response = analyze(catalog, str(path))
    assert response.status_code == 200, response.text
    page = text_of(response.text)
    assert "Ready to import 1 entity" in page
    assert "payments" in page and "team-pay" in page and "Component" in page
    assert "svc/catalog-info.yaml" in page  # shown relative to the reading root when long
    assert 'action="/catalog-import/import"' in response.text
    assert registered_targets(catalog) == []  # analyzing registers nothing


def test_analyze_marks_entities_another_location_already_provides(catalog: CatalogHarness) -> None:
    catalog.register(catalog.write("all.yaml", component("payments")))
    catalog.settle()
    folder = catalog.write("svc/catalog-info.yaml", component("payments") + "---\n" + component("ledger"))
    page = text_of(analyze(catalog, str(folder.parent)).text)
    assert "Some entities are already in the catalog" in page
    assert "1 of these entities is already in the catalog from another location" in page
    assert re.search(r"payments .*already in the catalog", page) and re.search(r"ledger .*OK", page)
    same = text_of(analyze(catalog, str(catalog.root / "all.yaml")).text)
    assert "Already registered" in same  # the very location: nothing to import, no conflict warning
    covered = catalog.write("copy/catalog-info.yaml", component("payments"))
    assert "Nothing new to import" in text_of(analyze(catalog, str(covered)).text)
    # nothing provides them yet: no warning
    fresh = text_of(analyze(catalog, str(catalog.write("new/catalog-info.yaml", component("fresh")))).text)
    assert "already in the catalog" not in fresh


def test_analyze_flags_validation_problems_with_line(catalog: CatalogHarness) -> None:
    path = catalog.write(
        "bad/catalog-info.yaml",
        """
        apiVersion: backstage.io/v1alpha1
        kind: Component
        metadata:
          name: Bad Name!
        spec:
          type: service
          lifecycle: production
          owner: team-a
          dependsOn: [orders-db]
        """,
    )
    page = text_of(analyze(catalog, str(path)).text)
    assert "2 problems" in page
    assert "line 4" in page and '"metadata.name" is not valid' in page
    assert "line 9" in page and "missing or empty kind" in page
    assert "Import anyway" in page


def test_analyze_does_not_flag_placeholders(catalog: CatalogHarness) -> None:
    catalog.write("api/openapi.yaml", "openapi: 3.0.0\n")
    path = catalog.write(
        "api/catalog-info.yaml",
        """
        apiVersion: backstage.io/v1alpha1
        kind: API
        metadata:
          name: pay-api
        spec:
          type: openapi
          lifecycle: production
          owner: team-a
          definition:
            $text: ./openapi.yaml
        """,
    )
    page = text_of(analyze(catalog, str(path)).text)
    assert "pay-api" in page and "problem" not in page


def test_import_registers_and_shows_new_entities(catalog: CatalogHarness) -> None:
    path = catalog.write("svc/catalog-info.yaml", component("checkout"))
    response = post(catalog, "/catalog-import/import", {"target": str(path)})
    assert response.status_code == 303, response.text
    status_url = response.headers["location"]
    assert status_url.startswith("/catalog-import/status/")
    assert registered_targets(catalog) == [str(path)]
    catalog.settle()
    page = catalog.client.get(status_url)
    assert page.status_code == 200
    assert 'href="/catalog/default/component/checkout"' in page.text
    assert "data-gr-import-pending" not in page.text
    assert "in the catalog" in text_of(page.text)


def test_status_page_explains_pending_processing(catalog: CatalogHarness) -> None:
    path = catalog.write("svc/catalog-info.yaml", component("slowpoke"))
    location = catalog.register(path)["location"]
    catalog.settle()  # nothing is due again for 10 minutes, so the state below stays put
    with catalog.service.store.engine.begin() as conn:
        conn.execute(t.final_entities.delete())
        conn.execute(
            t.refresh_state.update()
            .where(t.refresh_state.c.entity_ref == location["entityRef"])
            .values(processed_entity=None)
        )
    page = catalog.client.get(f"/catalog-import/status/{location['id']}")
    assert page.status_code == 200
    assert "Processing" in page.text and "data-gr-import-pending" in page.text
    assert "refresh it" in page.text
    assert catalog.client.get("/catalog-import/status/no-such-id").status_code == 404


def test_folder_registration_becomes_glob_location(catalog: CatalogHarness) -> None:
    catalog.write("repo/a/catalog-info.yaml", component("alpha"))
    catalog.write("repo/b/deep/catalog-info.yaml", component("beta"))
    catalog.write("repo/b/other.yaml", component("ignored"))
    folder = catalog.root / "repo"
    page = text_of(analyze(catalog, str(folder)).text)
    glob = f"{folder}/**/catalog-info.yaml"
    assert f"file:{glob}" in page and "folder" in page
    assert "Ready to import 2 entities" in page and "alpha" in page and "beta" in page
    assert "ignored" not in page
    response = post(catalog, "/catalog-import/import", {"target": str(folder)})
    assert response.status_code == 303
    assert registered_targets(catalog) == [glob]
    catalog.settle()
    assert catalog.entity("component:default/alpha") is not None
    assert catalog.entity("component:default/beta") is not None


def test_already_registered_target_says_so(catalog: CatalogHarness) -> None:
    path = catalog.write("svc/catalog-info.yaml", component("known"))
    location = catalog.register(path)["location"]
    response = analyze(catalog, str(path))
    assert response.status_code == 200
    assert "already in the catalog" in response.text
    assert f'href="/catalog-import/status/{location["id"]}"' in response.text
    assert 'action="/catalog-import/import"' not in response.text
    again = post(catalog, "/catalog-import/import", {"target": str(path)})
    assert again.status_code == 409
    assert "already exists" in again.text
    assert registered_targets(catalog) == [str(path)]


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("syntax.yaml", "kind: Component\nmetadata:\n  name: x\n   description: y\n", "YAML syntax error"),
        ("list.yaml", "- a\n- b\n", "expected a mapping (an entity), found a list"),
        ("README.md", "# Read me\n\nNot a catalog file.\n", "expected a mapping (an entity), found a string"),
        ("empty.yaml", "", "holds no catalog entities"),
    ],
)
def test_bad_files_show_precise_errors(
    catalog: CatalogHarness, name: str, content: str, expected: str
) -> None:
    path = catalog.write(name, content)
    response = analyze(catalog, str(path))
    assert response.status_code == 422
    page = text_of(response.text)
    assert expected in page
    assert f'value="{path}"' in response.text  # the form keeps what was typed
    assert 'aria-invalid="true"' in response.text
    if name == "syntax.yaml":
        assert re.search(r"syntax\.yaml\s+4\s+YAML syntax error", page), page  # file, line, message
    assert registered_targets(catalog) == []


def test_yaml_errors_in_a_folder_are_all_listed(catalog: CatalogHarness) -> None:
    catalog.write("repo/a/catalog-info.yaml", "kind: [\n")
    catalog.write("repo/b/catalog-info.yaml", "metadata:\n  name: x\n   bad: y\n")
    page = text_of(analyze(catalog, str(catalog.root / "repo")).text)
    assert "a/catalog-info.yaml" in page and "b/catalog-info.yaml" in page


@pytest.mark.parametrize(
    ("target", "expected", "status"),
    [
        ("/etc/passwd", "outside the reading roots", 422),
        ("https://not-allowed.invalid/x.yaml", 'reading from host "not-allowed.invalid" is not allowed', 422),
        ("{root}/missing.yaml", "does not exist", 422),
        ("{root}/empty-folder", "No catalog-info.yaml files were found", 422),
        ("", "Enter the path of a catalog-info.yaml file", 422),
        ("ftp://example.com/catalog-info.yaml", "'ftp:' locations cannot be registered here", 422),
        ("javascript:alert(1)", "'javascript:' locations cannot be registered here", 422),
    ],
)
def test_bad_input_is_explained_and_kept(
    catalog: CatalogHarness, target: str, expected: str, status: int
) -> None:
    (catalog.root / "empty-folder").mkdir()
    target = target.format(root=catalog.root)
    response = analyze(catalog, target)
    assert response.status_code == status
    assert expected in text_of(response.text)
    assert f'value="{html.escape(target)}"' in response.text
    imported = post(catalog, "/catalog-import/import", {"target": target})
    assert imported.status_code == status
    assert registered_targets(catalog) == []


def test_hostile_input_is_escaped(catalog: CatalogHarness) -> None:
    response = analyze(catalog, '"><script>alert(1)</script>')
    assert "<script>alert(1)</script>" not in response.text
    assert "&lt;script&gt;" in response.text or "&#34;&gt;&lt;script&gt;" in response.text


# ------------------------------------------------------------------------------- form guard
@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Origin": "http://127.0.0.1:7008"},
        {"Origin": "", "Sec-Fetch-Site": "cross-site"},
        {"Origin": "", "Referer": "https://evil.example/page"},
    ],
)
def test_cross_site_posts_are_rejected(catalog: CatalogHarness, headers: dict[str, str]) -> None:
    path = catalog.write("svc/catalog-info.yaml", component("victim"))
    sent = {k: v for k, v in headers.items() if v}
    response = catalog.client.post(
        "/catalog-import/import", data={"target": str(path)}, headers=sent, follow_redirects=False
    )
    assert response.status_code == 403
    assert "Refused" in response.text
    assert registered_targets(catalog) == []
    location = catalog.register(path)["location"]
    delete = catalog.client.post(
        f"/catalog-admin/locations/{location['id']}/delete",
        data={"confirm": "yes"},
        headers=sent,
        follow_redirects=False,
    )
    assert delete.status_code == 403
    assert registered_targets(catalog) == [str(path)]


@pytest.mark.parametrize("action", ["unregister", "refresh", "star"])
def test_cross_site_posts_to_entity_pages_are_rejected(catalog: CatalogHarness, action: str) -> None:
    catalog.register(catalog.write("svc/catalog-info.yaml", component("victim")))
    catalog.settle()
    page = "/catalog/default/component/victim"
    response = catalog.client.post(
        f"{page}/{action}",
        data={"mode": "entity", "confirm": "yes"},
        headers={"Origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert response.json()["error"]["message"].startswith(
        "Refused a request from another site (https://evil.example)"
    )
    assert catalog.entity("component:default/victim") is not None
    home = catalog.client.post(
        "/home/starred",
        data={"entity_ref": "component:default/victim", "starred": "true"},
        headers={"Sec-Fetch-Site": "cross-site"},
        follow_redirects=False,
    )
    assert home.status_code == 403


def test_api_writes_from_another_site_or_without_json_are_refused(catalog: CatalogHarness) -> None:
    path = catalog.write("svc/catalog-info.yaml", component("api-victim"))
    body = json.dumps({"type": "file", "target": str(path)})
    # a "simple" cross-site request: text/plain needs no CORS preflight, so the body type is checked
    plain = catalog.client.post(
        "/api/catalog/locations", content=body, headers={"Content-Type": "text/plain"}
    )
    assert plain.status_code == 415 and plain.json()["error"]["name"] == "UnsupportedMediaTypeError"
    foreign = catalog.client.post(
        "/api/catalog/locations",
        content=body,
        headers={"Content-Type": "application/json", "Origin": "https://evil.example"},
    )
    assert foreign.status_code == 403 and foreign.json()["error"]["name"] == "NotAllowedError"
    assert registered_targets(catalog) == []
    # a script (no Origin) or the portal's own pages, at any of its loopback addresses
    for headers in ({}, {"Origin": "http://localhost:7007"}, {"Origin": BASE}):
        dry = catalog.client.post(
            "/api/catalog/locations?dryRun=true",
            content=body,
            headers={"Content-Type": "application/json", **headers},
        )
        assert dry.status_code == 201, (headers, dry.text)
    # reads are never refused
    assert (
        catalog.client.get("/api/catalog/entities", headers={"Origin": "https://evil.example"}).status_code
        == 200
    )


def test_non_form_posts_are_rejected(catalog: CatalogHarness) -> None:
    path = catalog.write("svc/catalog-info.yaml", component("json"))
    response = catalog.client.post("/catalog-import/import", json={"target": str(path)}, headers=SAME_ORIGIN)
    assert response.status_code == 415
    assert registered_targets(catalog) == []


def test_same_origin_posts_without_origin_header_are_accepted(catalog: CatalogHarness) -> None:
    path = catalog.write("svc/catalog-info.yaml", component("plain"))
    response = catalog.client.post(
        "/catalog-import/analyze",
        data={"target": str(path)},
        headers={"Referer": f"{BASE}/catalog-import", "Sec-Fetch-Site": "same-origin"},
    )
    assert response.status_code == 200


# ------------------------------------------------------------------------------- admin
def test_admin_overview_shows_status_and_good_empty_states(catalog: CatalogHarness) -> None:
    response = catalog.client.get("/catalog-admin")
    assert response.status_code == 200
    page = text_of(response.text)
    assert "entities in the catalog" in page and "waiting to be processed" in page
    assert "No entity reported an error." in page
    assert re.search(r'<a class="gr-nav__item is-active" href="/catalog-admin"', response.text)
    for path, good in [
        ("/catalog-admin/errors", "No processing errors"),
        ("/catalog-admin/unprocessed", "Every location was read"),
        ("/catalog-admin/orphans", "No orphans"),
        ("/catalog-admin/conflicts", "No conflicts"),
        ("/catalog-admin/locations", "No registered locations"),
    ]:
        listing = catalog.client.get(path)
        assert listing.status_code == 200, path
        assert good in listing.text, path


def test_admin_lists_processing_errors_with_file_and_line(catalog: CatalogHarness) -> None:
    good = catalog.write("good.yaml", component("fine"))
    broken = catalog.write(
        "broken.yaml",
        """
        apiVersion: backstage.io/v1alpha1
        kind: Component
        metadata:
          name: Not Valid
        spec:
          type: service
          lifecycle: production
          owner: team-a
        ---
        apiVersion: backstage.io/v1alpha1
        kind: Component
        metadata:
          name: half-broken
        spec:
          type: service
          lifecycle: production
          owner: team-a
          dependsOn: [orders-db]
        """,
    )
    catalog.register(good)
    catalog.register(broken)
    catalog.settle()
    response = catalog.client.get("/catalog-admin/errors")
    page = text_of(response.text)
    assert "component:not valid" in page  # never became visible: still listed
    assert "not in the catalog" in page
    assert 'href="/catalog/default/component/half-broken"' in response.text  # visible with an error
    assert re.search(r"broken\.yaml\s+4\s+InputError\s+metadata\.name", page), page
    assert re.search(r"broken\.yaml\s+18\s+InputError\s+spec\.dependsOn\.0", page), page
    assert "Processing errors (2)" in page and "2 errors, in 2 entities or locations." in page
    overview = text_of(catalog.client.get("/catalog-admin").text)
    assert "2 entities or locations reported errors" in overview
    filtered = text_of(catalog.client.get("/catalog-admin/errors", params={"q": "ORDERS-DB"}).text)
    assert "half-broken" in filtered and "not valid" not in filtered
    hidden = text_of(catalog.client.get("/catalog-admin/errors", params={"show": "hidden"}).text)
    assert "not valid" in hidden and "half-broken" not in hidden
    nothing = catalog.client.get("/catalog-admin/errors", params={"q": "zzz-nothing"})
    assert "No errors match" in nothing.text


def test_admin_lists_failed_locations(catalog: CatalogHarness) -> None:
    path = catalog.write("bad.yaml", "kind: Component\nmetadata:\n  name: x\n   description: y\n")
    location = catalog.register(path)["location"]
    catalog.settle()
    response = catalog.client.get("/catalog-admin/unprocessed")
    page = text_of(response.text)
    assert "registered" in page and "YAML syntax error" in page
    assert "bad.yaml:4" in page
    assert f"/catalog-admin/locations/{location['id']}/delete" in response.text
    assert "Failed locations (1)" in page


def test_admin_lists_conflicts(catalog: CatalogHarness) -> None:
    with catalog.service.store.engine.begin() as conn:
        conn.execute(
            t.conflicts.insert().values(
                entity_ref="component:default/twin",
                existing_location_key=f"file:{catalog.root}/a.yaml",
                new_location_key=f"file:{catalog.root}/b.yaml",
                last_conflict_at=time.time() - 120,
            )
        )
    page = text_of(catalog.client.get("/catalog-admin/conflicts").text)
    assert "component:twin" in page and "a.yaml" in page and "b.yaml" in page and "2 minutes ago" in page


def test_location_delete_shows_what_goes_then_removes_it(catalog: CatalogHarness) -> None:
    path = catalog.write("svc/catalog-info.yaml", component("doomed"))
    location = catalog.register(path)["location"]
    catalog.settle()
    listing = catalog.client.get("/catalog-admin/locations")
    assert str(path) in listing.text
    confirm = catalog.client.get(f"/catalog-admin/locations/{location['id']}/delete")
    assert confirm.status_code == 200
    confirm_text = text_of(confirm.text)
    assert "Unregister this location?" in confirm_text and "component:doomed" in confirm_text
    assert "Unregister and remove 1 entity" in confirm_text
    assert registered_targets(catalog) == [str(path)]  # the confirmation page changes nothing
    response = post(catalog, f"/catalog-admin/locations/{location['id']}/delete")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/catalog-admin/locations?notice=")
    assert registered_targets(catalog) == []
    catalog.settle()
    assert catalog.entity("component:default/doomed") is None
    assert "Removed file:" in catalog.client.get(response.headers["location"]).text
    gone = catalog.client.get(f"/catalog-admin/locations/{location['id']}/delete")
    assert gone.status_code == 404


def test_orphan_delete(catalog_keep: CatalogHarness) -> None:
    catalog = catalog_keep
    two = component("keeper") + "---\n" + component("leaver")
    path = catalog.write("svc/catalog-info.yaml", two)
    location = catalog.register(path)["location"]
    catalog.settle()
    assert catalog.entity("component:default/leaver") is not None
    catalog.write("svc/catalog-info.yaml", component("keeper"))
    catalog.service.refresh(f"location:default/{location['entityRef'].split('/', 1)[1]}")
    catalog.settle()
    listing = catalog.client.get("/catalog-admin/orphans")
    assert "component:leaver" in text_of(listing.text)
    match = re.search(r'href="(/catalog-admin/orphans/([^/"]+)/delete)"', listing.text)
    assert match, listing.text
    confirm = catalog.client.get(match.group(1))
    assert confirm.status_code == 200 and "Delete this orphan?" in confirm.text
    blocked = catalog.client.post(
        match.group(1), data={"confirm": "yes"}, headers={"Origin": "https://evil.example"}
    )
    assert blocked.status_code == 403
    response = post(catalog, match.group(1))
    assert response.status_code == 303
    assert catalog.entity("component:default/leaver") is None
    assert catalog.entity("component:default/keeper") is not None
    assert "No orphans" in catalog.client.get("/catalog-admin/orphans").text
    # a non-orphan cannot be deleted through the orphan form
    keeper_uid = catalog.entity("component:default/keeper")["metadata"]["uid"]  # type: ignore[index]
    refused = post(catalog, f"/catalog-admin/orphans/{keeper_uid}/delete")
    assert refused.status_code == 303 and "no+longer+an+orphan" in refused.headers["location"]
    assert catalog.entity("component:default/keeper") is not None


def test_readonly_catalog_cannot_import_or_delete(catalog_readonly: CatalogHarness) -> None:
    catalog = catalog_readonly
    path = catalog.write("svc/catalog-info.yaml", component("frozen"))
    page = catalog.client.get("/catalog-import")
    assert "read-only" in page.text
    response = post(catalog, "/catalog-import/import", {"target": str(path)})
    assert response.status_code == 403
    assert "read-only mode" in response.text
