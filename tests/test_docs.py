"""What the docs tell a user to type matches what the project ships (issue 8, item 21)."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def test_no_doc_installs_orchcore_from_pypi_where_it_is_not_published() -> None:
    wrong = []
    for path in DOCS:
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if re.search(r"\bpipx? install\b", line) and "orchcore-cli" in line and " @ " not in line:
                wrong.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert wrong == [], "orchcore-cli is not on PyPI: install from a checkout or a git URL"


def test_the_n8n_url_in_the_notification_docs_is_the_path_the_shipped_workflow_listens_on() -> None:
    workflow = json.loads((ROOT / "examples" / "n8n" / "orch-to-telegram.json").read_text())
    (hook,) = [n for n in workflow["nodes"] if n["type"] == "n8n-nodes-base.webhook"]
    path = hook["parameters"]["path"]
    urls = re.findall(r"n8n_url: (\S+)", (ROOT / "docs" / "notifications.md").read_text())
    assert urls
    assert all(url.endswith(f"/webhook/{path}") for url in urls), (urls, path)
