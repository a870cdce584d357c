"""The descriptor network (DINOv2 backbone, pooled token, linear projection, L2) and its saved layout."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

DEFAULT_INIT = "var/models/dinov2-s14"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
POOLINGS = ("cls", "cls_mean")


class DescriptorNet(nn.Module):
    """Backbone → pooled token → Linear(hidden, dim) → L2 normalisation."""

    def __init__(self, backbone: nn.Module, dim: int = 256, pooling: str = "cls"):
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}")
        self.backbone = backbone
        self.pooling = pooling
        self.projection = nn.Linear(backbone.config.hidden_size, dim)

    def pool(self, pixel_values: torch.Tensor) -> torch.Tensor:
        tokens = self.backbone(pixel_values=pixel_values).last_hidden_state
        if self.pooling == "cls":
            return tokens[:, 0]
        return 0.5 * (tokens[:, 0] + tokens[:, 1:].mean(dim=1))

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.projection(self.pool(pixel_values)).float(), dim=-1)


INT8_FILE = "model_int8.safetensors"
SCALE_SUFFIX = ".__scale"


def backbone_load(init: str | Path) -> nn.Module:
    """Dinov2Model in fp32 from a save_pretrained folder, or from an int8 pack made by init_pack."""
    from transformers import Dinov2Config, Dinov2Model

    init = Path(init)
    if not (init / "config.json").is_file():
        raise FileNotFoundError(
            f"no transformers checkpoint at {init}: run `python manage.py setup_vit` (makes {DEFAULT_INIT}) "
            "or pass --init DIR"
        )
    if (init / INT8_FILE).is_file():
        from safetensors.torch import load_file

        packed = load_file(str(init / INT8_FILE))
        state = {}
        for name, t in packed.items():
            if name.endswith(SCALE_SUFFIX):
                continue
            scale = packed.get(name + SCALE_SUFFIX)
            state[name] = t.float() * scale.view(-1, *([1] * (t.ndim - 1))) if scale is not None else t.float()
        model = Dinov2Model(Dinov2Config.from_pretrained(str(init)))
        missing, unexpected = model.load_state_dict(state, strict=False)
        if unexpected or [m for m in missing if "mask_token" not in m]:
            raise ValueError(f"{init}: int8 pack does not fit the config ({missing}, {unexpected})")
        return model.float()
    return Dinov2Model.from_pretrained(str(init), dtype=torch.float32)


def init_pack(src: str | Path, dst: str | Path, *, int8: bool = True) -> Path:
    """A small copy of a start checkpoint to carry to the GPU machine: matrices as int8 with one fp32
    scale per output row (ViT-S: 22 MB instead of 88), the rest fp16. Round-off ~0.4 % of each row's
    largest weight; fine-tuning starts from it as from the original."""
    from safetensors.torch import save_file

    src, dst = Path(src), Path(dst)
    dst.mkdir(parents=True, exist_ok=True)
    model = backbone_load(src)
    packed = {}
    for name, t in model.state_dict().items():
        t = t.detach().float()
        if int8 and t.ndim >= 2:
            rows = t.reshape(t.shape[0], -1)
            scale = rows.abs().amax(dim=1).clamp(min=1e-12) / 127
            packed[name] = torch.round(rows / scale[:, None]).to(torch.int8).reshape(t.shape).contiguous()
            packed[name + SCALE_SUFFIX] = scale.contiguous()
        else:
            packed[name] = t.half().contiguous()
    save_file(packed, str(dst / INT8_FILE))
    model.config.save_pretrained(str(dst))
    if (src / "preprocessor_config.json").is_file():
        shutil.copy(src / "preprocessor_config.json", dst / "preprocessor_config.json")
    return dst


def normalisation_of(init: str | Path) -> tuple[tuple[float, ...], tuple[float, ...]]:
    path = Path(init) / "preprocessor_config.json"
    if path.is_file():
        cfg = json.loads(path.read_text())
        if "image_mean" in cfg and "image_std" in cfg:
            return tuple(cfg["image_mean"]), tuple(cfg["image_std"])
    return IMAGENET_MEAN, IMAGENET_STD


# --- losses --------------------------------------------------------------------------------------


def model_save(net: DescriptorNet, out: Path, *, name: str, image_size: int, mean, std) -> str:
    """Writes the inference files; returns the version string ("<name>-<8 hex of the weights>")."""
    from safetensors.torch import save_file
    from transformers import BitImageProcessor

    out.mkdir(parents=True, exist_ok=True)
    backbone = net.backbone
    state = {k: v.detach().to("cpu", torch.float16).contiguous() for k, v in backbone.state_dict().items()}
    backbone.save_pretrained(str(out), state_dict=state, safe_serialization=True)
    config_path = out / "config.json"
    config = json.loads(config_path.read_text())
    config["dtype"] = "float32"  # weights are stored in fp16; load them upcast unless asked otherwise
    config["image_size"] = image_size
    config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    BitImageProcessor(
        do_resize=True,
        size={"height": image_size, "width": image_size},
        resample=2,  # bilinear, as the training crops
        do_center_crop=False,
        crop_size={"height": image_size, "width": image_size},
        do_rescale=True,
        do_normalize=True,
        image_mean=list(mean),
        image_std=list(std),
        do_convert_rgb=True,
    ).save_pretrained(str(out))
    proj = net.projection
    save_file(
        {
            "weight": proj.weight.detach().float().cpu().contiguous(),
            "bias": proj.bias.detach().float().cpu().contiguous(),
        },
        str(out / "projection.safetensors"),
    )
    digest = hashlib.sha256()
    for f in sorted(out.glob("*.safetensors")):
        with f.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    version = f"{name}-{digest.hexdigest()[:8]}"
    (out / "descriptor.json").write_text(
        json.dumps(
            {"pooling": net.pooling, "image_size": image_size, "version": version, "dim": proj.out_features}, indent=2
        )
        + "\n"
    )
    return version


def model_load(out: Path | str, device: torch.device | str = "cpu") -> tuple[DescriptorNet, dict]:
    """Reads the saved layout back (fp32) — what the `vit` descriptor does — for evaluation and tests."""
    from safetensors.torch import load_file
    from transformers import Dinov2Model

    out = Path(out)
    meta = json.loads((out / "descriptor.json").read_text())
    backbone = Dinov2Model.from_pretrained(str(out), dtype=torch.float32)
    proj = load_file(str(out / "projection.safetensors"))
    net = DescriptorNet(backbone, dim=proj["weight"].shape[0], pooling=meta["pooling"])
    net.projection.load_state_dict(proj)
    return net.to(device).eval(), meta


# --- benchmark ---------------------------------------------------------------------------------------
