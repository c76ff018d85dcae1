"""Finding the incident a command or click belongs to."""

from __future__ import annotations

from irbot.deps import Deps
from irbot.views import blocks
from irbot.outbound.slack import SlackCallError
from irbot.store import repo
from irbot.store.models import Incident


async def incident_in_channel(deps: Deps, channel_id: str | None) -> Incident | None:
    if not channel_id:
        return None
    async with deps.db.reader() as session:
        return await repo.incident_by_channel(channel_id, session=session)


async def tell(deps: Deps, channel: str | None, user: str, text: str) -> None:
    """An ephemeral answer; where irbot cannot post ephemerals there, a direct message."""
    message = blocks.text_message(text)
    if channel:
        try:
            await deps.slack.call("chat.postEphemeral", channel=channel, user=user, **message.as_args())
            return
        except SlackCallError:
            pass
    await deps.slack.call("chat.postMessage", channel=user, **message.as_args())
