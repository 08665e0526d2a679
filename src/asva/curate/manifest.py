"""The curation manifest (DESIGN.md): its Parquet schema, the per-source part files, the merge.

Resumability: each finished source's rows are written as one small Parquet file,
`<manifest>.parts/<hh>/<sha1(source)[:20]>.parquet` (hh: the hash's first two hex digits, so no
folder holds more than ~1/256 of them), through a temporary name and an atomic rename. A part
file therefore exists completely or not at all, and a killed run loses only the sources in
flight. `<manifest>.parts/config.json` records the config fingerprint; a resume under another
config is refused. The final manifest is the concatenation of the parts of the current sources,
sorted by (source, start_s), written atomically: the same input gives the same bytes whatever the
engine, worker count, completion order or number of restarts.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from asva.log import get_logger

logger = get_logger(__name__)

SCHEMA = pa.schema([
    ("source", pa.string()),  # path relative to the scanned folder (`<class>/<name>.mp4` for a dataset)
    ("start_s", pa.float64()),
    ("end_s", pa.float64()),
    ("duration_s", pa.float64()),  # of the source
    ("fps", pa.float64()),  # of the source
    ("width", pa.int32()),
    ("height", pa.int32()),
    ("has_audio", pa.bool_()),
    ("scene", pa.int32()),  # index of the scene the clip lies in; -1 for a source-level row
    ("num_scenes", pa.int32()),
    ("motion_mean", pa.float64()),  # motion_score units: px per analysis frame at motion_max_side
    ("motion_max", pa.float64()),
    ("camera_motion_mean", pa.float64()),  # the camera's motion (motion_stats.py), mean over the clip's pairs
    ("camera_motion_max", pa.float64()),  # max over the pairs touching the clip's frames (one more each end)
    ("text_area", pa.float64()),  # max text-area fraction over the clip's detector frames
    ("audio_rms_db", pa.float64()),
    ("keep", pa.bool_()),
    ("reasons", pa.list_(pa.string())),
    ("error", pa.string()),
])
COLUMNS = tuple(SCHEMA.names)


def rows_to_table(rows: list[dict[str, Any]]) -> pa.Table:
    """Rows (dicts with exactly the schema's columns) as a table with the manifest schema."""
    for row in rows:
        if set(row) != set(COLUMNS):
            extra, missing = sorted(set(row) - set(COLUMNS)), sorted(set(COLUMNS) - set(row))
            raise ValueError(f"manifest row for {row.get('source')!r}: unexpected {extra}, missing {missing}")
    return pa.Table.from_pylist(rows, schema=SCHEMA)


def parts_dir(manifest: str | Path) -> Path:
    """The folder of part files beside a manifest: `<manifest>.parts/`."""
    p = Path(manifest)
    return p.with_name(p.name + ".parts")


def part_path(parts: Path, source: str) -> Path:
    """Where the part file of `source` lives."""
    digest = hashlib.sha1(source.encode("utf-8", "surrogateescape")).hexdigest()[:20]
    return parts / digest[:2] / f"{digest}.parquet"


def check_parts_config(parts: Path, fingerprint: str, config: dict[str, Any]) -> None:
    """Create the parts folder for `fingerprint`, or refuse one written under another config."""
    stamp = parts / "config.json"
    if stamp.is_file():
        found = json.loads(stamp.read_text()).get("fingerprint")
        if found != fingerprint:
            raise ValueError(f"{parts} holds results made with another curation config (fingerprint {found}, "
                             f"now {fingerprint}); delete that folder or run with --fresh to start over")
        return
    parts.mkdir(parents=True, exist_ok=True)
    _write_atomic(stamp, lambda tmp: tmp.write_text(json.dumps({"fingerprint": fingerprint, "config": config},
                                                               indent=2, sort_keys=True) + "\n"))


def write_part(parts: Path, source: str, rows: list[dict[str, Any]]) -> None:
    """Write one finished source's rows atomically."""
    table = rows_to_table(rows)
    path = part_path(parts, source)
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_atomic(path, lambda tmp: pq.write_table(table, tmp))


def is_done(parts: Path, source: str) -> bool:
    """Whether `source` has a part file (it was finished by an earlier run)."""
    return part_path(parts, source).is_file()


def merge_parts(parts: Path, sources: Iterable[str], manifest: str | Path) -> pa.Table:
    """Concatenate the parts of `sources`, sort by (source, start_s), write `manifest` atomically."""
    tables = []
    for name in sources:
        path = part_path(parts, name)
        if not path.is_file():
            raise FileNotFoundError(f"no part file for source {name!r} ({path}); the run did not finish it")
        tables.append(pq.read_table(path, schema=SCHEMA))
    table = pa.concat_tables(tables) if tables else SCHEMA.empty_table()
    table = table.sort_by([("source", "ascending"), ("start_s", "ascending")])
    out = Path(manifest)
    out.parent.mkdir(parents=True, exist_ok=True)
    _write_atomic(out, lambda tmp: pq.write_table(table, tmp))
    return table


def read_manifest(path: str | Path) -> pa.Table:
    """Read a curation manifest, checking it has the manifest's columns."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"curation manifest not found: {p}")
    table = pq.read_table(p)
    missing = [c for c in COLUMNS if c not in table.column_names]
    if missing:
        raise ValueError(f"{p}: not a curation manifest (missing columns {missing})")
    return table


def _write_atomic(path: Path, write: Any) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
