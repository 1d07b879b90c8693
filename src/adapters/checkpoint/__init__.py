"""Workspace checkpoints in a shadow git directory under orch's state dir."""

from adapters.checkpoint.shadow_git import ShadowGitCheckpoints, shadow_dir

__all__ = ["ShadowGitCheckpoints", "shadow_dir"]
