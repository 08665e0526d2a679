"""`evaluate` and `asva evaluate` end to end on a two-video dataset, with tiny models in official layouts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
import typer
from typer.testing import CliRunner

from asva.audio.config import ImageBindAudioConfig
from asva.audio.imagebind import ImageBindAudioEncoder
from asva.cli_evaluate import evaluate as evaluate_command
from asva.media import write_video
from asva.metrics import evaluation as evaluate_module
from asva.metrics.baselines import write_baseline
from asva.metrics.errors import MetricInputError
from asva.metrics.evaluation import EvalConfig, evaluate
from asva.metrics.imagebind_load import ImageBindTowers
from asva.metrics.imagebind_text import ImageBindTextConfig, ImageBindTextEncoder
from asva.metrics.imagebind_vision import ImageBindVisionConfig, ImageBindVisionEncoder
from asva.metrics.protocol import EvalProtocol
from asva.metrics.sync_checkpoint import save_sync_classifier
from asva.metrics.sync_classifier import SyncClassifier, SyncClassifierConfig
from asva.synth.clip import generate_clip
from tests.metrics.test_feature_loaders import _FakeI3D

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
TINY_SYNC = SyncClassifierConfig(audio_widths=(4, 4, 8, 8, 8), video_widths=(4, 4, 8, 8, 8), head_dim=8,
                                 video_size=32)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 2-video dataset (3 s, 64 px), its ground-truth row, a tiny classifier, a scripted I3D."""
    root = tmp_path_factory.mktemp("eval")
    data = root / "data"
    lines = []
    for i, cls in enumerate(("bouncing_ball", "drum_hit")):
        clip = generate_clip(cls, seed=i, seconds=3.0, size=64, fps=12.0)
        (data / "videos" / cls).mkdir(parents=True)
        write_video(data / "videos" / cls / "v0.mp4", clip.frames, clip.fps, audio=clip.audio)
        lines.append(f"{cls}/v0.mp4")
    (data / "test.txt").write_text("\n".join(lines) + "\n")
    write_baseline(data, root / "gt", "groundtruth")
    torch.manual_seed(0)
    save_sync_classifier(SyncClassifier(TINY_SYNC).eval(), root / "sync")
    torch.jit.script(_FakeI3D()).save(str(root / "i3d.pt"))
    (root / "vocab.txt").write_text("placeholder")
    return {"root": root, "data": data, "gt": root / "gt", "sync": root / "sync", "i3d": root / "i3d.pt",
            "vocab": root / "vocab.txt"}


class _Tokenizer:
    def __init__(self, _path: object) -> None:
        pass

    def __call__(self, texts: list[str]) -> torch.Tensor:
        tokens = torch.zeros(len(texts), 77, dtype=torch.long)
        tokens[:, 0], tokens[:, 1], tokens[:, 2] = 98, torch.arange(len(texts)), 99
        return tokens


@pytest.fixture
def tiny_models(monkeypatch: pytest.MonkeyPatch) -> None:
    """ImageBind replaced by test-sized random towers of the same classes; Inception by a stand-in."""
    torch.manual_seed(0)
    size = {"embed_dim": 32, "num_blocks": 1, "num_heads": 4, "out_embed_dim": 16}
    towers = ImageBindTowers(ImageBindVisionEncoder(ImageBindVisionConfig(**size)),
                             ImageBindAudioEncoder(ImageBindAudioConfig(**size)),
                             ImageBindTextEncoder(ImageBindTextConfig(**size, vocab_size=100)))
    for t in (towers.vision, towers.audio, towers.text):
        t.eval()
    # The FID network is tested in test_feature_loaders; here a cheap stand-in with 64-d features
    # (a 2048-d Fréchet distance alone takes seconds).
    inception = torch.nn.Sequential(torch.nn.Conv2d(3, 64, 16, stride=16), torch.nn.AdaptiveAvgPool2d(1),
                                    torch.nn.Flatten()).eval()
    original = evaluate_module._Extractors.model

    def model(self: object, family: str) -> object:
        return {"imagebind": towers, "fid": inception}.get(family) or original(self, family)

    monkeypatch.setattr(evaluate_module._Extractors, "model", model)
    monkeypatch.setattr("asva.backbone.tokenizer.BPETokenizer", _Tokenizer)


def test_ground_truth_row_all_metrics(files: dict[str, Path], tiny_models: None, tmp_path: Path) -> None:
    cfg = EvalConfig(metrics=("fvd", "fid", "ia", "it", "relsync", "alignsync", "oracle"), i3d=files["i3d"],
                     inception=files["i3d"], imagebind=files["i3d"], bpe_vocab=files["vocab"],
                     sync_classifier=files["sync"], cache_dir=tmp_path / "cache")
    calls = []
    result = evaluate(files["gt"], files["data"], cfg, progress=lambda i, n: calls.append((i, n)))
    m = result.metrics
    assert result.num_clips == 6 and calls[-1] == (12, 12)
    assert m["fvd"] >= 0 and m["fid"] >= 0
    # the ground truth re-encoded: RelSync and AlignSync at (almost exactly) their reference values
    assert m["relsync"]["mean"] == pytest.approx(50, abs=2)
    assert m["relsync"]["rescaled_mean"] == pytest.approx(100, abs=4)
    assert m["alignsync"]["mean"] == pytest.approx(25, abs=2)
    assert -100 <= m["ia"]["mean"] <= 100 and -100 <= m["it"]["mean"] <= 100
    header, row = result.table()
    assert header[0].startswith("FVD") and len(row) == 7
    json.loads(result.to_json())
    assert "RelSync" in result.markdown()
    # re-scoring reads everything from the cache and gives the same numbers
    again = evaluate(files["gt"], files["data"], cfg)
    assert again.metrics["relsync"] == m["relsync"] and again.metrics["fvd"] == m["fvd"]


def test_static_scores_below_ground_truth_in_oracle(files: dict[str, Path], tmp_path: Path) -> None:
    write_baseline(files["data"], tmp_path / "static", "static")
    cfg = EvalConfig(metrics=("oracle",))
    gt = evaluate(files["gt"], files["data"], cfg).metrics["oracle"]
    static = evaluate(tmp_path / "static", files["data"], cfg).metrics["oracle"]
    assert static["mean_offset_ms"] > gt["mean_offset_ms"]


def test_sfd_is_small_for_the_ground_truth_and_larger_for_a_static_row(
        files: dict[str, Path], tmp_path: Path) -> None:
    # SFD: FVD's formula on the sync classifier's time-pooled video embeddings. The ground truth
    # re-encoded sits near 0; held first frames move away from the reference distribution.
    write_baseline(files["data"], tmp_path / "static", "static")
    cfg = EvalConfig(metrics=("sfd",))  # the shipped SynthAV classifier: trained features
    gt = evaluate(files["gt"], files["data"], cfg)
    static = evaluate(tmp_path / "static", files["data"], cfg).metrics["sfd"]
    assert 0 <= gt.metrics["sfd"] < static
    assert gt.table()[0] == ["SFD ↓"]


def test_mismatched_names_raise(files: dict[str, Path], tmp_path: Path) -> None:
    gen = tmp_path / "gen"
    shutil.copytree(files["gt"], gen)
    (gen / "drum_hit" / "v0_clip-2.mp4").rename(gen / "drum_hit" / "v0_clip-7.mp4")
    with pytest.raises(MetricInputError, match=r"1 missing: drum_hit/v0_clip-2\.mp4") as err:
        evaluate(gen, files["data"], EvalConfig(metrics=("oracle",)))
    assert "v0_clip-7.mp4" in str(err.value)


def test_short_videos_raise(files: dict[str, Path], tmp_path: Path) -> None:
    gen = tmp_path / "gen"
    shutil.copytree(files["gt"], gen)
    frames = torch.zeros(6, 32, 32, 3, dtype=torch.uint8).numpy()
    write_video(gen / "drum_hit" / "v0_clip-0.mp4", frames, 6.0)  # 1 s
    with pytest.raises(MetricInputError, match=r"1\.0\d* s long"):
        evaluate(gen, files["data"], EvalConfig(metrics=("oracle",)))
    data = tmp_path / "data"
    (data / "videos" / "x").mkdir(parents=True)
    write_video(data / "videos" / "x" / "a.mp4", frames, 6.0)
    (data / "test.txt").write_text("x/a.mp4\n")
    with pytest.raises(MetricInputError, match="at least 2 s"):
        evaluate(gen, data, EvalConfig(metrics=("oracle",)))


def test_fvd_needs_two_clips_and_weights(files: dict[str, Path], tmp_path: Path) -> None:
    data = tmp_path / "one"
    shutil.copytree(files["data"], data)
    (data / "test.txt").write_text("drum_hit/v0.mp4\n")
    gen = tmp_path / "gen"
    (gen / "drum_hit").mkdir(parents=True)
    shutil.copy(files["gt"] / "drum_hit" / "v0_clip-0.mp4", gen / "drum_hit" / "v0_clip-0.mp4")
    cfg = EvalConfig(metrics=("fvd",), i3d=files["i3d"], protocol=EvalProtocol(clips_per_video=1))
    with pytest.raises(MetricInputError, match="at least 2 clips"):
        evaluate(gen, data, cfg)
    with pytest.raises(MetricInputError, match="--i3d"):
        EvalConfig(metrics=("fvd",))
    with pytest.raises(MetricInputError, match="unknown metric"):
        EvalConfig(metrics=("fsd",))


def test_command_writes_json_and_markdown(files: dict[str, Path], tmp_path: Path) -> None:
    app = typer.Typer()
    app.command("evaluate")(evaluate_command)
    out = tmp_path / "res" / "row"
    res = CliRunner().invoke(app, ["--generated", str(tmp_path / "shift"), "--dataset", str(files["data"]),
                                   "--metrics", "relsync", "--sync-classifier", str(files["sync"]),
                                   "--write-baseline", "shift", "--no-cache", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "RelSync" in res.output
    data = json.loads(out.with_suffix(".json").read_text())
    assert data["num_clips"] == 6 and 0 < data["metrics"]["relsync"]["mean"] < 100
    assert out.with_suffix(".md").read_text().startswith("| RelSync")
