"""Shared fixtures: settings on a fresh database (SQLite, and PostgreSQL when
``HELPDESK_TEST_DATABASE_URL`` is set), a frozen clock, a gateway on a real port."""

from __future__ import annotations

import gc
import os
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
    """The environment of a real ``helpdesk`` child process, on a database just made."""
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


@pytest.fixture(autouse=True)
def _collect_garbage_after_each_test() -> Iterator[None]:
    """A connection a test leaves open is reported against that test, not a later one."""
    yield
    gc.collect()
