"""Demo-sized models with task checkpoints for the inference tests, written in seconds.

The demo configs' models (the README demo's EXPRES UperNet, the few-shot demo's
prototype segmentor) on a random ViT file, saved as ``TaskCheckpointHook`` saves them.
``constant_class`` makes the head predict one class everywhere (zero weights, one
bias), so a test knows which colour every pixel must get.
"""
from pathlib import Path
from typing import Optional, Tuple

import torch
from mmengine.config import Config

from mmseg_expres.apis import init_model
from mmseg_expres.engine.task_checkpoint_hook import strip_frozen
from mmseg_expres.models.backbones import create_timm_vit

from .seg_runs import REPO

DEMO_SEG = str(REPO / 'configs' / 'demo' / 'expres_vit-demo_ade20k.py')
DEMO_FEWSHOT = str(REPO / 'configs' / 'demo' /
                   'expres_vit-demo_proto_1xb4-400it_pascal5i-480x480.py')
FEWSHOT_META = dict(classes=('background', 'foreground'), palette=[[0, 0, 0], [255, 64, 64]])


def ade_meta() -> dict:
    from mmseg.datasets import ADE20KDataset
    return dict(classes=ADE20KDataset.METAINFO['classes'],
                palette=ADE20KDataset.METAINFO['palette'])


def _last_conv(model: torch.nn.Module) -> torch.nn.Conv2d:
    head = model.decode_head
    return head.conv_seg if hasattr(head, 'conv_seg') else head.decoder[-1]


def write_demo_model(folder: Path, base: str, dataset_meta: dict,
                     constant_class: Optional[int] = None,
                     vit_seed: int = 0) -> Tuple[str, str]:
    """A config (``base`` on a random ViT written here) and a task checkpoint."""
    folder.mkdir(parents=True, exist_ok=True)
    backbone = Config.fromfile(base).model.backbone
    torch.manual_seed(vit_seed)
    vit = create_timm_vit(backbone.arch, backbone.img_size, backbone.vit_cfg)
    torch.save(vit.state_dict(), folder / 'vit.pth')
    config = folder / 'config.py'
    config.write_text(f'_base_ = [{base!r}]\n'
                      f"model = dict(backbone=dict(pretrained={str(folder / 'vit.pth')!r}))\n")
    torch.manual_seed(1)
    model = init_model(str(config))
    if constant_class is not None:
        conv = _last_conv(model)
        with torch.no_grad():
            conv.weight.zero_()
            conv.bias.zero_()
            conv.bias[constant_class] = 10.0
    checkpoint = folder / 'task.pth'
    torch.save(dict(meta=dict(dataset_meta=dataset_meta, task_checkpoint=True),
                    state_dict=strip_frozen(model.state_dict(), model)), checkpoint)
    return str(config), str(checkpoint)
