"""Finding the source videos under a folder: symlinks followed once, loops and dead links recorded.

A source is named by its path relative to the scanned folder, with `/` separators. When SOURCE is
a dataset root (it has a `videos/` folder, the layout of DESIGN.md), the scan starts at
`videos/`, so a source name is exactly a split-file line `<class>/<name>.mp4`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from asva.log import get_logger

logger = get_logger(__name__)

# Files with these endings are tried as videos; anything FFmpeg cannot open gets an error row.
VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".flv", ".mpg", ".mpeg", ".ts",
                            ".wmv", ".3gp", ".ogv"})
# Sidecars that live beside videos in our layouts: skipped without a row (counted in the log).
SIDECAR_SUFFIXES = frozenset({".json", ".txt", ".csv", ".parquet", ".md", ".yaml", ".yml", ".png", ".jpg"})


@dataclass(frozen=True)
class Source:
    """One file to curate: its manifest name, its path, and why it cannot be read if known up front."""

    name: str  # path relative to the scan root, '/'-separated
    path: str
    problem: str | None = None  # set for files that are not videos, dead links, loops


def scan_root(source: str | Path) -> Path:
    """The folder sources are named relative to: `SOURCE/videos` for a dataset root, else SOURCE."""
    root = Path(source)
    if not root.exists():
        raise FileNotFoundError(f"curation source not found: {root}")
    if root.is_dir() and (root / "videos").is_dir():
        return root / "videos"
    return root


def find_sources(source: str | Path) -> list[Source]:
    """Every file under `source` to record in the manifest, sorted by name (a single file works too)."""
    root = scan_root(source)
    if root.is_file():
        return [Source(root.name, str(root))]
    found: list[Source] = []
    n_sidecars = 0
    seen_dirs: set[tuple[int, int]] = set()  # (device, inode) of folders entered: breaks symlink loops
    # os.walk with followlinks: a symlinked folder is entered once; its second visit is a loop.
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True, onerror=_log_walk_error):
        st = os.stat(dirpath)
        key = (st.st_dev, st.st_ino)
        if key in seen_dirs:
            rel = display_name(Path(dirpath).relative_to(root).as_posix())
            found.append(Source(rel, dirpath, "symlink loop: this folder was already scanned"))
            dirnames[:] = []
            continue
        seen_dirs.add(key)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and not d.endswith(".parts"))
        for fname in sorted(filenames):
            if fname.startswith("."):
                continue  # hidden and temporary files (ours are `.name.tmp`)
            path = Path(dirpath) / fname
            name = display_name(path.relative_to(root).as_posix())
            suffix = path.suffix.lower()
            if suffix in SIDECAR_SUFFIXES:
                n_sidecars += 1
            elif not path.exists():
                found.append(Source(name, str(path), "broken symlink: the target does not exist"))
            elif suffix not in VIDEO_SUFFIXES:
                found.append(Source(name, str(path), f"not a video file (suffix {suffix or 'none'!r})"))
            else:
                found.append(Source(name, str(path)))
    if n_sidecars:
        logger.info("skipped %d sidecar files (%s) under %s", n_sidecars, ", ".join(sorted(SIDECAR_SUFFIXES)),
                    root)
    found.sort(key=lambda s: s.name)
    return found


def display_name(name: str) -> str:
    """`name` as valid UTF-8: bytes that are not (os.walk keeps them as surrogates) become `\\xNN`."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _log_walk_error(err: OSError) -> None:
    logger.warning("cannot scan %s: %s", err.filename, err.strerror)
