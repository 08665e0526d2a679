"""`asva experiment NAME`: one of the papers' experiments in the SynthAV world, end to end to a table."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated

import typer


def experiment(
    name: Annotated[str, typer.Argument(help="kshot, curation, window or features.")],
    root: Annotated[Path | None, typer.Option(
        help="Folder for every experiment's data, runs and tables (default runs/experiments, "
             "runs/experiments-x<scale> at another scale).")] = None,
    base: Annotated[Path, typer.Option(
        help="The `make train-default` run folder: SynthAV sets, manifest, frozen backbone.")
    ] = Path("runs/default"),
    scale: Annotated[float, typer.Option(
        help="Multiply training lengths and test videos per class (a GPU: 4 or more).")] = 1.0,
    jobs: Annotated[int, typer.Option(help="Tasks run at the same time, one thread each.")] = 2,
    cell: Annotated[list[str] | None, typer.Option(
        help="Only this cell (repeatable; see --list), e.g. to re-check one published number.")] = None,
    list_cells: Annotated[bool, typer.Option(
        "--list", help="Print the cells and their folders; run nothing.")] = False,
    report_only: Annotated[bool, typer.Option(
        "--report", help="Only rewrite the table from finished cells.")] = False,
    device: Annotated[str, typer.Option(help="torch device, e.g. cpu or cuda.")] = "cpu",
) -> None:
    """Run an experiment's missing tasks (resumable: re-run the same command after a kill), then write
    ROOT/NAME/results.md, results.json and NAME.png (docs/experiments.md)."""
    from asva.experiments.report import write_report
    from asva.experiments.runner import Settings, check_base, plan, run
    from asva.experiments.spec import get_experiment

    try:
        exp = get_experiment(name)
    except KeyError as err:
        raise typer.BadParameter(str(err.args[0]), param_hint="NAME") from err
    default_root = Path("runs/experiments" if scale == 1.0 else f"runs/experiments-x{scale:g}")
    settings = Settings(root or default_root, base, scale, device)
    if list_cells:
        for c in exp.cells:
            typer.echo(f"{c.name:28s} {c.group:18s} {c.column:32s} {settings.cell_dir(c)}")
        return
    # the command that reproduces the table (--jobs, --report and --cell do not change a number)
    command = f"asva experiment {name}" + ("" if scale == 1.0 else f" --scale {scale:g}") + (
        "" if root is None else f" --root {shlex.quote(str(root))}")
    if not report_only:
        try:
            check_base(base)
        except FileNotFoundError as err:
            raise typer.BadParameter(str(err), param_hint="--base") from err
        tasks = plan(exp, settings, cell)
        run(tasks, settings, jobs, echo=typer.echo)
    typer.echo(f"table: {write_report(exp, settings, command)}")
