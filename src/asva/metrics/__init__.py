"""asva.metrics: FVD, FID, IA, IT, RelSync, AlignSync, the sync classifier and the oracle sync error."""

from asva.metrics.errors import MetricInputError
from asva.metrics.evaluation import METRICS, EvalConfig, EvalResult, evaluate
from asva.metrics.frechet import frechet_distance, gaussian_stats
from asva.metrics.oracle_sync import SyncResult, oracle_sync, oracle_sync_file
from asva.metrics.protocol import EvalProtocol
from asva.metrics.sync_checkpoint import load_official_sync_classifier, load_sync_classifier
from asva.metrics.sync_classifier import SYNC_PRESETS, SyncClassifier, SyncClassifierConfig
from asva.metrics.sync_scores import align_prob, alignsync, relsync

__all__ = [
    "METRICS",
    "SYNC_PRESETS",
    "EvalConfig",
    "EvalProtocol",
    "EvalResult",
    "MetricInputError",
    "SyncClassifier",
    "SyncClassifierConfig",
    "SyncResult",
    "align_prob",
    "alignsync",
    "evaluate",
    "frechet_distance",
    "gaussian_stats",
    "load_official_sync_classifier",
    "load_sync_classifier",
    "oracle_sync",
    "oracle_sync_file",
    "relsync",
]
