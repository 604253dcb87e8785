"""The agent runs on a mail host without Django: nothing under senders.agent may import it."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
AGENT = ROOT / "senders" / "agent"

# Importing every module of the agent with Django made unimportable.
PROBE = """
import importlib, pkgutil, sys

class NoDjango:
    def find_spec(self, name, path=None, target=None):
        if name == "django" or name.startswith("django."):
            raise ImportError(f"the agent imported {name}")
        return None

sys.meta_path.insert(0, NoDjango())
import senders.agent
for module in pkgutil.walk_packages(senders.agent.__path__, "senders.agent."):
    importlib.import_module(module.name)
print(sorted(name for name in sys.modules if name.startswith("senders.agent.")))
"""


def test_every_agent_module_imports_without_django() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "senders.agent.cli" in result.stdout
    assert "senders.agent.service" in result.stdout


def test_no_agent_source_names_django() -> None:
    for path in AGENT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            assert not any(n == "django" or n.startswith("django.") for n in names), path
            assert not any(n.startswith(("senders.models", "senders.views")) for n in names), path
