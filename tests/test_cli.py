"""The command-line contract of DESIGN §6: ``gateway.cli.main`` run in-process, and the real
``helpdesk`` process where the process itself is the point (exit codes an MTA sees, serve)."""

from __future__ import annotations

import json
import os

import pytest

from gateway.testing import free_port
from tests.helpers import cli, cli_process, mail


@pytest.fixture
def env(cli_env: dict[str, str]) -> dict[str, str]:
    return cli_env


def _json(proc) -> object:
    assert proc.returncode == 0, proc.stderr.decode()
    return json.loads(proc.stdout)


def test_ingest_stores_and_lists_with_the_json_contract(env):
    """ingest exits 0; tickets --json and ticket show --json carry the §6 fields."""
    proc = cli(env, "ingest", "--sender", "ivan@example.ru", stdin=mail().as_bytes())
    assert proc.returncode == 0, proc.stderr
    [t] = _json(cli(env, "tickets", "--json"))
    for key in (
        "number",
        "status",
        "subject",
        "customer",
        "notify",
        "notify_address",
        "created_at",
        "awaiting_since",
        "closed_at",
    ):
        assert key in t
    assert t["status"] == "awaiting_operator"
    shown = _json(cli(env, "ticket", "show", "1", "--json"))
    [m] = shown["messages"]
    for key in ("id", "author", "text", "flags", "attachments", "trace"):
        assert key in m
    assert m["author"] == "customer"
    assert set(shown["events"][0]) >= {"at", "actor", "from", "to", "reason"}
    text = cli(env, "ticket", "show", "1")
    assert text.returncode == 0 and "why:" in text.stdout.decode()


def test_tickets_filters_by_status_and_customer(env):
    """--status and --customer narrow the listing."""
    cli(env, "ingest", stdin=mail().as_bytes())
    cli(env, "ingest", stdin=mail(sender="olga@example.ru", subject="Почта").as_bytes())
    assert len(_json(cli(env, "tickets", "--json", "--customer", "olga@example.ru"))) == 1
    assert _json(cli(env, "tickets", "--json", "--status", "closed")) == []
    bad = cli(env, "tickets", "--status", "bogus")
    assert bad.returncode == 1 and b"unknown status" in bad.stderr


def test_ingest_refusal_exits_65_with_a_reason(env):
    """A refused message exits 65 (EX_DATAERR) with the reason on stderr."""
    env = {**env, "HELPDESK_UNKNOWN_SENDERS": "refuse"}
    proc = cli(env, "ingest", "--sender", "who@x.org", stdin=mail(sender="who@x.org").as_bytes())
    assert proc.returncode == 65
    assert b"who@x.org" in proc.stderr and b"Register" in proc.stderr
    assert cli(env, "ingest", stdin=b"").returncode == 65
    proc = cli(env, "ingest", "--recipient", "x@elsewhere.org", stdin=mail().as_bytes())
    assert proc.returncode == 65 and b"not served" in proc.stderr


def test_ingest_with_database_down_exits_75(env, tmp_path):
    """No database: exit 75 (EX_TEMPFAIL) so the MTA keeps the mail and retries."""
    down = {**env, "HELPDESK_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:1/none"}
    proc = cli(down, "ingest", stdin=mail().as_bytes())
    assert proc.returncode == 75, proc.stderr
    assert b"Traceback" not in proc.stderr and len(proc.stderr.splitlines()) == 1


def test_ingest_exit_codes_reach_the_mta_from_a_real_process(tmp_path):
    """An MTA's pipe transport sees 0 for stored, 65 for refused and 75 for try again later."""
    # Once, on SQLite: the backends' answers are the in-process tests' business.
    env = {
        **os.environ,
        "HELPDESK_DATA_DIR": str(tmp_path / "var"),
        "HELPDESK_DATABASE_URL": f"sqlite:///{tmp_path / 'helpdesk.db'}",
        "HELPDESK_DOMAIN": "example.com",
    }
    assert cli(env, "init").returncode == 0
    stored = cli_process(env, "ingest", "--sender", "ivan@example.ru", stdin=mail().as_bytes())
    assert stored.returncode == 0, stored.stderr
    refused = cli_process(env, "ingest", "--recipient", "x@elsewhere.org", stdin=mail().as_bytes())
    assert refused.returncode == 65 and b"not served" in refused.stderr
    down = {**env, "HELPDESK_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:1/none"}
    later = cli_process(down, "ingest", stdin=mail().as_bytes())
    assert later.returncode == 75 and b"Traceback" not in later.stderr, later.stderr


def test_serve_refuses_an_unmigrated_database(tmp_path):
    """serve on a database without the schema says to run init, in one line."""
    e = {
        **os.environ,
        "HELPDESK_DATA_DIR": str(tmp_path / "empty"),
        "HELPDESK_LISTEN": f"smtp://127.0.0.1:{free_port()}",  # 2525 may be a `make run`
        "HELPDESK_HTTP_LISTEN": "",
    }
    proc = cli_process(e, "serve")
    assert proc.returncode == 1
    assert b"helpdesk init" in proc.stderr and b"Traceback" not in proc.stderr


def test_customers_and_operators(env):
    """customers add/list and operators add/list, with a hashed password from stdin."""
    assert cli(env, "customers", "add", "ivan@example.ru", "--name", "Иван").returncode == 0
    again = cli(env, "customers", "add", "ivan@example.ru")
    assert again.returncode == 1 and b"already exists" in again.stderr
    [c] = _json(cli(env, "customers", "list", "--json"))
    assert c["email"] == "ivan@example.ru" and c["verified"] is True
    proc = cli(
        env, "operators", "add", "anna", "anna@example.com", "--password-stdin", stdin=b"s3cret\n"
    )
    assert proc.returncode == 0, proc.stderr
    [o] = _json(cli(env, "operators", "list", "--json"))
    assert o == {**o, "name": "anna", "email": "anna@example.com", "password": True}


def test_operator_actions_from_the_terminal(env):
    """ticket take/status/note/close act as an operator and write the history."""
    cli(env, "ingest", stdin=mail().as_bytes())
    cli(env, "operators", "add", "anna", "anna@example.com")
    assert (
        _json(cli(env, "ticket", "take", "1", "--as", "anna", "--json"))["status"] == "in_progress"
    )
    proc = cli(env, "ticket", "status", "1", "awaiting_customer", "--as", "anna@example.com")
    assert proc.returncode == 0
    assert (
        cli(env, "ticket", "note", "1", "--as", "anna", "--text", "проверить DNS").returncode == 0
    )
    assert cli(env, "ticket", "close", "1", "--as", "anna").returncode == 0
    shown = _json(cli(env, "ticket", "show", "1", "--json"))
    assert [e["to"] for e in shown["events"]] == [
        "awaiting_operator",
        "in_progress",
        "awaiting_customer",
        "closed",
    ]
    assert shown["messages"][-1]["flags"] == ["note"]
    bad = cli(env, "ticket", "take", "1", "--as", "nobody")
    assert bad.returncode == 1 and b"operators add" in bad.stderr
    missing = cli(env, "ticket", "show", "42")
    assert missing.returncode == 1 and b"no ticket #42" in missing.stderr


def test_quarantine_list_and_retry(env):
    """Unparseable input is kept and listed; retry says what happened."""
    assert cli(env, "ingest", stdin=b"\x00\x00garbage\xff").returncode == 0
    [q] = _json(cli(env, "quarantine", "list", "--json"))
    assert q["state"] == "quarantined" and q["reason"]
    proc = cli(env, "quarantine", "retry", str(q["id"]), "--json")
    assert proc.returncode == 65 and json.loads(proc.stdout)["result"] == "quarantined"


def test_bad_config_is_one_clear_line(env):
    """A malformed setting is named, with the fix, and no traceback."""
    proc = cli({**env, "HELPDESK_LISTEN": "http://x"}, "tickets")
    assert proc.returncode == 1
    assert b"HELPDESK_LISTEN" in proc.stderr and b"Traceback" not in proc.stderr
    proc = cli(env, "--config", "/nonexistent.toml", "tickets")
    assert proc.returncode == 1 and b"does not exist" in proc.stderr
    assert cli(env, "frobnicate").returncode == 2


def test_reply_notify_and_outbox_from_the_terminal(env):
    """ticket reply queues the customer's mail; outbox lists it; notify changes where it goes."""
    assert (
        cli(env, "ingest", "--sender", "ivan@example.ru", stdin=mail().as_bytes()).returncode == 0
    )
    assert cli(env, "operators", "add", "anna", "anna@example.com").returncode == 0
    empty = cli(env, "ticket", "reply", "1", "--as", "anna", "--text", " ")
    assert empty.returncode == 1 and b"needs text" in empty.stderr
    done = _json(
        cli(env, "ticket", "reply", "1", "--as", "anna", "--json", stdin="Готово".encode())
    )
    assert done["status"] == "awaiting_customer" and len(done["notifications"]) == 1
    rows = _json(cli(env, "outbox", "--json"))
    assert [(r["kind"], r["state"], r["to"]) for r in rows] == [
        ("operator_reply", "pending", "ivan@example.ru"),
        ("created", "pending", "ivan@example.ru"),
    ]
    assert _json(cli(env, "outbox", "--failed", "--json")) == []
    missing = cli(env, "outbox", "retry", "99")
    assert missing.returncode == 1 and b"no notification 99" in missing.stderr
    changed = _json(cli(env, "ticket", "notify", "1", "--to", "boss@example.ru", "--json"))
    assert changed["notify_address"] == "boss@example.ru" and changed["notify"] is True
    off = _json(cli(env, "ticket", "notify", "1", "off", "--json"))
    assert off["notify"] is False
    moved_off = _json(cli(env, "ticket", "notify", "1", "off", "--to", "it@example.ru", "--json"))
    assert moved_off["notify"] is False and moved_off["notify_address"] == "it@example.ru"
    bad = cli(env, "ticket", "notify", "1", "--to", "not an address")
    assert bad.returncode == 1 and b"not an e-mail address" in bad.stderr
