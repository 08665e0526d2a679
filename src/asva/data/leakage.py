"""The check the trainer runs before training: no training clip comes from a test video's source."""

from __future__ import annotations

from asva.data.layout import DatasetLayout, VideoItem
from asva.log import get_logger

logger = get_logger(__name__)


class DataLeakError(ValueError):
    """Training and test videos share a source video (see asva.data.source_id)."""


def check_no_leakage(train: list[VideoItem], test: list[VideoItem]) -> None:
    """Raise DataLeakError naming shared source ids (first 10) and a file of each side."""
    test_by_source: dict[str, VideoItem] = {}
    for item in test:
        test_by_source.setdefault(item.source_id, item)
    shared: dict[str, tuple[VideoItem, VideoItem]] = {}
    for item in train:
        if item.source_id in test_by_source and item.source_id not in shared:
            shared[item.source_id] = (item, test_by_source[item.source_id])
    if shared:
        pairs = list(shared.items())[:10]
        shown = "; ".join(f"{sid!r}: train {a.rel} / test {b.rel}" for sid, (a, b) in pairs)
        raise DataLeakError(f"{len(shared)} source video(s) appear in both train and test: {shown}"
                            f"{' ...' if len(shared) > 10 else ''}")
    logger.info("leak check passed: %d train and %d test videos share no source", len(train), len(test))


def check_dataset_leakage(root: str, benchmark: str | None = None,
                          train: list[VideoItem] | None = None) -> None:
    """Check a dataset's train split (or a given list, e.g. a K-shot subset) against its test split."""
    layout = DatasetLayout(root, benchmark)
    check_no_leakage(layout.split("train") if train is None else train, layout.split("test"))
