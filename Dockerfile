# irbot container image.
#   docker build -t irbot .
#   docker run --env-file .env -p 3000:3000 -v irbot-data:/var/lib/irbot irbot
# `serve` brings the database schema up to date before it listens; `migrate` does only that.

# --- builder: the same `pip wheel --no-deps` that .ci/run builds and tests, plus its dependencies ---
FROM python:3.11-slim AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src
COPY . .

# Every dependency has a prebuilt wheel for CPython 3.11 on Linux (psycopg through its `binary` extra),
# so neither stage needs a compiler. The package installed is the local wheel just built, whose
# dependencies are bounded in pyproject.toml, hence DL3013 (pin versions in pip) does not apply.
# hadolint ignore=DL3013
RUN pip wheel --no-deps --wheel-dir /wheels . \
 && set -- /wheels/irbot-*.whl \
 && pip install --prefix=/install "$1[postgres]"

# --- runtime: Python, the installed packages and nothing to build with ---
FROM python:3.11-slim

# What an idle server holds (docs/operations.md, "Memory"; docs/benchmarks.md, "Idle memory"):
# - PYTHONOPTIMIZE=2 leaves out the docstrings and asserts of the ~1,000 modules a server imports:
#   about 5 MiB. irbot reads no docstring at run time, and its asserts only narrow types.
# - PYTHONNODEBUGRANGES leaves out the column ranges tracebacks underline: about 0.8 MiB. Tracebacks
#   still name every file and line.
# - MALLOC_ARENA_MAX: glibc would give each of irbot's worker threads (SQLite's connection threads,
#   asyncio's executor) an arena of its own, kept for the life of the process: about 0.4 MiB.
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONOPTIMIZE=2 \
    PYTHONNODEBUGRANGES=1 \
    MALLOC_ARENA_MAX=2 \
    PORT=3000 \
    DATABASE_URL=sqlite:////var/lib/irbot/irbot.db

COPY --from=builder /install /usr/local
# The bytecode PYTHONOPTIMIZE=2 loads, for the standard library (the base image ships it without
# bytecode) and the installed packages (pip compiled only the plain kind): without it every start
# would compile about 1,000 modules from source again, slower and leaving more memory behind.
RUN python -OO -m compileall -q /usr/local/lib/python3.11

RUN groupadd --system --gid 10001 irbot \
 && useradd --system --uid 10001 --gid irbot --no-create-home --home-dir /var/lib/irbot \
        --shell /usr/sbin/nologin irbot \
 && install -d -o irbot -g irbot -m 0750 /var/lib/irbot

WORKDIR /var/lib/irbot
# Numeric, so that Kubernetes (runAsNonRoot) can tell it is not root: 10001 is the irbot user.
USER 10001:10001
EXPOSE 3000

# /healthz answers from the first second: 503 "starting" (its body names the dependency that is failing)
# until the database is migrated and Slack has answered, then 200 while the database answers. urlopen
# raises (exit 1) on a 503 or no answer; failures within the start period do not count.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '3000'), timeout=4)"]

ENTRYPOINT ["irbot"]
CMD ["serve"]
