"""Well-known annotation keys, and the stitch-time guard against script URLs in them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

ANNOTATION_MANAGED_BY_LOCATION = "backstage.io/managed-by-location"
ANNOTATION_MANAGED_BY_ORIGIN_LOCATION = "backstage.io/managed-by-origin-location"
# Backstage's own constant names, for readers porting code.
ANNOTATION_LOCATION = ANNOTATION_MANAGED_BY_LOCATION
ANNOTATION_ORIGIN_LOCATION = ANNOTATION_MANAGED_BY_ORIGIN_LOCATION
ANNOTATION_SOURCE_LOCATION = "backstage.io/source-location"
ANNOTATION_VIEW_URL = "backstage.io/view-url"
ANNOTATION_EDIT_URL = "backstage.io/edit-url"
ANNOTATION_ORPHAN = "backstage.io/orphan"
ANNOTATION_TECHDOCS_REF = "backstage.io/techdocs-ref"
ANNOTATION_TECHDOCS_ENTITY = "backstage.io/techdocs-entity"
ANNOTATION_TECHDOCS_ENTITY_PATH = "backstage.io/techdocs-entity-path"
ANNOTATION_KUBERNETES_ID = "backstage.io/kubernetes-id"
ANNOTATION_KUBERNETES_NAMESPACE = "backstage.io/kubernetes-namespace"
ANNOTATION_KUBERNETES_LABEL_SELECTOR = "backstage.io/kubernetes-label-selector"
ANNOTATION_KUBERNETES_API_SERVER = "kubernetes.io/api-server"
ANNOTATION_KUBERNETES_API_SERVER_CA = "kubernetes.io/api-server-certificate-authority"
ANNOTATION_KUBERNETES_AUTH_PROVIDER = "kubernetes.io/auth-provider"
ANNOTATION_LDAP_RDN = "backstage.io/ldap-rdn"
ANNOTATION_LDAP_UUID = "backstage.io/ldap-uuid"
ANNOTATION_LDAP_DN = "backstage.io/ldap-dn"
ANNOTATION_MSGRAPH_TENANT_ID = "graph.microsoft.com/tenant-id"
ANNOTATION_MSGRAPH_GROUP_ID = "graph.microsoft.com/group-id"
ANNOTATION_MSGRAPH_USER_ID = "graph.microsoft.com/user-id"
ANNOTATION_GITHUB_PROJECT_SLUG = "github.com/project-slug"
ANNOTATION_GITHUB_TEAM_SLUG = "github.com/team-slug"
ANNOTATION_GITHUB_USER_LOGIN = "github.com/user-login"
ANNOTATION_CODE_COVERAGE = "backstage.io/code-coverage"
# Deprecated in Backstage (use a `$text` placeholder); still recognised so it can be reported.
ANNOTATION_DEFINITION_AT_LOCATION = "backstage.io/definition-at-location"

REJECTED_URL_REPLACEMENT = "https://backstage.io/annotation-rejected-for-security-reasons"

# Browsers drop leading C0/space and tabs/newlines anywhere in a URL, so "java\tscript:" still runs.
_SCRIPT_URL = re.compile(
    r"[\x00-\x20]*" + r"[\t\n\r]*".join("javascript") + r"[\t\n\r]*:",
    re.IGNORECASE,
)
_LINK_ANNOTATIONS = (ANNOTATION_VIEW_URL, ANNOTATION_EDIT_URL)


def is_script_url(value: str) -> bool:
    """Whether a browser would treat the URL as a `javascript:` URL."""
    return _SCRIPT_URL.match(value) is not None


def sanitize_annotation_urls(entity: Mapping[str, Any]) -> Mapping[str, Any]:
    """Neutralise `javascript:` view/edit URLs, which the UI renders as clickable links.

    Returns the same object when nothing is replaced, else a copy with new metadata/annotations.
    """
    metadata = entity.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, Mapping) else None
    if not isinstance(annotations, Mapping):
        return entity
    unsafe = [
        key
        for key in _LINK_ANNOTATIONS
        if isinstance(annotations.get(key), str) and is_script_url(annotations[key])
    ]
    if not unsafe:
        return entity
    assert isinstance(metadata, Mapping)
    safe_annotations = {**annotations, **dict.fromkeys(unsafe, REJECTED_URL_REPLACEMENT)}
    return {**entity, "metadata": {**metadata, "annotations": safe_annotations}}
