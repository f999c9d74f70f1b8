"""Shared fixtures: settings on a fresh database (SQLite, and PostgreSQL when
``HELPDESK_TEST_DATABASE_URL`` is set), a frozen clock, a gateway on a real port —
and a check that the run leaves no process of its own behind."""

from __future__ import annotations

import contextlib
import gc
import multiprocessing.resource_tracker
import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from gateway.clock import FrozenClock
from gateway.config import Settings, load_settings
from gateway.testing import RecordingSMTP, RunningGateway, running_gateway
from tests.helpers import cli

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "fixtures" / "mails"
CORPUS = REPO.parent / "shared" / "corpus"
PG_URL = os.environ.get("HELPDESK_TEST_DATABASE_URL", "")

BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])

# Every process this run starts inherits this mark (children, grandchildren, and the orphans a
# SIGKILL leaves behind), so the end of the run can find them; runs beside it have other marks.
RUN_MARK = "GATEWAY_TEST_RUN"
os.environ[RUN_MARK] = uuid.uuid4().hex

# `helpdesk ingest` hands its mail to whatever serve listens on the listen setting (issue 14,
# item 15; default 127.0.0.1:2525). The pipe's tests store in-process unless they say
# otherwise (tests/test_pipe_handoff.py), so a `make run` beside the suite cannot take their mail.
os.environ.setdefault("HELPDESK_PIPE_HANDOFF", "false")


def _pg_schema_url() -> Iterator[str]:
    schema = "t_" + uuid.uuid4().hex[:12]
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database on each backend the machine offers."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'helpdesk.db'}"
    else:
        yield from _pg_schema_url()


@pytest.fixture
def settings(request: pytest.FixtureRequest, tmp_path: Path, database_url: str) -> Settings:
    """Settings on a fresh database. The intake writer is a thread here (a child process
    costs each gateway a start-up); tests marked ``writer_process`` get the product's
    default, the writer in a child process."""
    process = request.node.get_closest_marker("writer_process") is not None
    return load_settings(
        environ={},
        data_dir=tmp_path / "var",
        database_url=database_url,
        domain="example.com",
        listen="smtp://127.0.0.1:0",
        intake_writer="process" if process else "thread",
        http_listen="",  # the support page is tested in tests/web, on ports of its own
    )


@pytest.fixture
def cli_env(tmp_path: Path, database_url: str) -> dict[str, str]:
    """The environment of a ``helpdesk`` command (in-process with cli(), or a child with
    cli_process()), on a database just made."""
    e = {
        **os.environ,
        "HELPDESK_DATA_DIR": str(tmp_path / "var"),
        "HELPDESK_DATABASE_URL": database_url,
        "HELPDESK_DOMAIN": "example.com",
    }
    assert cli(e, "init").returncode == 0
    return e


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def gateway(settings: Settings, clock: FrozenClock) -> Iterator[RunningGateway]:
    with running_gateway(settings, clock) as running:
        yield running


@pytest.fixture
def smarthost() -> Iterator[RecordingSMTP]:
    """An aiosmtpd capture server standing in for the smarthost."""
    with RecordingSMTP() as server:
        yield server


def fixture_mail(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def pytest_collection_finish(session: pytest.Session) -> None:
    """Freeze what importing and collecting made, so the collection after each test scans only
    what tests create: ~8 ms instead of ~150 ms (SQLAlchemy, Jinja and the rest are big)."""
    gc.collect()
    gc.freeze()


@pytest.fixture(autouse=True)
def _collect_garbage_after_each_test() -> Iterator[None]:
    """A connection a test leaves open is reported against that test, not a later one."""
    yield
    gc.collect()


def _marked_processes() -> dict[int, str]:
    """Processes other than this one that carry this run's mark: pid → command line."""
    mark = f"{RUN_MARK}={os.environ[RUN_MARK]}".encode()
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if mark not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if state != "Z":  # a zombie has ended; its parent has not reaped it yet
            found[int(entry.name)] = command.strip()[:200]
    return found


_first_seen: dict[int, str] = {}


@pytest.fixture(scope="module", autouse=True)
def _note_processes_each_module_leaves(request: pytest.FixtureRequest) -> Iterator[None]:
    """Which test module a process outlived first: the end-of-run check names it (a scan
    takes ~10 ms, too much to repeat after each of 1,400 tests)."""
    yield
    if Path("/proc/self/environ").exists():
        for pid in _marked_processes():
            _first_seen.setdefault(pid, request.node.nodeid)


@pytest.fixture(scope="session", autouse=True)
def _no_process_outlives_the_run() -> Iterator[None]:
    """The run fails if a process it started is still alive at its end (then it is killed):
    a writer child, a render-pool or import worker, a `serve`, the browser. Linux: /proc."""
    yield
    if not Path("/proc/self/environ").exists():
        return
    # This process's own resource tracker (started by in-process spawn pools) lives, by
    # design, as long as this process: stop it now, as the interpreter would at exit.
    stop_tracker = getattr(multiprocessing.resource_tracker._resource_tracker, "_stop", None)
    if stop_tracker is not None:
        stop_tracker()
    deadline = time.monotonic() + 10  # a process still shutting down gets a moment
    while (left := _marked_processes()) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in left:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    assert not left, "processes outlived the test run (now killed):\n" + "\n".join(
        f"  {pid} {command}  (alive after {_first_seen.get(pid, '?')})"
        for pid, command in left.items()
    )
