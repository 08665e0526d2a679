"""asva.synth: SynthAV, procedural audio-visual clips with exact ground truth, and corruptions."""

from asva.synth.classes import CLASSES
from asva.synth.clip import Clip, generate_clip, ground_truth_json, video_seed
from asva.synth.corruptions import KINDS as CORRUPTIONS
from asva.synth.corruptions import (
    Corruption,
    apply_corruptions,
    parse_corruption_mix,
    parse_corruptions,
    pick_from_mix,
)
from asva.synth.dataset import DatasetSummary, SynthConfig, generate_dataset

__all__ = [
    "CLASSES",
    "CORRUPTIONS",
    "Clip",
    "Corruption",
    "DatasetSummary",
    "SynthConfig",
    "apply_corruptions",
    "generate_clip",
    "generate_dataset",
    "ground_truth_json",
    "parse_corruption_mix",
    "parse_corruptions",
    "pick_from_mix",
    "video_seed",
]
