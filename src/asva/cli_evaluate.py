"""`asva evaluate`: score generated clips against a dataset's test split (registered by cli.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

_DEFAULT_CACHE = Path.home() / ".cache" / "asva" / "features"


def evaluate(
    generated: Annotated[Path, typer.Option(
        help="Folder of generated clips: <class>/<name>_clip-<i>.mp4.")],
    dataset: Annotated[Path, typer.Option(help="Dataset folder: videos/<class>/<name>.mp4 + test.txt.")],
    metrics: Annotated[str, typer.Option(
        help="Comma-separated: fvd,fid,ia,it,relsync,alignsync,oracle,sfd.")] = "relsync,oracle",
    out: Annotated[Path | None, typer.Option(help="Write results here: FILE.json and FILE.md.")] = None,
    i3d: Annotated[Path | None, typer.Option(help="I3D TorchScript detector (FVD).")] = None,
    inception: Annotated[Path | None, typer.Option(help="pt_inception-2015-12-05 weights (FID).")] = None,
    imagebind: Annotated[Path | None, typer.Option(help="imagebind_huge.pth (IA, IT, AlignSync).")] = None,
    bpe_vocab: Annotated[Path | None, typer.Option(help="CLIP BPE vocabulary (IT).")] = None,
    sync_classifier: Annotated[Path | None, typer.Option(
        help="Sync classifier folder (released ASVA folders or ours); default: the shipped SynthAV one.")
    ] = None,
    write_baseline: Annotated[str | None, typer.Option(
        help="First write a reference row into --generated: groundtruth, static or shift.")] = None,
    shift: Annotated[float, typer.Option(help="Audio delay in s for --write-baseline shift.")] = 0.5,
    cache: Annotated[Path, typer.Option(help="Feature cache folder.")] = _DEFAULT_CACHE,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Do not read or write the cache.")] = False,
    device: Annotated[str, typer.Option(help="torch device, e.g. cpu or cuda.")] = "cpu",
) -> None:
    """Print the papers' table row for generated clips (and write JSON + Markdown with --out)."""
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from asva.metrics.baselines import write_baseline as write_baseline_clips
    from asva.metrics.evaluation import EvalConfig
    from asva.metrics.evaluation import evaluate as run_evaluation

    names = tuple(m.strip().lower() for m in metrics.split(",") if m.strip())
    config = EvalConfig(metrics=names, i3d=i3d, inception=inception, imagebind=imagebind, bpe_vocab=bpe_vocab,
                        sync_classifier=sync_classifier, cache_dir=None if no_cache else cache, device=device)
    if write_baseline is not None:
        write_baseline_clips(dataset, generated, write_baseline, shift_s=shift)
    with Progress(transient=True) as bar:
        task = bar.add_task("extracting features", total=None)
        result = run_evaluation(generated, dataset, config,
                                progress=lambda i, n: bar.update(task, completed=i, total=n))
    header, row = result.table()
    table = Table(title=f"{generated} ({result.num_clips} clips)")
    for h in header:
        table.add_column(h, justify="right")
    table.add_row(*row)
    Console().print(table)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.with_suffix(".json").write_text(result.to_json())
        out.with_suffix(".md").write_text(result.markdown())


def compare(
    a: Annotated[Path, typer.Argument(help="`asva evaluate --out` JSON of the first row (A).")],
    b: Annotated[Path, typer.Argument(help="The same for the second row (B), on the same test set.")],
    metric: Annotated[str, typer.Option(
        help="Per-clip value: oracle_offset_ms, oracle_matched, relsync, alignsync, ia, it.")
    ] = "oracle_offset_ms",
    names: Annotated[str, typer.Option(help="Names of A and B in the text, comma-separated.")] = "A,B",
    samples: Annotated[int, typer.Option(help="Bootstrap resamples.")] = 10_000,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object instead.")] = False,
) -> None:
    """Paired comparison of two evaluated rows: mean difference A − B over the clips both scored, its
    95 % bootstrap interval (seeded), and per-clip and per-class counts."""
    import json

    from asva.metrics.compare import describe, paired_comparison

    try:
        result = paired_comparison(a, b, metric, samples=samples)
    except (ValueError, FileNotFoundError) as err:
        raise typer.BadParameter(str(err)) from err
    name_a, _, name_b = names.partition(",")
    typer.echo(json.dumps(result.to_dict()) if json_out else describe(result, name_a, name_b or "B"))
