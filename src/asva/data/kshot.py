"""K-shot training subsets: K videos per class, chosen with a seed (K in 1, 5, 10 or all)."""

from __future__ import annotations

import zlib

import numpy as np

from asva.data.layout import VideoItem
from asva.log import get_logger

logger = get_logger(__name__)


def kshot_subset(items: list[VideoItem], shots: int | str, seed: int = 0) -> list[VideoItem]:
    """K videos per class (or all for `shots="all"`), in split order; the same seed gives the same subset.

    Each class draws from its own stream (seed, crc32(class)), so adding a class or a video to
    another class does not change a class's pick. A class with fewer than K videos gives all of
    them (logged). Raises ValueError for an empty result.
    """
    if shots == "all":
        chosen = list(items)
    else:
        if isinstance(shots, bool) or not isinstance(shots, int) or shots < 1:
            raise ValueError(f"shots must be an int >= 1 or 'all', got {shots!r}")
        by_class: dict[str, list[int]] = {}
        for i, item in enumerate(items):
            by_class.setdefault(item.class_name, []).append(i)
        keep: set[int] = set()
        for name in sorted(by_class):
            idx = by_class[name]
            if len(idx) < shots:
                logger.warning("class %r has %d videos, fewer than %d shots: using all", name, len(idx),
                               shots)
                keep.update(idx)
                continue
            rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
            keep.update(idx[j] for j in rng.choice(len(idx), size=shots, replace=False))
        chosen = [items[i] for i in sorted(keep)]
    if not chosen:
        raise ValueError(f"the {shots}-shot subset is empty: the split has no videos")
    return chosen
