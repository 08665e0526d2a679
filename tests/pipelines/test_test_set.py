"""`animate_test_set` / `asva generate`: a clip per evaluation clip, named for `asva evaluate`, resumable."""

from __future__ import annotations

import pytest

from asva.media import probe_video
from asva.metrics.protocol import EvalProtocol, generated_clips, reference_clips
from asva.pipelines.test_set import animate_test_set


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    from asva.synth import SynthConfig, generate_dataset

    root = tmp_path_factory.mktemp("sv")
    generate_dataset(root, SynthConfig(classes=("lamp_beep",), videos_per_class=2, train_per_class=1,
                                       seconds=2.5, size=64), workers=1)
    return root


class Recorder:
    """A stand-in pipeline: records what it is given and returns the first frame held still."""

    def __init__(self):
        self.calls = []

    def __call__(self, image, prompt="", *, audio=None, seed=0, **options):
        import numpy as np
        import torch

        from asva.pipelines.animate import AnimationResult

        self.calls.append((image.shape, prompt, audio.shape, seed, options))
        video = torch.from_numpy(np.repeat(image[None], 12, 0)).permute(3, 0, 1, 2)[None] / 127.5 - 1
        return AnimationResult(video=video.float(), fps=6.0, audio=audio)


def test_every_reference_clip_gets_a_named_clip_and_a_rerun_resumes(dataset, tmp_path):
    pipe = Recorder()
    out = tmp_path / "gen"
    paths = animate_test_set(pipe, dataset, out, seed=3, steps=2)
    protocol = EvalProtocol()
    refs = reference_clips(dataset, protocol)
    assert len(paths) == len(refs) == 3  # one test video, 3 clips
    assert [c.key for c in generated_clips(out, refs, protocol)] == [r.key for r in refs]
    shape, prompt, audio_shape, seed, options = pipe.calls[0]
    assert shape == (64, 64, 3) and prompt == "lamp beep" and audio_shape == (32000,)
    assert seed == 3 and options == {"steps": 2}
    info = probe_video(paths[0])
    assert info.has_audio and info.num_frames == 12

    again = Recorder()
    paths[1].unlink()  # as if killed before writing it
    animate_test_set(again, dataset, out, seed=3, steps=2)
    assert len(again.calls) == 1  # only the missing clip is made again


def test_keep_chooses_reference_clips_by_key(dataset, tmp_path):
    pipe = Recorder()
    paths = animate_test_set(pipe, dataset, tmp_path / "gen", keep=lambda key: key.endswith("_clip-1"))
    second = [r.key for r in reference_clips(dataset, EvalProtocol())][1]  # the test video's clip 1
    assert [f"{p.parent.name}/{p.stem}" for p in paths] == [second] and second.endswith("_clip-1")
    assert len(pipe.calls) == 1


def test_cli_generate_with_the_no_audio_backbone(dataset, tmp_path):
    from typer.testing import CliRunner

    from asva.cli import app

    out = tmp_path / "gen"
    result = CliRunner().invoke(app, ["generate", "--dataset", str(dataset), "--out", str(out), "--no-audio",
                                      "--steps", "1", "--limit", "1"])
    assert result.exit_code == 0, result.output
    assert probe_video(next(out.rglob("*.mp4"))).num_frames == 12


def test_cli_generate_in_keyframe_mode_writes_48_frames_at_24_fps(dataset, tmp_path):
    from typer.testing import CliRunner

    from asva.cli import app

    out = tmp_path / "gen"
    result = CliRunner().invoke(app, ["generate", "--dataset", str(dataset), "--out", str(out), "--mode",
                                      "keyframe", "--steps", "1", "--limit", "1"])
    assert result.exit_code == 0, result.output
    info = probe_video(next(out.rglob("*.mp4")))
    assert info.num_frames == 48 and info.fps == 24 and info.has_audio
