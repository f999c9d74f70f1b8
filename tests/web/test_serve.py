"""``helpdesk serve`` runs the support page in its own loop and stops it on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from gateway.config import ConfigError, load_settings
from gateway.testing import free_port, wait_for_banner
from tests.helpers import HELPDESK, cli, cli_process


def test_serve_answers_http_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    """The page answers beside SMTP; SIGTERM stops both and the process exits 0."""
    smtp, http = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELPDESK_")}
    env.update(
        HELPDESK_DATA_DIR=str(tmp_path / "var"),
        HELPDESK_LISTEN=f"smtp://127.0.0.1:{smtp}",
        HELPDESK_HTTP_LISTEN=f"http://127.0.0.1:{http}",
        HELPDESK_DOMAIN="example.com",
    )
    assert cli(env, "init").returncode == 0
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen([*HELPDESK, "serve"], env=env, stdout=log, stderr=log)
    try:
        wait_for_banner(smtp, proc)
        deadline = time.monotonic() + 15
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{http}/signin", timeout=5) as r:
                    assert r.status == 200 and "Вход в техподдержку" in r.read().decode()
                break
            except OSError:
                assert time.monotonic() < deadline, "the page did not answer"
                time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
    text = (tmp_path / "serve.log").read_text()
    assert "support page on http://127.0.0.1" in text and "Traceback" not in text


def test_a_busy_http_port_is_one_clear_line(tmp_path: Path) -> None:
    """serve with its page's port taken exits non-zero with one line naming HELPDESK_HTTP_LISTEN."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("HELPDESK_")}
        env.update(
            HELPDESK_DATA_DIR=str(tmp_path / "var"),
            HELPDESK_LISTEN=f"smtp://127.0.0.1:{free_port()}",
            HELPDESK_HTTP_LISTEN=f"http://127.0.0.1:{port}",
        )
        assert cli(env, "init").returncode == 0
        proc = cli_process(env, "serve", timeout=60)
    assert proc.returncode != 0
    assert b"HELPDESK_HTTP_LISTEN" in proc.stderr and b"Traceback" not in proc.stderr


def test_the_page_settings_are_checked_at_start() -> None:
    """Each mistake is one sentence naming the setting, before anything listens."""
    cases = {
        "HELPDESK_HTTP_LISTEN": {"HELPDESK_HTTP_LISTEN": "https://0.0.0.0:443"},
        "HELPDESK_HTTP_TRUSTED_PROXIES": {"HELPDESK_HTTP_TRUSTED_PROXIES": "10.0.0.300"},
        "HELPDESK_HTTP_TRUSTED_HEADER is set": {"HELPDESK_HTTP_TRUSTED_HEADER": "X-Panel-User"},
        "HELPDESK_HTTP_COOKIE_SECURE": {"HELPDESK_HTTP_COOKIE_SECURE": "maybe"},
        "HELPDESK_HTTP_PUBLIC_URL": {"HELPDESK_HTTP_PUBLIC_URL": "panel.example.com"},
    }
    for name, env in cases.items():
        with pytest.raises(ConfigError, match=name):
            load_settings(environ=env)
    ok = load_settings(
        environ={"HELPDESK_HTTP_LISTEN": "", "HELPDESK_HTTP_TRUSTED_PROXIES": "10.0.0.0/24, ::1"}
    )
    assert ok.http_listen == "" and len(ok.http_proxy_networks) == 2
