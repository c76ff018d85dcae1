"""What ships: the Slack app manifest, the scopes behind every Web API call, the wheel, the image.

The manifest is checked against Slack's own JSON Schema (see tests/slack_specs.py for where it is found)
and against the code: every method irbot calls must be allowed by a scope the manifest requests, and
the manifest must request nothing that no call or event subscription needs.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from irbot.fakeslack.slack_methods import METHODS
from tests.slack_specs import spec_file, spec_path

REPO = Path(__file__).resolve().parents[1]
MANIFEST_SCHEMA = "manifest-schema/schemas/manifest.schema.1.0.0.json"  # in Slack's spec files (tests/slack_specs.py)
SOURCE = REPO / "src" / "irbot"
# The fake Slack and the signed-request client play Slack; they hold no bot scopes.
NOT_THE_BOT = SOURCE / "fakeslack"

# Web API method → the bot scopes irbot needs for its use of it, from each method's page on
# docs.slack.dev/reference/methods. irbot works in public and private channels alike, so where Slack
# accepts one scope per conversation type, both are needed. An empty tuple: Slack requires no scope.
METHOD_SCOPES: dict[str, tuple[str, ...]] = {
    "auth.test": (),
    "views.open": (),
    "views.update": (),
    "views.push": (),
    "conversations.create": ("channels:manage", "groups:write"),
    "conversations.setTopic": ("channels:manage", "groups:write"),
    "conversations.invite": ("channels:manage", "groups:write"),
    "conversations.join": ("channels:join",),  # public channels only; private ones need an invite
    "conversations.list": ("channels:read", "groups:read"),
    "conversations.info": ("channels:read", "groups:read"),
    "conversations.members": ("channels:read", "groups:read"),
    "conversations.history": ("channels:history", "groups:history"),
    "conversations.replies": ("channels:history", "groups:history"),
    # Also DMs: `channel` set to a user ID posts in the app's DM with that user, with chat:write alone
    # (im:write is for conversations.open, which irbot does not call).
    "chat.postMessage": ("chat:write",),
    "chat.update": ("chat:write",),
    "chat.postEphemeral": ("chat:write",),
    "pins.add": ("pins:write",),
    "users.info": ("users:read",),
    "usergroups.users.list": ("usergroups:read",),
    "users.list": ("users:read",),
    "files.getUploadURLExternal": ("files:write",),
    "files.completeUploadExternal": ("files:write",),
    "files.info": ("files:read",),
    "bookmarks.add": ("bookmarks:write",),
    "bookmarks.edit": ("bookmarks:write",),
    "chat.getPermalink": (),  # "Requires scope: none" (Slack's OpenAPI spec)
    "views.publish": (),      # the Home tab; "Requires scope: none"
}

# Events API subscription → the scopes Slack requires to deliver it (docs.slack.dev/reference/events).
EVENT_SCOPES: dict[str, tuple[str, ...]] = {
    "message.channels": ("channels:history",),
    "message.groups": ("groups:history",),
    "reaction_added": ("reactions:read",),
    # channels:read delivers it for public channels, groups:read for private ones.
    "member_joined_channel": ("channels:read", "groups:read"),
    "member_left_channel": ("channels:read", "groups:read"),
    "pin_added": ("pins:read",),
    "app_home_opened": (),  # needs no scope; the Home tab must be enabled
}

# The scope a slash command needs.
COMMAND_SCOPES = ("commands",)

# python-slack-sdk helpers that SlackGateway.call also accepts → the Web API methods they call.
SDK_HELPERS: dict[str, tuple[str, ...]] = {
    # Step 2, the upload itself, goes to the URL from step 1 and needs no token.
    "files_upload_v2": ("files.getUploadURLExternal", "files.completeUploadExternal"),
}

# `.call("chat.postMessage"` or an SDK helper's name, `.call("files_upload_v2"`.
CALL = re.compile(r"""\.call(?:_once)?\(\s*["']([a-z]+(?:[._][A-Za-z0-9]+)+)["']""")
# A Web API call made straight on the SDK client would escape the scope check below.
DIRECT_SDK_CALL = re.compile(
    r"\.(?:auth|chat|conversations|pins|users|files|bookmarks|reactions|views|usergroups|team)_[A-Za-z0-9_]+\("
)


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    return yaml.safe_load((REPO / "manifest.yml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def bot_scopes(manifest: dict[str, Any]) -> list[str]:
    return manifest["oauth_config"]["scopes"]["bot"]


def _bot_source_files() -> list[Path]:
    return [p for p in sorted(SOURCE.rglob("*.py")) if NOT_THE_BOT not in p.parents]


def methods_called() -> dict[str, list[str]]:
    """Each Web API method a ``.call("…")`` in irbot's code makes (SDK helpers expanded) → where.

    An SDK helper missing from SDK_HELPERS is returned under its own name, which no check accepts.
    """
    found: dict[str, list[str]] = {}
    for path in _bot_source_files():
        text = path.read_text(encoding="utf-8")
        for match in CALL.finditer(text):
            where = f"{path.relative_to(REPO)}:{text.count(chr(10), 0, match.start()) + 1}"
            for method in SDK_HELPERS.get(match.group(1), (match.group(1),)):
                found.setdefault(method, []).append(where)
    return found


# --- (a) the manifest is one Slack accepts -------------------------------------------------------

def test_manifest_validates_against_slacks_schema(manifest: dict[str, Any]) -> None:
    schema_file = spec_file(MANIFEST_SCHEMA)
    from jsonschema import Draft7Validator

    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    Draft7Validator.check_schema(schema)
    errors = sorted(Draft7Validator(schema).iter_errors(manifest), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.path)) or '(top)'}: {e.message}" for e in errors)


def test_manifest_fields_the_schema_leaves_loose(manifest: dict[str, Any]) -> None:
    assert manifest["_metadata"] == {"major_version": 1, "minor_version": 1}
    # The schema spells this constraint `regex`, which JSON Schema ignores.
    assert re.fullmatch(r"#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?", manifest["display_information"]["background_color"])
    assert manifest["display_information"]["name"] == "irbot"
    assert manifest["features"]["bot_user"] == {"display_name": "irbot", "always_online": True}


def test_one_request_url_serves_commands_events_and_interactivity(manifest: dict[str, Any]) -> None:
    (command,) = manifest["features"]["slash_commands"]
    settings = manifest["settings"]
    urls = {command["url"], settings["event_subscriptions"]["request_url"], settings["interactivity"]["request_url"]}
    assert len(urls) == 1
    (url,) = urls
    assert url.startswith("https://") and url.endswith("/slack/events"), "irbot answers Slack at POST /slack/events"
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["socket_mode_enabled"] is False
    assert settings["org_deploy_enabled"] is False and settings["token_rotation_enabled"] is False


def test_the_socket_mode_manifest_is_the_same_app_without_request_urls(manifest: dict[str, Any]) -> None:
    socket = yaml.safe_load((REPO / "manifest.socket.yml").read_text(encoding="utf-8"))
    schema_file = spec_path(MANIFEST_SCHEMA)
    if schema_file is not None:  # else test_manifest_validates_against_slacks_schema says how to get it
        from jsonschema import Draft7Validator
        errors = list(Draft7Validator(json.loads(schema_file.read_text(encoding="utf-8"))).iter_errors(socket))
        assert not errors, "\n".join(f"{'/'.join(map(str, e.path)) or '(top)'}: {e.message}" for e in errors)
    assert socket["settings"]["socket_mode_enabled"] is True
    http = json.loads(json.dumps(manifest))  # a deep copy, made the socket way
    for command in http["features"]["slash_commands"]:
        del command["url"]
    del http["settings"]["event_subscriptions"]["request_url"], http["settings"]["interactivity"]["request_url"]
    http["settings"]["socket_mode_enabled"] = True
    assert socket == http, "manifest.socket.yml must differ from manifest.yml only by Socket Mode"


def test_slash_command_escapes_mentions_and_hints_the_subcommands(manifest: dict[str, Any]) -> None:
    (command,) = manifest["features"]["slash_commands"]
    assert command["command"] == "/incident"
    assert command["should_escape"] is True, "mentions must arrive as <@U…|name>"
    for word in ("declare", "drill", "list", "assign", "update", "status", "severity", "resolve", "help"):
        assert word in command["usage_hint"], word


# --- (b) every Web API call is allowed, and no scope is spare -----------------------------------

def test_the_call_scan_finds_irbots_calls() -> None:
    called = methods_called()
    assert {"chat.postMessage", "conversations.create", "auth.test"} <= set(called), sorted(called)


def test_every_method_irbot_calls_is_known_and_has_its_scopes(bot_scopes: list[str]) -> None:
    problems = []
    for method, where in sorted(methods_called().items()):
        if method not in METHODS:
            problems.append(f"{method} ({where[0]}) is not in irbot.fakeslack.slack_methods.METHODS")
        if method not in METHOD_SCOPES:
            problems.append(f"{method} ({where[0]}) is not in METHOD_SCOPES: look up its scopes")
            continue
        missing = [s for s in METHOD_SCOPES[method] if s not in bot_scopes]
        if missing:
            problems.append(f"{method} ({where[0]}) needs {', '.join(missing)}, absent from manifest.yml")
    assert not problems, "\n".join(problems)


def test_no_web_api_call_bypasses_the_gateway() -> None:
    offenders = [f"{p.relative_to(REPO)}: {m.group(0)}" for p in _bot_source_files()
                 for m in DIRECT_SDK_CALL.finditer(p.read_text(encoding="utf-8"))]
    assert not offenders, "call Slack through SlackGateway.call so the scope check sees it:\n" + "\n".join(offenders)


def test_manifest_requests_no_scope_that_nothing_uses(manifest: dict[str, Any], bot_scopes: list[str]) -> None:
    assert len(bot_scopes) == len(set(bot_scopes)), "a scope is listed twice"
    used = {s for method in methods_called() for s in METHOD_SCOPES.get(method, ())}
    used |= {s for e in manifest["settings"]["event_subscriptions"]["bot_events"] for s in EVENT_SCOPES.get(e, ())}
    if manifest["features"].get("slash_commands"):
        used |= set(COMMAND_SCOPES)
    spare = sorted(set(bot_scopes) - used)
    assert not spare, f"manifest.yml requests scopes nothing uses: {spare}"
    # The two that a Slack bot usually grows by habit and irbot must not:
    assert "chat:write.public" not in bot_scopes and "im:write" not in bot_scopes


def test_manifest_asks_for_no_user_token(manifest: dict[str, Any]) -> None:
    assert set(manifest["oauth_config"]["scopes"]) == {"bot"}


# --- (c) every event subscription has its scope -------------------------------------------------

def test_every_event_subscription_has_its_required_scopes(manifest: dict[str, Any], bot_scopes: list[str]) -> None:
    events = manifest["settings"]["event_subscriptions"]["bot_events"]
    assert set(events) == set(EVENT_SCOPES), "update EVENT_SCOPES with the scopes a new subscription needs"
    problems = [f"{event} needs {scope}" for event in events for scope in EVENT_SCOPES[event] if scope not in bot_scopes]
    assert not problems, "\n".join(problems)


def test_slash_command_has_the_commands_scope(bot_scopes: list[str]) -> None:
    assert set(COMMAND_SCOPES) <= set(bot_scopes)


# --- (d) the wheel carries its templates and migrations ------------------------------------------

def _copy_sources(target: Path) -> Path:
    """Build from a copy: an in-tree build would write build/ and *.egg-info into the checkout."""
    skip = shutil.ignore_patterns(".git", ".venv", "venv", "build", "dist", "*.egg-info", "__pycache__",
                                  ".pytest_cache", ".hypothesis", "*.db", "*.db-*")
    shutil.copytree(REPO, target, ignore=skip)
    return target


def test_wheel_ships_templates_and_migrations(tmp_path: Path) -> None:
    source = _copy_sources(tmp_path / "src")
    out = tmp_path / "wheels"
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--disable-pip-version-check",
         "--wheel-dir", str(out), str(source)],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (wheel,) = out.glob("irbot-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())

    templates = {n for n in names if re.fullmatch(r"irbot/message_templates/[^/]+\.j2", n)}
    expected_templates = {f"irbot/message_templates/{p.name}" for p in (REPO / "message_templates").glob("*.j2")}
    assert expected_templates and expected_templates <= templates

    versions = {n for n in names if re.fullmatch(r"irbot/store/migrations/versions/[^/]+\.py", n)}
    expected_versions = {f"irbot/store/migrations/versions/{p.name}"
                         for p in (SOURCE / "store" / "migrations" / "versions").glob("*.py")}
    assert expected_versions and expected_versions <= versions
    assert "irbot/store/migrations/env.py" in names
    assert "irbot/store/migrations/script.py.mako" in names
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "irbot = irbot.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


# --- the container image and compose file ---------------------------------------------------------

def _dockerfile_stages() -> list[list[str]]:
    """Dockerfile instructions (continuations joined, comments dropped), split by FROM."""
    text = (REPO / "Dockerfile").read_text(encoding="utf-8")
    logical, current = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        current += line[:-1] + " " if line.endswith("\\") else line
        if not line.endswith("\\"):
            logical.append(current.strip())
            current = ""
    stages: list[list[str]] = []
    for instruction in logical:
        if instruction.upper().startswith("FROM "):
            stages.append([])
        assert stages, "the Dockerfile must start with FROM"
        stages[-1].append(instruction)
    return stages


def test_dockerfile_is_multi_stage_with_pinned_bases() -> None:
    stages = _dockerfile_stages()
    assert len(stages) >= 2, "build the wheel in one stage, run it in another"
    for stage in stages:
        image = stage[0].split()[1]
        if image in {s[0].split()[-1] for s in stages if " AS " in s[0].upper()}:
            continue  # FROM an earlier stage
        tag = image.partition(":")[2]
        assert "@sha256:" in image or (tag and tag != "latest"), f"pin {image} by tag"


def test_dockerfile_final_stage_is_lean_and_unprivileged() -> None:
    final = _dockerfile_stages()[-1]
    text = "\n".join(final)
    users = [i.split(None, 1)[1] for i in final if i.upper().startswith("USER ")]
    assert users and users[-1] not in {"root", "0", "0:0"}, "the final stage must run as a non-root user"
    assert not re.search(r"\b(gcc|g\+\+|build-essential|clang|make)\b", text), "no compilers in the final image"
    assert any(i.upper().startswith("HEALTHCHECK ") and "/healthz" in i for i in final)
    assert any(i.upper().startswith("COPY --FROM=") for i in final), "the final stage copies the built install"
    assert 'ENTRYPOINT ["irbot"]' in text and 'CMD ["serve"]' in text
    assert "EXPOSE 3000" in text


def test_compose_runs_irbot_on_postgres() -> None:
    compose = yaml.safe_load((REPO / "compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    postgres, irbot = services["postgres"], services["irbot"]
    assert postgres["image"].startswith("postgres:16") and "healthcheck" in postgres
    assert irbot["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert irbot["environment"]["DATABASE_URL"].startswith("postgresql://")
    assert ".env" in irbot["env_file"]
    volume = postgres["volumes"][0].split(":")[0]
    assert volume in compose["volumes"], "postgres keeps its data in a named volume"
