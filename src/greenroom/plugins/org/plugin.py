"""The org plugin: Group and User entity-page cards (profile, hierarchy, members, ownership)."""

from __future__ import annotations

from pathlib import Path

from markupsafe import Markup

from greenroom.core import core_services as cs
from greenroom.core.plugin_api import PluginRegistrationPoints, create_plugin
from greenroom.core.services.instance import InstanceMetadata
from greenroom.core.services.web import WebService
from greenroom.plugins.catalog.client import CatalogApi, catalog_service_ref
from greenroom.plugins.catalog.ui.registry import (
    EntityCard,
    EntityContext,
    EntityPageRegistry,
    entity_page_service_ref,
    is_kind,
)
from greenroom.plugins.org.queries import OrgQueries, entity_ref, relation_targets, summarize

TEMPLATES = Path(__file__).parent / "templates"
PLUGIN_ID = "org"


class OrgCards:
    """Renders each card from the entity in context plus a few bounded catalog reads."""

    def __init__(self, web: WebService, catalog: CatalogApi) -> None:
        self.web = web
        self.catalog = catalog

    @property
    def queries(self) -> OrgQueries:
        return OrgQueries(self.catalog.service)

    def group_profile(self, ctx: EntityContext) -> Markup:
        queries = self.queries
        group = summarize(ctx.entity_ref, ctx.entity)
        children = queries.summaries(relation_targets(ctx.entity, "parentOf", "group")[:200])
        return self.web.render_fragment(
            "org/group_profile.html",
            {"group": group, "ancestors": queries.ancestors(ctx.entity), "children": children},
        )

    def group_members(self, ctx: EntityContext) -> Markup:
        queries = self.queries
        aggregate = ctx.request.query_params.get("members") == "all"
        sub_groups = queries.descendant_groups(ctx.entity) if aggregate else []
        members, total = queries.members([entity_ref(ctx.entity), *sub_groups])
        base = ctx.request.url.path
        return self.web.render_fragment(
            "org/group_members.html",
            {
                "members": members,
                "total": total,
                "aggregate": aggregate,
                "sub_group_count": len(sub_groups),
                "has_children": bool(relation_targets(ctx.entity, "parentOf", "group")),
                "direct_href": f"{base}#org-members",
                "all_href": f"{base}?members=all#org-members",
            },
        )

    def ownership(self, ctx: EntityContext) -> Markup:
        is_user = ctx.kind.lower() == "user"
        groups = relation_targets(ctx.entity, "memberOf", "group") if is_user else []
        direct_only = is_user and ctx.request.query_params.get("owned") == "direct"
        owners = [entity_ref(ctx.entity), *([] if direct_only else groups)]
        base = ctx.request.url.path
        return self.web.render_fragment(
            "org/ownership.html",
            {
                "ownership": self.queries.ownership(owners),
                "is_user": is_user,
                "group_count": len(groups),
                "direct_only": direct_only,
                "self_ref": entity_ref(ctx.entity),
                "direct_href": f"{base}?owned=direct#org-ownership",
                "all_href": f"{base}#org-ownership",
            },
        )

    def user_profile(self, ctx: EntityContext) -> Markup:
        user = summarize(ctx.entity_ref, ctx.entity)
        groups = self.queries.summaries(relation_targets(ctx.entity, "memberOf", "group")[:200])
        return self.web.render_fragment("org/user_profile.html", {"user": user, "groups": groups})


def register(env: PluginRegistrationPoints) -> None:
    def init(
        web: WebService, catalog: CatalogApi, entity_page: EntityPageRegistry, instance: InstanceMetadata
    ) -> None:
        if not instance.serves_http:
            return
        web.add_template_dir(TEMPLATES)
        cards = OrgCards(web, catalog)
        group, user = is_kind("Group"), is_kind("User")
        for card in (
            EntityCard("org.group-profile", "Group", cards.group_profile, group, "side", 5, PLUGIN_ID),
            EntityCard("org.group-members", "Members", cards.group_members, group, "main", 30, PLUGIN_ID),
            EntityCard("org.user-profile", "Profile", cards.user_profile, user, "side", 5, PLUGIN_ID),
            EntityCard(
                "org.ownership", "Ownership", cards.ownership, is_kind("Group", "User"), "main", 40, PLUGIN_ID
            ),
        ):
            entity_page.add_card(card)

    env.register_init(
        deps={
            "web": cs.web,
            "catalog": catalog_service_ref,
            "entity_page": entity_page_service_ref,
            "instance": cs.instance_metadata,
        },
        init=init,
    )


plugin = create_plugin(
    PLUGIN_ID,
    register,
    title="Org",
    description="Group and user pages: profile, hierarchy, members and what each team owns.",
)
