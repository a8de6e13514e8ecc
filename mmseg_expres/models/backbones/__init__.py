from .expres_vit import ExpresViT
from .frozen_vit import FrozenViTBackbone, create_timm_vit
from .peft_vit import PeftViT
from .vit_weights import CheckpointMismatchError, load_vit_weights
from .vpt_vit import VPTViT

__all__ = ['ExpresViT', 'FrozenViTBackbone', 'PeftViT', 'VPTViT', 'create_timm_vit',
           'CheckpointMismatchError', 'load_vit_weights']
