"""Task worktrees through the real git CLI, kept under orch's state dir."""

from adapters.worktrees.git_worktrees import GitWorktrees, worktrees_dir

__all__ = ["GitWorktrees", "worktrees_dir"]
