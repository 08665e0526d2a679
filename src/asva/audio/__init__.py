"""asva.audio: mel front-ends, the ImageBind-audio and BEATs encoders, and timed layer taps."""

from asva.audio.beats import BEATs
from asva.audio.config import (
    AUDIO_FEATURES_TINY,
    BEATS_TINY,
    IMAGEBIND_TINY,
    AudioFeatureConfig,
    BEATsConfig,
    ImageBindAudioConfig,
    KaldiFbankConfig,
)
from asva.audio.fbank import beats_mel, check_waveform, imagebind_mel, kaldi_fbank
from asva.audio.imagebind import ImageBindAudioEncoder
from asva.audio.taps import AudioFeatureExtractor, AudioTap, beats_token_times, imagebind_token_times

__all__ = [
    "AUDIO_FEATURES_TINY", "BEATS_TINY", "IMAGEBIND_TINY", "AudioFeatureConfig", "AudioFeatureExtractor",
    "AudioTap", "BEATs", "BEATsConfig", "ImageBindAudioConfig", "ImageBindAudioEncoder", "KaldiFbankConfig",
    "beats_mel", "beats_token_times", "check_waveform", "imagebind_mel", "imagebind_token_times",
    "kaldi_fbank",
]
