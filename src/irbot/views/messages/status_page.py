"""What the incident channel is told when the incident goes on or off the public status page, and
the words the page shows when a resolution gave none."""

from __future__ import annotations

from irbot.views.render import Renderer


def published(renderer: Renderer, *, ref: str, actor: str, public_title: str, impact: str, link: str) -> str:
    """``impact`` as the page names it; ``link``: the incident's public page."""
    return renderer.part("status_page.j2", "published_notice", ref=ref, actor=actor, public_title=public_title,
                         impact=impact, link=link)


def unpublished(renderer: Renderer, *, ref: str, actor: str) -> str:
    return renderer.part("status_page.j2", "unpublished_notice", ref=ref, actor=actor)


def default_resolved(renderer: Renderer) -> str:
    """The page's "Resolved" entry when the person resolving wrote nothing for the public."""
    return renderer.part("status_page.j2", "default_resolved")
