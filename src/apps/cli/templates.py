"""`orch templates` (list, export) and `orch init`: the project's prompt templates and house rules."""

from pathlib import Path
from typing import Annotated

import typer

from apps.cli.options import ConfigOption

templates_app = typer.Typer(
    name="templates",
    help="The prompt templates: list them, or export the shipped ones to edit in your project.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)
ForceOption = Annotated[bool, typer.Option("--force", help="Overwrite files that exist.")]


@templates_app.command("list")
def list_command(config: ConfigOption = None) -> None:
    """Each template orch renders, and whether the project's file or the shipped one is used."""
    from apps.cli.main import errors
    from apps.prompt_files import project_templates, templates_folder
    from apps.settings import load_settings

    with errors():
        settings = load_settings(config)
        folder = templates_folder(settings)
        templates = project_templates(folder)
    typer.echo(f"templates folder: {folder}{'' if folder.is_dir() else ' (none yet: orch templates export)'}")
    for name in sorted(templates.sources):
        origin = templates.origin(name)
        where = "project" if origin.startswith(str(folder)) else "shipped"
        typer.echo(f"{name}  {where}  {origin}")


@templates_app.command("export")
def export_command(
    folder: Annotated[
        Path | None, typer.Argument(help="Where to write them (default: paths.templates_dir).")
    ] = None,
    force: ForceOption = False,
    config: ConfigOption = None,
) -> None:
    """Write the shipped templates to DIR, to edit; a template there replaces the shipped one."""
    from apps.cli.main import BAD_INPUT, errors, fail
    from apps.prompt_files import existing_templates, export_templates, templates_folder
    from apps.settings import load_settings

    with errors():
        used = templates_folder(load_settings(config))
    target = folder if folder is not None else used
    existing = existing_templates(target)
    if existing and not force:
        names = ", ".join(p.name for p in existing)
        fail(BAD_INPUT, f"{target} already has {names}; nothing was written (--force replaces them)")
    try:
        written = export_templates(target)
    except OSError as exc:
        fail(BAD_INPUT, f"cannot write templates to {target}: {exc.strerror}")
    for path in written:
        typer.echo(f"wrote {path}")
    if target.resolve() == used.resolve():
        typer.echo(
            f"{len(written)} templates: orch uses them from now on (edit them; delete one for the shipped)"
        )
    else:
        typer.echo(f"{len(written)} templates: to use them, set paths.templates_dir: {target} in orch.yaml")


def init_command(
    folder: Annotated[Path, typer.Argument(help="The project folder (default: here).")] = Path(),
    force: ForceOption = False,
) -> None:
    """Write starter house rules into FOLDER/.orch-rules/ (kept if they exist, unless --force)."""
    from apps.cli.main import BAD_INPUT, fail
    from apps.prompt_files import write_starters

    try:
        written, kept = write_starters(folder / ".orch-rules", force=force)
    except OSError as exc:
        fail(BAD_INPUT, f"cannot write {folder / '.orch-rules'}: {exc.strerror}")
    for path in written:
        typer.echo(f"wrote {path}")
    for path in kept:
        typer.echo(f"kept {path} (exists; --force replaces it)")
    typer.echo("edit them: every agent prompt carries them (see docs/templates.md)")
