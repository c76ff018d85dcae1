"""The status page's HTML, Atom feed and JSON summary, and its publish form in Slack.

HTML comes from ``status_*.html.j2`` in ``message_templates/`` (overridable through
``IRBOT_TEMPLATES`` like every template), rendered with autoescaping: every value is text.
The feed is built by feedgen, a maintained Atom library, never by string concatenation.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from jinja2 import ChoiceLoader, FileSystemLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment
from slack_sdk.models.blocks import (
    ContextBlock, InputBlock, MarkdownTextObject, StaticMultiSelectElement, Option, PlainTextInputElement,
    PlainTextObject, StaticSelectElement,
)
from slack_sdk.models.views import View

from irbot.domain.status_page import Impact, StatusPageSettings
from irbot.domain.text import truncate
from irbot.views.ids import Action, Block, Callback
from irbot.views.render import Renderer, template_folders

if TYPE_CHECKING:
    from irbot.services.status_page import PageState, PublicEntry, PublicIncident

HTML_TYPE = "text/html; charset=utf-8"
ATOM_TYPE = "application/atom+xml; charset=utf-8"
JSON_TYPE = "application/json; charset=utf-8"


def _iso(moment: datetime | None) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z") if moment else ""


def _human(moment: datetime | None) -> str:
    return moment.strftime("%-d %b %Y, %H:%M UTC") if moment else ""


class StatusPageViews:
    def __init__(self, override: Path | None = None) -> None:
        self.env = SandboxedEnvironment(
            loader=ChoiceLoader([FileSystemLoader(f) for f in template_folders(override)]),
            autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, auto_reload=False)
        self.env.filters.update(iso=_iso, human=_human)

    def page(self, state: "PageState", base: str) -> str:
        return self.env.get_template("status_page.html.j2").render(page=state, settings=state.settings, base=base)

    def incident(self, incident: "PublicIncident", settings: StatusPageSettings, base: str) -> str:
        return self.env.get_template("status_incident.html.j2").render(incident=incident, settings=settings,
                                                                         base=base)


def etag_of(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


_KIND_TITLES = {"published": "Published", "update": "Update", "resolved": "Resolved"}


def atom_feed(state: "PageState", entries: Sequence[tuple["PublicIncident", "PublicEntry"]], base: str) -> bytes:
    """One Atom entry per public update, newest first; ids stay the same for as long as the entry exists."""
    settings = state.settings
    from feedgen.feed import FeedGenerator  # here, not at import: feedgen brings lxml, ~10 MiB a
    # server that nobody asks for a feed would keep for nothing

    feed = FeedGenerator()
    feed.id(f"{base}/status")
    feed.title(settings.title)
    feed.author({"name": settings.title})
    feed.link(href=f"{base}/status", rel="alternate", type="text/html")
    feed.link(href=f"{base}/status/feed.atom", rel="self", type="application/atom+xml")
    feed.language("en")
    feed.updated(state.updated_at or state.now)
    for incident, entry in entries:
        item = feed.add_entry(order="append")
        link = f"{base}/status/incidents/{incident.ref}"
        item.id(f"{link}#update-{entry.id}")
        item.title(f"{incident.title} · {_KIND_TITLES.get(entry.kind, 'Update')}")
        item.link(href=link, rel="alternate", type="text/html")
        item.updated(entry.at)
        item.published(entry.at)
        item.content(entry.text, type="text")
    return feed.atom_str(pretty=True)


def summary_json(state: "PageState", base: str) -> bytes:
    def impact(value: Impact | None) -> str:
        return value.value if value else "operational"

    def incident(i: "PublicIncident") -> dict[str, Any]:
        latest = i.entries[0] if i.entries else None
        return {"id": i.ref, "title": i.title, "impact": i.impact.value, "status": "open" if i.open else "resolved",
                "components": list(i.component_keys), "published_at": _iso(i.published_at),
                "resolved_at": _iso(i.resolved_at) or None, "updated_at": _iso(i.updated_at),
                "url": f"{base}/status/incidents/{i.ref}",
                "latest_update": {"text": latest.text, "at": _iso(latest.at)} if latest else None}

    keys = [c.key for c in state.settings.components]
    body = {
        "page": {"title": state.settings.title, "url": f"{base}/status", "updated_at": _iso(state.updated_at) or None},
        "status": {"indicator": impact(state.banner),
                   "description": state.banner.label if state.banner else "All systems operational"},
        "components": [{"key": key, "name": name, "status": impact(value)}
                       for key, (name, value) in zip(keys, state.components)],
        "incidents": [incident(i) for i in state.open + state.resolved],
    }
    return json.dumps(body, ensure_ascii=False, indent=1).encode("utf-8")


# --- the publish form in Slack -------------------------------------------------------------------

def publish_modal(renderer: Renderer, *, settings: StatusPageSettings, title: str, impact: str | None,
                  components: Sequence[str], metadata: Mapping[str, Any]) -> dict[str, Any]:
    def part(name: str, **context: Any) -> str:
        return renderer.part("status_page.j2", name, **context)

    impacts = [Option(value=i.value, text=PlainTextObject(text=part("impact_option", impact=i))) for i in Impact]
    chosen = next((o for o in impacts if o.value == impact), None)
    inputs: list[Any] = [
        ContextBlock(elements=[MarkdownTextObject(text=part("intro"))]),
        InputBlock(block_id=Block.STATUS_TITLE, label=PlainTextObject(text=part("label_title")),
                   element=PlainTextInputElement(action_id=Action.INPUT, max_length=150,
                                                 initial_value=truncate(title, 150) or None)),
        InputBlock(block_id=Block.STATUS_IMPACT, label=PlainTextObject(text=part("label_impact")),
                   element=StaticSelectElement(action_id=Action.INPUT, options=impacts, initial_option=chosen)),
    ]
    if settings.components:
        options = [Option(value=c.key, text=PlainTextObject(text=truncate(c.name, 75))) for c in settings.components]
        initial = [o for o in options if o.value in components] or None
        inputs.append(InputBlock(block_id=Block.STATUS_COMPONENTS, label=PlainTextObject(text=part("label_components")),
                                 element=StaticMultiSelectElement(action_id=Action.INPUT, options=options,
                                                                  initial_options=initial), optional=True))
    inputs.append(InputBlock(block_id=Block.STATUS_MESSAGE, label=PlainTextObject(text=part("label_message")),
                             element=PlainTextInputElement(action_id=Action.INPUT, multiline=True, max_length=2000,
                                                           placeholder=PlainTextObject(text=part("placeholder_message")))))
    view = View(type="modal", callback_id=Callback.STATUS_PUBLISH, title=PlainTextObject(text=part("title")),
                submit=PlainTextObject(text=part("submit")), close=PlainTextObject(text=part("close")),
                private_metadata=json.dumps(dict(metadata)), blocks=inputs)
    return view.to_dict()
