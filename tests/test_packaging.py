"""Issue 14 item 13: the gateway installed as a package (a built wheel, not ``pip install -e``)
finds its templates and migrations, so a normal install can store mail and notify.

The wheel is built from a copy of the source (so no ``build/`` is left in the tree) and
installed with ``--no-deps`` into a fresh venv that borrows this environment's installed
libraries through a ``.pth`` line: fast and offline, and the ``gateway`` it runs is the
wheel's, never this checkout (checked).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.helpers import mail

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def _run(*args: str | Path, **kwargs) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=300, **kwargs
    )
    assert proc.returncode == 0, f"{args}: {proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the gateway installed from its wheel; returns the venv's bin/."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    source.mkdir()
    shutil.copy2(REPO / "pyproject.toml", source)
    shutil.copytree(
        REPO / "gateway", source / "gateway", ignore=shutil.ignore_patterns("__pycache__")
    )
    wheels = root / "dist"
    _run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", wheels, source)
    [wheel] = wheels.glob("helpdesk_gateway-*.whl")
    venv = root / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv)
    purelib = Path(sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)}))
    # The libraries (and pip) come from this environment; plain path lines in a .pth do not run
    # its editable-install hook, so the only gateway on the fresh venv's path is the wheel's.
    (purelib / "_borrowed.pth").write_text(sysconfig.get_path("purelib") + "\n")
    _run(venv / "bin" / "python", "-m", "pip", "install", "-q", "--no-deps", "--no-index", wheel)
    return venv / "bin"


def test_a_wheel_install_stores_mail_and_drops_its_notification_in_the_maildir(
    installed: Path, tmp_path: Path
):
    """From the wheel: init, a piped mail stored, the sweep renders the 'created' mail."""
    where = _run(
        installed / "python", "-c", "import gateway; print(gateway.__file__)", cwd=tmp_path
    ).stdout.strip()
    assert where.startswith(str(installed.parent)), f"not the wheel's gateway: {where}"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HELPDESK_DATA_DIR": str(tmp_path / "var"),
        "HELPDESK_DOMAIN": "example.com",
        "HELPDESK_LOCALE": "en",
        "HELPDESK_PIPE_HANDOFF": "false",  # stored by the wheel's own code, not a serve on 2525
    }
    helpdesk = installed / "helpdesk"
    _run(helpdesk, "init", cwd=tmp_path, env=env)
    message = mail(subject="Site down", body="502 since 9am").as_bytes()
    _run(
        helpdesk,
        "ingest",
        "--sender",
        "ivan@example.ru",
        input=message.decode(),
        cwd=tmp_path,
        env=env,
    )
    _run(helpdesk, "sweep", cwd=tmp_path, env=env)
    sent = list((tmp_path / "var" / "outgoing" / "new").iterdir())
    assert len(sent) == 1, sent
    text = sent[0].read_bytes()
    assert b"Delivered-To: ivan@example.ru" in text and b"[#1]" in text
    assert b"multipart/alternative" in text
