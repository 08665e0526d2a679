"""asva.data: dataset layouts, clip sampling, K-shot splits, the train/test leak check, the clip Dataset."""

from asva.data.clips import downsample_frames, downsample_indices, eval_clip_starts
from asva.data.dataset import AVClipDataset, ClipConfig
from asva.data.kshot import kshot_subset
from asva.data.layout import BENCHMARKS, Benchmark, DatasetLayout, VideoItem
from asva.data.leakage import DataLeakError, check_dataset_leakage, check_no_leakage
from asva.data.source_id import source_id

__all__ = [
    "BENCHMARKS",
    "AVClipDataset",
    "Benchmark",
    "ClipConfig",
    "DataLeakError",
    "DatasetLayout",
    "VideoItem",
    "check_dataset_leakage",
    "check_no_leakage",
    "downsample_frames",
    "downsample_indices",
    "eval_clip_starts",
    "kshot_subset",
    "source_id",
]
