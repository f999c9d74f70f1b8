"""The files a sysadmin installs from deploy/ agree with each other and with the code
(issue 14, item 17): the systemd unit is valid for systemd, runs `serve` with the config
as the user the pipe and cron use, restarts on failure and owns the data directory the
config names; and `helpdesk --version` answers."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from gateway.config import load_settings
from tests.helpers import cli

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
CONFIG = "/etc/helpdesk/helpdesk.toml"
HELPDESK = "/srv/helpdesk/venv/bin/helpdesk"


def _unit() -> configparser.ConfigParser:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    unit.read(DEPLOY / "systemd" / "helpdesk.service")
    return unit


def test_the_unit_restarts_runs_as_its_user_and_owns_the_configured_data_dir():
    """Restart=on-failure, a dedicated user, StateDirectory= matching the config's data_dir;
    the pipe (master.cf) and cron run as the same user with the same --config."""
    service = _unit()["Service"]
    assert service["Restart"] == "on-failure"
    assert service["User"] == "helpdesk" != "root"
    assert service["ExecStart"] == f"{HELPDESK} --config {CONFIG} serve"
    settings = load_settings(DEPLOY / "helpdesk.toml", environ={})
    assert str(settings.data_dir) == f"/var/lib/{service['StateDirectory']}"
    assert settings.listen == "lmtp://127.0.0.1:2424"
    master = (DEPLOY / "postfix" / "master.cf").read_text()
    assert f"user={service['User']} " in master and f"{HELPDESK} --config {CONFIG} ingest" in master
    cron = (DEPLOY / "cron" / "helpdesk").read_text()
    assert f" {service['User']}  {HELPDESK} --config {CONFIG} sweep" in cron


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_systemd_accepts_the_unit(tmp_path):
    """`systemd-analyze verify` finds nothing wrong (the venv path points at this one)."""
    venv_helpdesk = shutil.which("helpdesk", path=str(Path(sys.executable).parent))
    assert venv_helpdesk
    unit = tmp_path / "helpdesk.service"
    unit.write_text(
        (DEPLOY / "systemd" / "helpdesk.service").read_text().replace(HELPDESK, venv_helpdesk)
    )
    proc = subprocess.run(
        ["systemd-analyze", "verify", unit], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0 and "helpdesk.service" not in proc.stderr, proc.stderr


def test_version_prints_the_installed_version(tmp_path):
    """`helpdesk --version`: one line, the distribution's version, and nothing created."""
    proc = cli({"HELPDESK_DATA_DIR": str(tmp_path / "var")}, "--version")
    assert proc.returncode == 0
    assert proc.stdout.decode() == f"helpdesk {version('helpdesk-gateway')}\n"
    assert not (tmp_path / "var").exists()
