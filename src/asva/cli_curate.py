"""`asva curate SOURCE --out MANIFEST.parquet [--engine local|ray] [--workers N]`: parse, call the library."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def curate(
    source: Annotated[Path, typer.Argument(help="Folder of videos, dataset root (videos/) or file.")],
    out: Annotated[Path, typer.Option(help="The Parquet manifest to write.")] = Path("manifest.parquet"),
    engine: Annotated[str, typer.Option(help="local (process pool) or ray.")] = "local",
    workers: Annotated[int, typer.Option(help="Worker processes, or CPUs of a local Ray instance.")] = 2,
    config: Annotated[Path | None, typer.Option(help="YAML/JSON overriding CurateConfig fields.")] = None,
    fresh: Annotated[bool, typer.Option(help="Discard earlier runs' results (<out>.parts/).")] = False,
) -> None:
    """Curate sounding videos into 2-s training clips: one manifest row per candidate clip, with reasons."""
    import logging

    from asva.curate import load_curate_config, run_curation

    if not logging.getLogger().handlers:  # run outside the `asva` app (python -m asva.cli_curate)
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    cfg = load_curate_config(config)
    run = run_curation(source, out, config=cfg, engine=engine, workers=workers, fresh=fresh)
    s = run.summary
    typer.echo(f"{out}: {s.rows} rows from {s.sources} sources; "
               f"kept {s.kept} clips ({s.kept_seconds:.0f} s); "
               f"rejected {s.rejected}; errors {s.errors}")
    typer.echo("reasons: " + (", ".join(f"{k} {v}" for k, v in s.reasons.items()) or "none"))


if __name__ == "__main__":
    typer.run(curate)
