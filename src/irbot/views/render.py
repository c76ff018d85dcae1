"""One Jinja environment over ``message_templates/``; user text comes out escaped for Slack.

Templates define macros, one per part of a message (``header``, ``fields`` …); Block Kit
structure is assembled in :mod:`irbot.views.blocks` from those parts. Every ``{{ value }}`` goes
through :func:`_finalize`, so user text can never form a mention, a link or Jinja code: values
are data for the template, never template source.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any, Callable

from jinja2 import ChoiceLoader, FileSystemLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from irbot.domain.durations import humanize
from irbot.domain.markdown import Markdown, escape_markdown, markdown_link
from irbot.domain.text import escape_mrkdwn, one_line, truncate

_SLACK_ID = re.compile(r"^[UWBCGDS][A-Z0-9]{2,}$")


class Mrkdwn(str):
    """Text that is already valid Slack mrkdwn (built by irbot, not typed by a person)."""


def _escaping(trusted: type[str], escape: Callable[[str], str]) -> Callable[[Any], Any]:
    """A Jinja ``finalize``: a string is user text and escaped, unless irbot built it as ``trusted``."""
    def finalize(value: Any) -> Any:
        if value is None:
            return ""
        if isinstance(value, trusted):
            return value
        if isinstance(value, str):
            return escape(value)
        return value
    return finalize


_finalize = _escaping(Mrkdwn, escape_mrkdwn)


def _mention(user_id: str | None) -> Mrkdwn:
    if not user_id or not _SLACK_ID.match(user_id):
        return Mrkdwn("_nobody_")
    return Mrkdwn(f"<@{user_id}>")


def _channel_link(channel_id: str | None) -> Mrkdwn:
    if not channel_id or not _SLACK_ID.match(channel_id):
        return Mrkdwn("_no channel yet_")
    return Mrkdwn(f"<#{channel_id}>")


def _usergroup(group_id: str | None) -> Mrkdwn:
    if not group_id or not _SLACK_ID.match(group_id):
        return Mrkdwn("")
    return Mrkdwn(f"<!subteam^{group_id}>")


def _slack_date(moment: datetime | None, style: str = "{date_short_pretty} at {time}") -> Mrkdwn:
    """Slack's date formatting: every reader sees their own time zone; the fallback is UTC."""
    if moment is None:
        return Mrkdwn("")
    fallback = moment.strftime("%Y-%m-%d %H:%M UTC")
    return Mrkdwn(f"<!date^{int(moment.timestamp())}^{style}|{fallback}>")


def _plain(value: Any) -> Mrkdwn:
    """For plain_text fields (headers, labels): Slack does not parse them, so nothing to escape."""
    return Mrkdwn("" if value is None else str(value))


def _link_target(url: Any) -> Mrkdwn:
    """A URL inside <url|label>: Slack's control characters escaped, the label separator removed."""
    text = str(url).replace("|", "%7C")
    return Mrkdwn(text.replace("&", "&amp;").replace("<", "%3C").replace(">", "%3E"))


def _unformatted(value: Any) -> Mrkdwn:
    """For topics: Slack shows them raw, so angle brackets become look-alikes that cannot mention."""
    return Mrkdwn(str(value).replace("<", "‹").replace(">", "›"))


_finalize_markdown = _escaping(Markdown, escape_markdown)  # the post-mortem's rule


def _paragraph(value: str | None) -> Markdown:
    """User text that keeps its line breaks (a summary), none of which can start a heading or list."""
    return escape_markdown(value or "", one_line=False)


def _duration(value: timedelta | None) -> str:
    return "" if value is None else humanize(value)


def _utc(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "—"


def template_folders(override: Path | None) -> list[str]:
    builtin = str(resources.files("irbot.message_templates"))
    return [str(override), builtin] if override else [builtin]


class Renderer:
    def __init__(self, override: Path | None = None) -> None:
        loaders = [FileSystemLoader(folder) for folder in template_folders(override)]
        self.env = SandboxedEnvironment(
            loader=ChoiceLoader(loaders), finalize=_finalize, undefined=StrictUndefined,
            trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False, autoescape=False,
            auto_reload=False,  # templates are read once; an override folder is fixed at start
        )
        self.docs_env = SandboxedEnvironment(
            loader=ChoiceLoader(loaders), finalize=lambda v: "" if v is None else v, undefined=StrictUndefined,
            trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True, autoescape=False,
            auto_reload=False,
        )
        self.docs_env.filters.update(duration=_duration, utc=_utc)
        # The post-mortem holds what anyone in the channel wrote: every {{ value }} is escaped.
        self.markdown_env = SandboxedEnvironment(
            loader=ChoiceLoader(loaders), finalize=_finalize_markdown, undefined=StrictUndefined,
            trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True, autoescape=False,
            auto_reload=False,
        )
        self.markdown_env.filters.update(duration=_duration, utc=_utc, paragraph=_paragraph, link=markdown_link)
        self.env.filters.update(
            mention=_mention, channel=_channel_link, usergroup=_usergroup, date=_slack_date,
            plain=_plain, unformatted=_unformatted, link_target=_link_target, rendered=Mrkdwn, duration=_duration, truncate_to=truncate, one_line=one_line,
        )

    def part(self, template: str, macro: str, **context: Any) -> str:
        """Render one macro of a template; surrounding blank lines are trimmed.

        The context is visible to the whole template, and a macro's own parameters are filled
        from it by name, so templates may use either style.
        """
        module = self.env.get_template(template).make_module(context)
        function = getattr(module, macro)
        arguments = {name: context[name] for name in function.arguments if name in context}
        return str(function(**arguments)).strip()

    def document(self, template: str, **context: Any) -> str:
        """A Markdown document (the report): no mrkdwn escaping."""
        return self.docs_env.get_template(template).render(**context)

    def markdown(self, template: str, **context: Any) -> str:
        """A Markdown document of user text (the post-mortem): each value escaped for Markdown and
        HTML unless it is :class:`Markdown`; ``paragraph`` keeps line breaks, ``link`` makes a link."""
        return self.markdown_env.get_template(template).render(**context)
