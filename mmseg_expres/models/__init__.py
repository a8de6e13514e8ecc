"""Registers mmseg-expres models in mmseg's (and mmpretrain's) ``MODELS`` registry."""
from ..utils.env import check_mmcv

check_mmcv()  # one clear message instead of mmseg's assert or a missing ``mmcv._ext``

from .backbones import ExpresViT, PeftViT, VPTViT  # noqa: E402
from .decode_heads import BNHead  # noqa: E402
from .multi_task import ExpresTask, MultiTaskExpres, task_attention_mask  # noqa: E402
# strict loading of task checkpoints into whatever model holds one of the backbones
from . import task_loading  # noqa: E402,F401

__all__ = ['BNHead', 'ExpresViT', 'PeftViT', 'VPTViT', 'ExpresTask', 'MultiTaskExpres', 'task_attention_mask']
