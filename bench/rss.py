#!/usr/bin/env python
"""Idle memory bench: the resident set of ``irbot serve`` after start-up and a declare, and what takes it.

    .venv/bin/python bench/rss.py                          # SQLite file, then PostgreSQL at 127.0.0.1:5432
    .venv/bin/python bench/rss.py --postgres-url ''        # SQLite only

What it measures, in one run (figures, never assertions):

* **irbot serve's RSS** (``VmRSS`` in ``/proc/<pid>/status``) once it has started and been quiet
  for 2 s, and after one declare (form opened, submitted, set-up done) once it has been idle for
  ``--settle`` seconds (sampled every second; the last sample is the settled figure), with the
  peak (``VmHWM``). Aim: ≤ 80 MiB settled after the declare. Each database is measured twice:
  **as installed** (``irbot serve`` with nothing set but its configuration) and **as the image runs
  it** (with the ``ENV`` lines of the Dockerfile's last stage, read from the Dockerfile). Bytecode is
  compiled first, as pip does when it installs and the image's ``compileall`` step does.
* **where that memory is**, for the server after the declare: its mappings from
  ``/proc/<pid>/smaps`` grouped (the Python heap, anonymous memory, each shared library or
  extension module by its package);
* **what the imports cost**: a fresh interpreter (same virtual environment) imports what
  ``irbot serve`` imports in steps (the web stack, SQLAlchemy, pydantic/SQLModel, the drivers,
  Slack's SDK and Bolt, Jinja2, prometheus_client, APScheduler, Alembic, then irbot's own modules),
  reading its RSS after each; then another imports ``irbot.cli`` and ``irbot.app`` and runs one
  Alembic upgrade of an empty SQLite database (what ``irbot serve`` does at start-up).

How: this process runs the fake Slack (Web API calls answered after ``--latency`` s) and starts
``python -m irbot serve`` as a child process (``IrbotProcess``) on a fresh database (a SQLite file;
a new database on the PostgreSQL server, dropped afterwards).
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import json
import re
import subprocess
import sys
import sysconfig
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from _common import (
    add_docs_arguments, aim, command_line, each_database, load_average, machine, open_declare_form,
    publish_results, quiet_slack, timed_fake_slack,
)
from ack import BOT_TOKEN, DEFAULT_PG, SIGNING_SECRET
from tests.rigs.image import image_env

SECTION = "## Idle memory (bench/rss.py)"
SECTION_INTRO = "The resident set of `irbot serve` once idle after start-up and one declare. Aim: ≤ 80 MiB."
BEGIN = "<!-- bench/rss.py results: begin (rewritten by the bench) -->"
END = "<!-- bench/rss.py results: end -->"
AIM_MIB = 80.0
KIB_PER_MIB = 1024
# What irbot serve imports, in steps: each step's RSS above the previous one is what it adds to what
# came before (its dependencies already loaded by an earlier step are not counted again). What could
# be left out of a serving process comes last, so its figure is what leaving it out would save.
IMPORT_STEPS = (
    ("Python's asyncio, ssl, json, logging", "import asyncio, ssl, json, logging, email.utils, http.client"),
    ("aiohttp", "import aiohttp, aiohttp.web"),
    ("SQLAlchemy (asyncio)", "import sqlalchemy, sqlalchemy.ext.asyncio, sqlalchemy.orm"),
    ("pydantic and SQLModel", "import pydantic, sqlmodel"),
    ("drivers: aiosqlite and psycopg", "import aiosqlite, psycopg"),
    ("slack_sdk (async Web API client)", "import slack_sdk.web.async_client"),
    ("slack_bolt (async app)", "import slack_bolt.async_app"),
    ("Jinja2", "import jinja2"),
    ("prometheus_client", "import prometheus_client"),
    ("APScheduler", "import apscheduler.schedulers.asyncio"),
    ("Alembic (with Mako and Pygments)", "import alembic.command, alembic.config, alembic.runtime.migration"),
    ("irbot's own modules (irbot.cli, irbot.app)", "import irbot.cli, irbot.app"),
)


@dataclass
class Server:
    database: str
    environment: str
    started_kib: int = 0
    settled_kib: int = 0
    peak_kib: int = 0
    samples_kib: list[int] = field(default_factory=list)
    mappings_kib: Counter[str] = field(default_factory=Counter)


def status_kib(pid: int, key: str) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def mappings(pid: int) -> Counter[str]:
    """Resident KiB of the process's mappings, grouped: [heap], [anonymous], [stack], or the package
    (site-packages/<package>) or library a mapped file belongs to."""
    groups: Counter[str] = Counter()
    current = "[anonymous]"
    with open(f"/proc/{pid}/smaps", encoding="utf-8", errors="replace") as smaps:
        for line in smaps:
            head = line.split()
            if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                path = head[5] if len(head) > 5 else ""
                current = group_of(path)
            elif head and head[0] == "Rss:":
                groups[current] += int(head[1])
    return groups


def group_of(path: str) -> str:
    if not path:
        return "[anonymous]"
    if path.startswith("["):
        return path if path in ("[heap]", "[stack]") else "[other kernel mappings]"
    match = re.search(r"site-packages/([^/]+)", path)
    if match:
        name = re.sub(r"(\.libs|_libs)$", "", match.group(1))
        return f"site-packages/{name}"
    return Path(path).name


def environments(args: argparse.Namespace) -> list[tuple[str, dict[str, str]]]:
    """What each server is measured in: as installed, and as the container image runs it."""
    extra = dict(args.env)
    return [("as installed", extra), ("as the image runs it", {**image_env(), **extra})]


def compile_bytecode() -> None:
    """The bytecode a deployed irbot loads: plain (pip compiles it when it installs) and without
    docstrings (``PYTHONOPTIMIZE=2``, which the image compiles). Without it, a checkout whose
    environment sets PYTHONDONTWRITEBYTECODE would compile irbot's modules again at every start."""
    import irbot
    for folder in (sysconfig.get_paths()["purelib"], str(Path(irbot.__file__).parent)):
        compileall.compile_dir(folder, quiet=2, optimize=[0, 2], workers=0)


async def measure_server(fake: Any, label: str, environment: tuple[str, dict[str, str]], database_url: str,
                         args: argparse.Namespace, folder: Path) -> Server:
    from tests.rigs.processes import IrbotProcess, irbot_env
    from irbot.fakeslack.signed_client import SlackClient
    named, extra = environment
    env = irbot_env(api_url=fake.api_url, database_url=database_url, bot_token=BOT_TOKEN,
                    signing_secret=SIGNING_SECRET, **extra)
    bot = IrbotProcess(env=env, log_dir=folder, name=f"irbot-rss-{label}")
    server = Server(label, named)
    try:
        await bot.start()
        fake.app_url = bot.events_url
        await quiet_slack(fake, 2.0)
        server.started_kib = status_kib(bot.pid, "VmRSS")
        client = SlackClient(fake, app_url=bot.events_url, signing_secret=SIGNING_SECRET)
        view_id = await open_declare_form(fake, client, "alice", "Memory bench")
        answer = await client.submit_view("alice", view_id, {})
        if answer.status != 200:
            raise RuntimeError(f"the declare form was answered {answer.status}")
        await quiet_slack(fake, 1.0)
        for _ in range(int(args.settle)):
            await asyncio.sleep(1.0)
            server.samples_kib.append(status_kib(bot.pid, "VmRSS"))
        server.settled_kib = server.samples_kib[-1]
        server.peak_kib = status_kib(bot.pid, "VmHWM")
        server.mappings_kib = mappings(bot.pid)
    finally:
        fake.app_url = None
        bot.terminate(wait=False)
        if bot.proc is not None:
            await asyncio.to_thread(bot.proc.wait, 30)
    return server


# ---------------------------------------------------------------------------------------------
# What the imports cost (fresh interpreters)
# ---------------------------------------------------------------------------------------------

RSS_SNIPPET = """
def rss():
    with open('/proc/self/status') as status:
        return next(int(l.split()[1]) for l in status if l.startswith('VmRSS:'))
"""

UPGRADE_SNIPPET = RSS_SNIPPET + """
import json, sys
import irbot.cli, irbot.app
imported = rss()
from irbot.store.migrate import upgrade
upgrade(sys.argv[1])
print(json.dumps({'imported': imported, 'upgraded': rss(), 'mako': 'mako' in sys.modules,
                  'pygments': 'pygments' in sys.modules, 'modules': len(sys.modules)}))
"""

# irbot's imports with Alembic replaced by empty modules: what the serving process would take if it
# did not import Alembic (only irbot.store.migrate uses it).
WITHOUT_ALEMBIC_SNIPPET = RSS_SNIPPET + """
import sys, types
for name in ('alembic', 'alembic.command', 'alembic.config'):
    sys.modules[name] = types.ModuleType(name)
sys.modules['alembic'].command = sys.modules['alembic.command']
sys.modules['alembic.config'].Config = object
import irbot.cli, irbot.app
print(rss())
"""


def python(code: str, *argv: str) -> str:
    return subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, check=True).stdout


def import_costs(folder: Path) -> dict[str, Any]:
    """RSS in KiB: a bare interpreter; what each import step adds; the upgrade at start-up."""
    code = RSS_SNIPPET + "import json\nsteps = [rss()]\n" + "".join(
        f"{statement}\nsteps.append(rss())\n" for _label, statement in IMPORT_STEPS) + "print(json.dumps(steps))"
    steps = json.loads(python(code))
    added = [(label, after - before) for (label, _), before, after in zip(IMPORT_STEPS, steps, steps[1:])]
    upgrade = json.loads(python(UPGRADE_SNIPPET, f"sqlite:///{folder / 'upgrade.db'}"))
    without_alembic = int(python(WITHOUT_ALEMBIC_SNIPPET))
    return {"bare": steps[0], "steps": added, "imported": steps[-1], "upgrade": upgrade,
            "without_alembic": without_alembic}


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------

def saved_without_alembic(kib: float) -> str:
    return f"{mib(kib)} MiB less" if kib >= 0.05 * KIB_PER_MIB else "no less"


def mib(kib: float) -> str:
    return f"{kib / KIB_PER_MIB:.1f}"


def render(args: argparse.Namespace, servers: list[Server], costs: dict[str, Any], databases: list[str],
           command: str, load: float) -> str:
    today = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    lines = [
        f"Run {today} on {machine().summary()}; {', '.join(databases)}; load average {load:.1f} before the run. "
        "One run, figures not assertions.",
        "",
        f"    {command}",
        "",
        "`irbot serve` as a child process, the fake Slack in this process. RSS is `VmRSS` of "
        "`/proc/<pid>/status`: after start-up (quiet 2 s), and after one declare once idle for "
        f"{args.settle:.0f} s (the settled figure). Bytecode compiled beforehand, as an install has it. "
        "*As installed*: `irbot serve` with nothing set but its configuration. *As the image runs it*: "
        "with the Dockerfile's `ENV` lines (" + ", ".join(f"`{k}={v}`" for k, v in image_env().items())
        + ")." + (" Extra environment: " + ", ".join(f"`{k}={v}`" for k, v in args.env) + "." if args.env else ""),
        "",
        "| Database | Environment | After start-up MiB | After a declare, settled MiB | Peak (VmHWM) MiB | "
        f"Aim ≤ {AIM_MIB:.0f} MiB |",
        "|---|---|---|---|---|---|",
    ]
    for s in servers:
        lines.append(f"| {s.database} | {s.environment} | {mib(s.started_kib)} | **{mib(s.settled_kib)}** | "
                     f"{mib(s.peak_kib)} | {aim(s.settled_kib / KIB_PER_MIB <= AIM_MIB)} |")
    if servers:
        s = servers[-1]
        top = s.mappings_kib.most_common(12)
        rest = sum(s.mappings_kib.values()) - sum(v for _, v in top)
        lines += ["", f"Where the server's memory is ({s.database}, {s.environment}, after the declare; resident MiB by mapping, "
                  "from `/proc/<pid>/smaps`): " + ", ".join(f"{name} {mib(v)}" for name, v in top)
                  + f", everything else {mib(rest)}."]
    upgrade = costs["upgrade"]
    lines += [
        "",
        f"What the imports cost, in a fresh interpreter that imports what `irbot serve` imports, step by step "
        f"(RSS each step adds, MiB; a dependency counts where it is first imported): bare interpreter "
        f"{mib(costs['bare'])}; " + "; ".join(f"{label} {mib(kib)}" for label, kib in costs["steps"])
        + f"; in all {mib(costs['imported'])} MiB. Then one Alembic upgrade of an empty SQLite database "
        f"(what start-up does): {mib(upgrade['imported'])} → {mib(upgrade['upgraded'])} MiB "
        f"({'Mako and Pygments loaded' if upgrade['mako'] and upgrade['pygments'] else 'no Mako/Pygments'}). "
        f"The same imports with Alembic replaced by empty modules: {mib(costs['without_alembic'])} MiB "
        f"({saved_without_alembic(upgrade['imported'] - costs['without_alembic'])}).",
    ]
    return "\n".join(lines)


async def orchestrate(args: argparse.Namespace, command: str) -> int:
    load = load_average()
    fake = timed_fake_slack(signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN, latency=args.latency)
    await fake.start()
    servers: list[Server] = []
    databases: list[str] = []
    try:
        await asyncio.to_thread(compile_bytecode)
        with tempfile.TemporaryDirectory(prefix="irbot-rss-") as folder:
            for n, environment in enumerate(environments(args)):  # a new database for each server
                own = Path(folder) / f"environment-{n}"
                own.mkdir()
                for backend, database in each_database(not args.no_sqlite, args.postgres_url, own):
                    if n == 0:
                        databases.append(database.label)
                    servers.append(await measure_server(fake, backend, environment, database.url, args, own))
            costs = await asyncio.to_thread(import_costs, Path(folder))
    finally:
        await fake.stop()
    block = render(args, servers, costs, databases, command, load)
    publish_results(block, args, section=SECTION, begin=BEGIN, end=END, section_intro=SECTION_INTRO)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--settle", type=float, default=10.0, help="idle seconds after the declare (default 10)")
    parser.add_argument("--latency", type=float, default=0.05, help="fake Slack Web API latency, s (default 0.05)")
    parser.add_argument("--postgres-url", default=DEFAULT_PG,
                        help=f"PostgreSQL server for a fresh database ('' to skip; default {DEFAULT_PG})")
    parser.add_argument("--no-sqlite", action="store_true", help="skip the SQLite run")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", type=lambda s: s.split("=", 1),
                        help="an extra environment variable for irbot serve (e.g. MALLOC_ARENA_MAX=2); repeatable")
    add_docs_arguments(parser)
    args = parser.parse_args()
    return asyncio.run(orchestrate(args, command_line("rss.py", sys.argv[1:])))


if __name__ == "__main__":
    sys.exit(main())
