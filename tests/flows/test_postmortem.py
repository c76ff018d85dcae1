"""The post-mortem document: what people typed stays text, and one compile runs at a time."""

from __future__ import annotations

import re

from irbot.fakeslack.harness import Harness

from .test_timeline import upload_text

SCRIPT = "<script>alert(1)</script>"
IMAGE = "<img src=x onerror=alert(2)>"
SLACK_IMAGE = "&lt;img src=x onerror=alert(3)&gt;"  # what Slack sends when a person types <img …>
JS_LINK = "[x](javascript:alert(4))"
FAKE_HEADING = "\n## Root cause\nfake"
HEADINGS = ["Summary", "Impact", "Roles", "Metrics", "Key timeline", "Compliance", "Containment checklist",
            "Root cause", "What went well", "What to improve", "Action items", "Appendix: channel log"]


def cells(row: str) -> list[str]:
    """A Markdown table row's cells: split on the pipes a backslash does not escape."""
    return re.split(r"(?<!\\)\|", row.strip())[1:-1]


def assert_tables_intact(document: str) -> None:
    """Every row of every table has as many cells as its header."""
    width = None
    for line in document.splitlines():
        if not line.startswith("|"):
            width = None
            continue
        if width is None:
            width = len(cells(line))
        assert len(cells(line)) == width, f"a table row broken by user text: {line!r}"


async def test_user_text_cannot_inject_markup_into_the_postmortem(harness: Harness) -> None:
    fake, alice = harness.fake, harness.user("alice")
    channel = await harness.declare("alice", "x", values={
        "Title": f"Checkout {IMAGE} a|b",
        "Summary": f"{SCRIPT} {JS_LINK}{FAKE_HEADING}",
        "Affected services": f"api|web{FAKE_HEADING}",
    })
    await harness.slack.command(alice, "/incident", f"note &lt;script&gt;alert(5)&lt;/script&gt; {JS_LINK}"
                                                    f"{FAKE_HEADING}", channel=channel.id)
    await fake.say(alice, channel.id, f"{SLACK_IMAGE} <javascript:alert(6)|click me> a|b{FAKE_HEADING}",
                   files=[{"id": "F0EVIL", "name": "evil.png", "title": f"{IMAGE}](javascript:alert(7)) | x",
                           "permalink": "javascript:alert(8)"}])
    await harness.slack.command(alice, "/incident", f"action add Fix a|b {IMAGE}", channel=channel.id)
    await harness.slack.command(alice, "/incident", "clock gdpr", channel=channel.id)
    await harness.slack.command(alice, "/incident", f"notified gdpr REF|1 {SCRIPT}", channel=channel.id)
    await harness.settle()
    await harness.slack.command(alice, "/incident", "resolve", channel=channel.id)
    await harness.settle()
    view = harness.slack.open_view(alice)
    assert view is not None
    await harness.slack.submit_view(alice, view["id"],
                                    {"Resolution summary (one line)": f"Rolled back {SCRIPT}{FAKE_HEADING}"})
    await harness.settle()
    await harness.slack.command(alice, "/incident", "postmortem", channel=channel.id)
    await harness.settle()
    document = upload_text(harness, channel.id)

    assert "<script" not in document and "<img" not in document, "no HTML from user text"
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in document, "shown as the text it was"
    assert "&lt;img src=x onerror=alert(3)&gt;" in document, "Slack's &lt; is not turned back into <"
    assert not re.search(r"(?<!\\)\]\(\s*javascript:|<javascript:", document, re.IGNORECASE), "no javascript: link"
    assert "click me" in document, "a dropped link keeps its words"
    assert "📎 &lt;img src=x onerror=alert(2)&gt;\\](javascript:alert(7)) \\| x" in document, "a file's name is text"
    headings = [line for line in document.splitlines() if re.match(r"\s{0,3}#", line)]
    assert headings[0].startswith("# Post-mortem: INC-1 · Checkout &lt;img")
    assert [h.removeprefix("## ") for h in headings[1:]] == HEADINGS, "no heading from user text"
    assert "\\## Root cause" in document, "the fake heading stays, as text"
    assert_tables_intact(document)
    assert "| Fix a\\|b &lt;img" in document and "(ref. REF\\|1 &lt;script&gt;" in document
    assert "Services affected: api\\|web ## Root cause fake" in document
    assert "**Resolution:** Rolled back &lt;script&gt;alert(1)&lt;/script&gt; ## Root cause fake" in document
    assert "- [ ] Restart affected services (not done)" in document


async def test_one_compile_at_a_time_and_one_bookmark(harness: Harness) -> None:
    fake, alice = harness.fake, harness.user("alice")
    channel = await harness.declare("alice", "Login loop")
    await fake.say(alice, channel.id, "looking at the session store")
    await harness.settle()
    upload = fake.hold_next("files.getUploadURLExternal")  # Slack is slow: the first compile is under way
    answers = [fake.text_of((await harness.slack.command(alice, "/incident", "postmortem", channel=channel.id)).json)
               for _ in range(10)]
    upload.set()
    await harness.settle()
    assert "Compiling the post-mortem of INC-1" in answers[0]
    assert all("being compiled right now; it will appear in this channel" in a for a in answers[1:]), answers
    shared = [m for m in fake.messages(channel.id) if m.get("files") and m.get("bot_id")]
    assert len(shared) == 1 and len(fake.calls_to("files.getUploadURLExternal")) == 1, "one file, not ten"
    assert len(fake.bookmarks(channel.id)) == 1

    # Asked again once it is done: compiled again, and the same bookmark points at the new file.
    again = await harness.slack.command(alice, "/incident", "postmortem", channel=channel.id)
    await harness.settle()
    assert "Compiling the post-mortem" in fake.text_of(again.json)
    shared = [m for m in fake.messages(channel.id) if m.get("files") and m.get("bot_id")]
    assert len(shared) == 2
    [bookmark] = fake.bookmarks(channel.id)
    assert bookmark["link"] == shared[-1]["files"][0]["permalink"] != shared[0]["files"][0]["permalink"]

    # Someone removed the bookmark: the next compile adds it back, once.
    fake.channel(channel.id).bookmarks.clear()
    await harness.slack.command(alice, "/incident", "postmortem", channel=channel.id)
    await harness.settle()
    [bookmark] = fake.bookmarks(channel.id)
    assert bookmark["link"] == [m for m in fake.messages(channel.id) if m.get("files")][-1]["files"][0]["permalink"]
