"""The dataset layout of every benchmark (DESIGN.md): `<root>/videos/<class>/<name>.mp4` and split files.

`<root>/train.txt` and `<root>/test.txt` hold one `<class>/<name>.mp4` per line (relative to
`<root>/videos/`; blank lines and lines starting with `#` are skipped). AVSync15, AVSync48,
VGGSound, TheGreatestHits, Landscapes and SynthAV all use it; `BENCHMARKS` records what differs
between them: the expected split sizes (checked with a warning, since mirrors differ) and how a
file name encodes the source video it was cut from (`asva.data.source_id`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from asva.data.source_id import YOUTUBE_CLIP, source_id
from asva.log import get_logger

logger = get_logger(__name__)

SPLITS = ("train", "test")


@dataclass(frozen=True)
class Benchmark:
    """What is known of a benchmark's layout: class count and per-class split sizes (None: varies)."""

    name: str
    num_classes: int | None
    train_per_class: int | None
    test_per_class: int | None
    source_pattern: str | None = None  # regex with a `source` group applied to file stems


BENCHMARKS: dict[str, Benchmark] = {
    # ASVA's AVSync15: 15 classes of 100 VGGSound-derived videos, 90 train / 10 test
    "avsync15": Benchmark("AVSync15", 15, 90, 10, YOUTUBE_CLIP),
    # KeyVID's AVSync48: 48 classes, 10 train / 20 test per class
    "avsync48": Benchmark("AVSync48", 48, 10, 20, YOUTUBE_CLIP),
    "vggsound": Benchmark("VGGSound", None, None, None, YOUTUBE_CLIP),
    "thegreatesthits": Benchmark("TheGreatestHits", None, None, None),
    "landscapes": Benchmark("Landscapes", None, None, None),
    "synthav": Benchmark("SynthAV", None, None, None),
}


@dataclass(frozen=True)
class VideoItem:
    """One video of a split: its split line, absolute path, class and source id."""

    rel: str  # `<class>/<name>.mp4`, as in the split file
    path: Path
    class_name: str
    source_id: str


class DatasetLayout:
    """A dataset root in the common layout; `split(name)` lists and checks its videos."""

    def __init__(self, root: str | Path, benchmark: str | None = None) -> None:
        self.root = Path(root)
        if not self.root.exists():
            raise FileNotFoundError(f"dataset root not found: {self.root}")
        if not self.root.is_dir():
            raise NotADirectoryError(f"dataset root is not a folder: {self.root}")
        if benchmark is not None and benchmark.lower() not in BENCHMARKS:
            raise ValueError(f"unknown benchmark {benchmark!r}; known: {', '.join(BENCHMARKS)}")
        self.benchmark = BENCHMARKS[benchmark.lower()] if benchmark else None
        self.videos_dir = self.root / "videos"
        if not self.videos_dir.is_dir():
            raise FileNotFoundError(f"{self.root} has no videos/ folder; expected the layout "
                                    "<root>/videos/<class>/<name>.mp4, <root>/train.txt, <root>/test.txt")

    def split_file(self, split: str) -> Path:
        """The path of a split's list: `<root>/<split>.txt`."""
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        return self.root / f"{split}.txt"

    def split(self, split: str) -> list[VideoItem]:
        """The videos of `split`, in file order; each line is checked to name an existing file."""
        path = self.split_file(split)
        if not path.is_file():
            raise FileNotFoundError(f"split file not found: {path} (one <class>/<name>.mp4 per line)")
        pattern = self.benchmark.source_pattern if self.benchmark else None
        items = []
        for n, raw in enumerate(path.read_text().splitlines(), start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split("/")
            if len(parts) != 2 or not all(parts) or line.startswith("/"):
                raise ValueError(f"{path}:{n}: expected <class>/<name>.mp4, got {line!r}")
            video = self.videos_dir / line
            if not video.is_file():
                raise FileNotFoundError(f"{path}:{n}: {line!r} points at a missing file {video}")
            items.append(VideoItem(line, video, parts[0], source_id(video, pattern)))
        self._check_counts(split, items)
        return items

    def classes(self) -> list[str]:
        """Class names: the sorted folder names under `videos/`."""
        return sorted(p.name for p in self.videos_dir.iterdir() if p.is_dir() and not p.name.startswith("."))

    def _check_counts(self, split: str, items: list[VideoItem]) -> None:
        b = self.benchmark
        if b is None:
            return
        per_class = b.train_per_class if split == "train" else b.test_per_class
        n_classes = len({i.class_name for i in items})
        if b.num_classes is not None and n_classes != b.num_classes:
            logger.warning("%s %s split has %d classes; %s has %d", self.root, split, n_classes, b.name,
                           b.num_classes)
        if per_class is not None and b.num_classes is not None and len(items) != per_class * b.num_classes:
            logger.warning("%s %s split has %d videos; %s has %d per class (%d)", self.root, split,
                           len(items), b.name, per_class, per_class * b.num_classes)
