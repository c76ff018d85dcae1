"""views.* handlers, and the view stack the signed client also uses."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from .apiutil import check_view_content, handles
from .model import Json, SlackError, ViewRecord

if TYPE_CHECKING:
    from ..fake_slack import FakeSlack

MAX_STACK = 3


def new_hash(fake: FakeSlack) -> str:
    return f"{int(fake.clock())}.{fake.new_id('h')}"


def view_out(fake: FakeSlack, rec: ViewRecord) -> Json:
    return rec.to_api(fake.team_id, fake.app_id, fake.bot_id)


def create_view(fake: FakeSlack, user: str, view: Json, previous: ViewRecord | None = None) -> ViewRecord:
    external_id = view.get("external_id")
    if external_id and any(v.external_id == external_id for v in fake.views.values()):
        raise SlackError("duplicate_external_id")
    vid = fake.new_id("V")
    rec = ViewRecord(vid, user, copy.deepcopy(view), new_hash(fake),
                     root_view_id=previous.root_view_id if previous else vid,
                     previous_view_id=previous.id if previous else None, external_id=external_id)
    fake.views[vid] = rec
    return rec


def stack(fake: FakeSlack, rec: ViewRecord) -> list[ViewRecord]:
    """Open views sharing rec's root, bottom first."""
    return [v for v in fake.views.values() if v.root_view_id == rec.root_view_id and v.open]


def replace_view(fake: FakeSlack, rec: ViewRecord, view: Json) -> None:
    rec.view = copy.deepcopy(view)
    rec.hash = new_hash(fake)
    rec.errors = {}


@handles("views.open")
def open_(fake: FakeSlack, args: Json) -> Json:
    check_view_content(fake, "views.open", args["view"])
    trigger = fake.use_trigger(str(args["trigger_id"]))
    rec = create_view(fake, trigger.user, args["view"])
    return {"view": view_out(fake, rec)}


def find_view(fake: FakeSlack, args: Json) -> ViewRecord:
    if args.get("view_id"):
        rec = fake.views.get(str(args["view_id"]))
    elif args.get("external_id"):
        rec = next((v for v in fake.views.values() if v.external_id == args["external_id"]), None)
    else:
        raise SlackError("invalid_arguments", response_metadata={"messages": ["view_id or external_id required"]})
    if rec is None or not rec.open:
        raise SlackError("not_found")
    return rec


@handles("views.update")
def update(fake: FakeSlack, args: Json) -> Json:
    rec = find_view(fake, args)
    if args.get("hash") and args["hash"] != rec.hash:
        raise SlackError("hash_conflict")
    check_view_content(fake, "views.update", args["view"])
    replace_view(fake, rec, args["view"])
    return {"view": view_out(fake, rec)}


@handles("views.push")
def push(fake: FakeSlack, args: Json) -> Json:
    check_view_content(fake, "views.push", args["view"])
    trigger = fake.triggers.get(str(args["trigger_id"]))
    top = _top_view(fake, trigger.user if trigger else "", trigger.view_id if trigger else None)
    if top is None:
        fake.use_trigger(str(args["trigger_id"]))  # raises the right trigger error if any
        raise SlackError("not_found")  # a push needs an open modal to push onto
    if len(stack(fake, top)) >= MAX_STACK:
        raise SlackError("push_limit_reached")
    fake.use_trigger(str(args["trigger_id"]))
    rec = create_view(fake, top.user, args["view"], previous=top)
    return {"view": view_out(fake, rec)}


def _top_view(fake: FakeSlack, user: str, view_id: str | None) -> ViewRecord | None:
    if view_id and view_id in fake.views:
        open_views = stack(fake, fake.views[view_id])
    else:
        open_views = [v for v in fake.views.values() if v.user == user and v.open]
    return open_views[-1] if open_views else None


# ---- the Home tab (views.publish) -----------------------------------------------------------------
# A Home view belongs to one person; publishing replaces it (a new hash each time). Slack's rules:
# type "home", no submit/close (those are for modals), 1–100 blocks; a stale `hash` is refused.

def check_home_view(view: Json) -> list[str]:
    if not isinstance(view, dict):
        return [f"view must be an object, got {type(view).__name__}"]
    problems = []
    if view.get("type") != "home":
        problems.append(f"views.publish takes a view of type home, got {view.get('type')!r}")
    for key in ("submit", "close"):
        if view.get(key):
            problems.append(f"a Home tab view may not have `{key}`")
    return problems


@handles("views.publish")
def publish(fake: FakeSlack, args: Json) -> Json:
    user = str(args["user_id"])
    if user not in fake.users or fake.users[user].is_bot:
        raise SlackError("invalid_arguments", response_metadata={"messages": ["invalid `user_id`"]})
    view = args["view"]
    home_problems = check_home_view(view)
    if home_problems:
        for p in home_problems:
            fake.violation(f"views.publish: {p}")
        raise SlackError("invalid_arguments", response_metadata={"messages": [f"[ERROR] {p}" for p in home_problems]})
    check_view_content(fake, "views.publish", view)
    current = fake.home_views.get(user)
    if args.get("hash") and current is not None and args["hash"] != current.hash:
        raise SlackError("hash_conflict")
    if current is None:
        vid = fake.new_id("V")
        current = ViewRecord(vid, user, copy.deepcopy(view), new_hash(fake), root_view_id=vid)
        fake.home_views[user] = current
    else:
        replace_view(fake, current, view)
    return {"view": view_out(fake, current)}
