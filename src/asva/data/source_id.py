"""Source ids: clips cut from the same source video share one, so splits can be checked for leaks.

The source id of `<root>/videos/<class>/<name>.mp4` is, first match wins:
1. the `"source"` string in the sidecar `<class>/<name>.json`, when there is one and it has it
   (SynthAV writes a sidecar; a curation export can add the field);
2. the part of the stem before the first `__` (double underscore): our naming for clips cut
   from one source, `<source>__<start>.mp4`;
3. the `source` group of the benchmark's pattern, when it matches the stem: for VGGSound-derived
   sets (VGGSound, AVSync15, AVSync48) the 11-character YouTube id of `<ytid>_<start>[_<end>]`;
4. the stem itself.
The class folder is not part of the id: the same source filed under two classes is still one source.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from asva.log import get_logger

logger = get_logger(__name__)

# VGGSound names clips `<11-char YouTube id>_<start, zero-padded>`; AVSync15 adds `_<end>`.
YOUTUBE_CLIP = r"^(?P<source>[A-Za-z0-9_-]{11})_\d+(?:_\d+)?$"


def source_id(video: str | Path, pattern: str | None = None) -> str:
    """The source id of a dataset video file (rules in the module docstring)."""
    p = Path(video)
    sidecar = p.with_suffix(".json")
    if sidecar.is_file():
        try:
            data = json.loads(sidecar.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ValueError(f"{sidecar}: not valid JSON ({e})") from e
        if isinstance(data, dict) and isinstance(data.get("source"), str) and data["source"]:
            return data["source"]
    stem = p.stem
    if "__" in stem.strip("_"):
        return stem.split("__", 1)[0]
    if pattern is not None:
        m = re.match(pattern, stem)
        if m:
            return m.group("source")
    return stem
