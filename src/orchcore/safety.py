"""Safety policy: operations an agent must never perform (commit, push, migrate, ...).

The policy lives here once; each agent adapter compiles it into that agent's own
controls, and the engine enforces it independently of any agent.
(Placeholder: the full policy and its matchers are being written.)
"""

from __future__ import annotations

import attrs


@attrs.frozen
class SafetyPolicy:
    """Forbidden operations for agents; see ``DEFAULT_POLICY``."""

    enabled: bool = True
