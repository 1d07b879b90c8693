"""The templates orch ships (``*.md.j2`` package data beside this module).

They are part of the package like its code, read through the import system
(``importlib.resources``: works from a wheel or a zip); a project's own templates and
house rules are the user's files and are read by apps, never here.
"""

from __future__ import annotations

import functools
from importlib import resources

from orchcore.templating import TEMPLATE_NAMES, TemplateSource


@functools.cache
def shipped_sources() -> dict[str, TemplateSource]:
    """Every shipped template by name, with ``orchcore/templates/NAME`` as its origin."""
    folder = resources.files(__name__)
    return {
        name: TemplateSource(
            name, folder.joinpath(name).read_text(encoding="utf-8"), f"orchcore/templates/{name}"
        )
        for name in TEMPLATE_NAMES
    }
