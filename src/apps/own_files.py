"""orch's own files an agent could reach: which lie inside the workspace, and what to tell the user.

The sandbox hides what ``own_files_in_workspace`` lists; ``workspace_warnings`` is
said once per session at run start.
"""

from __future__ import annotations

from pathlib import Path

from apps.secrets import dotenv_path
from apps.settings import Settings
from apps.settings_lookup import default_state_dir


def own_files_in_workspace(settings: Settings) -> list[Path]:
    """orch's own files an agent could read or rewrite: the state dir (and the guards in it),
    the config file and ``.env``, each only when it lies inside the workspace.

    The sandbox hides these paths; ``workspace_warnings`` tells the user.
    """
    workspace = settings.path(settings.paths.workdir)
    candidates = [settings.state_dir]
    if settings.source:
        candidates.append(Path(settings.source).resolve())
    dotenv = dotenv_path(settings).resolve()
    if dotenv.exists():
        candidates.append(dotenv)
    return [path for path in candidates if path.resolve().is_relative_to(workspace.resolve())]


def workspace_warnings(settings: Settings) -> list[str]:
    """One line each for what a user should know at run start: orch's files inside the workspace,
    and a legacy ``.orch/`` still in use."""
    lines = []
    inside = own_files_in_workspace(settings)
    if inside:
        lines.append(
            "warning: orch's own files lie inside the workspace, where an agent can reach them: "
            + ", ".join(str(p) for p in inside)
            + " (move them out: paths.state_dir, --config / ORCH_CONFIG)"
        )
    legacy = settings.legacy_state_dir
    if legacy is not None:
        lines.append(
            f"note: using the existing state in {legacy} (sessions kept); new projects keep state in "
            f"{default_state_dir(settings.path(settings.paths.workdir))}; set paths.state_dir to choose"
        )
    return lines
