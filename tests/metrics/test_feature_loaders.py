"""The I3D, Inception and ImageBind loaders accept files in the official layouts (random weights)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from asva.audio.config import ImageBindAudioConfig
from asva.audio.imagebind import ImageBindAudioEncoder
from asva.checkpoints.official import CheckpointError, KeyMismatchError
from asva.metrics.i3d import i3d_features, load_i3d
from asva.metrics.imagebind_load import load_imagebind
from asva.metrics.imagebind_score import audio_embeddings, frame_embeddings, frame_similarity
from asva.metrics.imagebind_text import ImageBindTextConfig, ImageBindTextEncoder
from asva.metrics.imagebind_vision import ImageBindVisionConfig, ImageBindVisionEncoder
from asva.metrics.inception import FIDInceptionV3, fid_features, load_fid_inception

# FACTS §1: ImageBind-huge vision and text towers as stored.
VISION_PARAMS, TEXT_PARAMS = 632_829_440, 354_032_641


class _FakeI3D(nn.Module):
    """Same call signature as StyleGAN-V's i3d_torchscript.pt."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(3, 400)

    def forward(self, x: torch.Tensor, rescale: bool = False, resize: bool = False,
                return_features: bool = False) -> torch.Tensor:
        feats = self.proj(x.mean(dim=(2, 3, 4)))  # (B, 400)
        return feats if return_features else feats.softmax(-1)


# torch.jit is deprecated, but the released detector is TorchScript
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_i3d_torchscript_loads_and_is_called_as_asva_does(tmp_path: Path) -> None:
    path = tmp_path / "i3d_torchscript.pt"
    torch.jit.script(_FakeI3D()).save(str(path))
    net = load_i3d(path)
    feats = i3d_features(net, torch.rand(2, 3, 12, 64, 64) * 2 - 1)
    assert feats.shape == (2, 400)
    (tmp_path / "bad.pt").write_bytes(b"not torchscript")
    with pytest.raises(CheckpointError, match="TorchScript"):
        load_i3d(tmp_path / "bad.pt")


def test_fid_inception_loads_pytorch_fid_layout(tmp_path: Path) -> None:
    model = FIDInceptionV3()
    # The released file predates BatchNorm's counters: leave them out, as it does.
    state = {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    assert "Mixed_7c.branch3x3dbl_3b.bn.running_var" in state and state["fc.weight"].shape == (1008, 2048)
    torch.save(state, tmp_path / "pt_inception-2015-12-05-6726825d.pth")
    loaded = load_fid_inception(tmp_path / "pt_inception-2015-12-05-6726825d.pth")
    assert fid_features(loaded, torch.rand(1, 3, 64, 64) * 2 - 1).shape == (1, 2048)
    state["Mixed_5b.branch_pool.conv.weightx"] = state.pop("Mixed_5b.branch_pool.conv.weight")
    torch.save(state, tmp_path / "bad.pth")
    with pytest.raises(KeyMismatchError, match=r"Mixed_5b\.branch_pool\.conv\.weight"):
        load_fid_inception(tmp_path / "bad.pth")


def test_imagebind_full_size_towers_have_official_sizes() -> None:
    with torch.device("meta"):
        vision, text = ImageBindVisionEncoder(), ImageBindTextEncoder()
    assert sum(p.numel() for p in vision.parameters()) == VISION_PARAMS
    assert sum(p.numel() for p in text.parameters()) == TEXT_PARAMS
    keys = set(vision.state_dict())
    stem = "modality_preprocessors.vision.rgbt_stem.proj.1.weight"
    assert {stem, "modality_trunks.vision.pre_transformer_layer.0.weight", "modality_heads.vision.2.weight",
            "modality_trunks.vision.blocks.31.attn.in_proj_weight"} <= keys
    assert vision.state_dict()[stem].shape == (1280, 3, 2, 14, 14)
    assert "modality_postprocessors.text.1.log_logit_scale" in text.state_dict()


# Test-sized towers: same classes and key names as imagebind_huge, fewer and narrower blocks.
V_CFG = ImageBindVisionConfig(embed_dim=32, num_blocks=2, num_heads=4, out_embed_dim=16, image_size=224)
A_CFG = ImageBindAudioConfig(embed_dim=32, num_blocks=2, num_heads=4, out_embed_dim=16)
T_CFG = ImageBindTextConfig(embed_dim=32, num_blocks=2, num_heads=4, out_embed_dim=16, vocab_size=600)


def test_imagebind_file_loads_strictly_and_ignores_other_modalities(tmp_path: Path) -> None:
    torch.manual_seed(0)
    towers = [ImageBindVisionEncoder(V_CFG), ImageBindAudioEncoder(A_CFG), ImageBindTextEncoder(T_CFG)]
    state = {k: v for t in towers for k, v in t.state_dict().items()}
    state["modality_trunks.depth.blocks.0.norm_1.weight"] = torch.ones(4)  # another modality: ignored
    torch.save(state, tmp_path / "imagebind_huge.pth")
    loaded = load_imagebind(tmp_path / "imagebind_huge.pth", vision=V_CFG, audio=A_CFG, text=T_CFG)
    video = torch.rand(2, 3, 3, 48, 48) * 2 - 1
    frames = frame_embeddings(loaded.vision, video)  # (2, 3, 16)
    assert frames.shape == (2, 3, 16)
    assert torch.allclose(frames, frame_embeddings(towers[0].eval(), video), atol=1e-6)
    audio = audio_embeddings(loaded.audio, torch.randn(2, 1, 128, 204))
    assert torch.allclose(audio.norm(dim=-1), torch.ones(2), atol=1e-5)
    ia = frame_similarity(frames, audio)
    assert ia.shape == (2, 3) and (ia.abs() <= 1 + 1e-6).all()
    tokens = torch.zeros(2, 77, dtype=torch.long)
    tokens[:, 0], tokens[:, 1], tokens[0, 2] = 598, 5, 599  # SOT, a word, EOT (largest id)
    assert loaded.text(tokens).shape == (2, 16)

    del state["modality_heads.vision.2.weight"]
    torch.save(state, tmp_path / "bad.pth")
    with pytest.raises(KeyMismatchError, match=r"modality_heads\.vision\.2\.weight"):
        load_imagebind(tmp_path / "bad.pth", ("vision",), vision=V_CFG)
    with pytest.raises(CheckpointError, match="no text entries"):
        torch.save({k: v for k, v in state.items() if ".text." not in k}, tmp_path / "notext.pth")
        load_imagebind(tmp_path / "notext.pth", ("text",), text=T_CFG)
