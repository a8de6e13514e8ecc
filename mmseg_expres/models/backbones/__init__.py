from .expres_vit import ExpresViT, create_timm_vit
from .vit_weights import CheckpointMismatchError, load_vit_weights
from .vpt_vit import VPTViT

__all__ = ['ExpresViT', 'create_timm_vit', 'CheckpointMismatchError', 'load_vit_weights',
           'VPTViT']
