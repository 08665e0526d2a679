"""asva.curate: automatic curation of sounding videos into a Parquet manifest of 2-s clips.

See docs/curation.md.
"""

from asva.curate.analyze import REASONS, curate_source
from asva.curate.config import CurateConfig, load_curate_config
from asva.curate.manifest import SCHEMA, read_manifest
from asva.curate.runner import ENGINES, CurationRun, run_curation
from asva.curate.sources import Source, find_sources

__all__ = [
    "ENGINES",
    "REASONS",
    "SCHEMA",
    "CurateConfig",
    "CurationRun",
    "Source",
    "curate_source",
    "find_sources",
    "load_curate_config",
    "read_manifest",
    "run_curation",
]
