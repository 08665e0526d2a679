"""asva.media: video frames at a target FPS, 16 kHz mono audio, mp4 writing, image loading."""

from asva.media.audio import AudioError, read_audio, write_wav
from asva.media.image import ImageError, image_to_tensor, load_image, resize_center_crop, tensor_to_uint8
from asva.media.video import VideoError, VideoInfo, probe_video, read_video_frames, write_video

__all__ = [
    "AudioError",
    "ImageError",
    "VideoError",
    "VideoInfo",
    "image_to_tensor",
    "load_image",
    "probe_video",
    "read_audio",
    "read_video_frames",
    "resize_center_crop",
    "tensor_to_uint8",
    "write_video",
    "write_wav",
]
