"""Helpers that drive the real tools on generated data with a tiny backbone."""
import os
import os.path as osp
import subprocess
import sys
from pathlib import Path
from typing import List, Optional

import torch

from mmseg_expres.models.backbones import create_timm_vit

from ..conftest import TINY_VIT

REPO = Path(__file__).resolve().parents[2]
ADE_CONFIG = 'expres/expres_vit-b16_upernet_8xb2-80k_ade20k-512x512.py'

# Overrides that shrink a shipped segmentation config to the tiny ViT and a few steps.
TINY_SEG_OVERRIDES = '''
data_root = {data_root!r}
crop_size = {crop_size!r}
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(arch='test_vit', img_size=crop_size, pretrained={pretrained!r},
                  vit_cfg=dict(patch_size=8, embed_dim=32, depth=4, num_heads=2),
                  out_indices={out_indices!r}),
    {head}
)
train_pipeline = [
    dict(type='CheckedLoadImageFromFile'),
    dict(type='CheckedLoadAnnotations', num_classes={{{{_base_.num_classes}}}},
         reduce_zero_label={reduce_zero_label}),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='CheckedLoadAnnotations', num_classes={{{{_base_.num_classes}}}},
         reduce_zero_label={reduce_zero_label}),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(batch_size=2, num_workers={workers}, persistent_workers=False,
                        dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(num_workers=0, persistent_workers=False,
                      dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader
max_iters = {max_iters}
param_scheduler = [dict(type='PolyLR', power=1.0, eta_min=0.0, by_epoch=False, begin=0,
                        end=max_iters)]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(checkpoint=dict(interval={ckpt_interval}), logger=dict(interval=1))
randomness = dict(seed=0)
'''
UPERNET_HEAD = '''neck=dict(in_channels=[32] * 4, out_channels=32),
    decode_head=dict(in_channels=[32] * 4, channels=16, pool_scales=(1, 2)),
    auxiliary_head=dict(in_channels=32, channels=8),'''
LINEAR_HEAD = 'decode_head=dict(in_channels=32, channels=32),'


def write_tiny_vit(path: str, seed: int = 0) -> str:
    """A tiny ViT checkpoint standing in for the pretrained weights."""
    torch.manual_seed(seed)
    vit = create_timm_vit(TINY_VIT['arch'], TINY_VIT['img_size'], TINY_VIT['vit_cfg'])
    torch.save(vit.state_dict(), path)
    return path


def write_tiny_config(path: str, base: str, data_root: str, pretrained: str,
                      crop_size=(32, 32), linear: bool = False, reduce_zero_label=True,
                      max_iters: int = 4, ckpt_interval: int = 2, workers: int = 0,
                      extra: str = '') -> str:
    """A config inheriting the shipped ``configs/<base>`` with tiny overrides."""
    text = f"_base_ = [{str(REPO / 'configs' / base)!r}]\n" + TINY_SEG_OVERRIDES.format(
        data_root=data_root, crop_size=tuple(crop_size), pretrained=pretrained,
        out_indices=(3,) if linear else (0, 1, 2, 3),
        head=LINEAR_HEAD if linear else UPERNET_HEAD, reduce_zero_label=reduce_zero_label,
        max_iters=max_iters, ckpt_interval=ckpt_interval, workers=workers) + extra
    Path(path).write_text(text)
    return path


def run_tool(args: List[str], check: bool = True, env: Optional[dict] = None,
             timeout: int = 300) -> subprocess.CompletedProcess:
    """Run ``args`` (a tool under tools/ and its arguments) as a user would."""
    cmd = [sys.executable] + args if args[0].endswith('.py') else ['bash'] + args
    full_env = dict(os.environ, PYTHON=sys.executable, OMP_NUM_THREADS='1',
                    **(env or {}))
    result = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env=full_env,
                            timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f'{" ".join(cmd)} failed ({result.returncode}):\n'
                             f'{result.stdout[-3000:]}\n{result.stderr[-5000:]}')
    return result


def tool(name: str) -> str:
    return osp.join(str(REPO), 'tools', name)
