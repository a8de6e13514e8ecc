"""The module that is exported: a segmentor at one input size, preprocessing included.

:class:`StaticSegmentor` takes what a deployment has, a uint8 (1, H, W, 3) image in a
stated channel order, applies the config's ``SegDataPreProcessor`` (channel flip, mean,
std) inside the graph, runs mmseg's whole-image inference and returns the class map
(and the logits). :func:`fix_vit_input_size` resamples each ViT's position embedding
once, at the export size, so that the graph holds no bicubic resize (timm resamples on
every forward, which onnxruntime refuses in some modes).
"""
import copy
from typing import List, Tuple

import torch
from torch import Tensor, nn

from ..models.backbones import FrozenViTBackbone


def vit_backbones(model: nn.Module) -> List[Tuple[str, FrozenViTBackbone]]:
    """(name, module) of the frozen-ViT backbones in ``model``."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, FrozenViTBackbone)]


def patch_sizes(model: nn.Module) -> List[int]:
    """The patch sizes of the model's ViTs (an input side must be a multiple of each)."""
    sizes = []
    for _, backbone in vit_backbones(model):
        sizes += list(backbone.vit.patch_embed.patch_size)
    return sorted(set(sizes))


def fix_vit_input_size(vit: nn.Module, shape: Tuple[int, int]) -> None:
    """Make a timm ViT a fixed-size one at ``shape`` (H, W), computing what it computed.

    The position embedding is resampled here by the call timm makes on every forward
    (``resample_abs_pos_embed``, same arguments), so the numbers are the same; the
    patch embedding then returns tokens (NLC) and ``_pos_embed`` adds the stored table.
    """
    from timm.layers import resample_abs_pos_embed
    patch = vit.patch_embed.patch_size
    grid = (shape[0] // patch[0], shape[1] // patch[1])
    with torch.no_grad():
        table = resample_abs_pos_embed(
            vit.pos_embed, new_size=grid, old_size=vit.patch_embed.grid_size,
            num_prefix_tokens=0 if vit.no_embed_class else vit.num_prefix_tokens)
    vit.pos_embed = nn.Parameter(table.clone(), requires_grad=False)
    embed = vit.patch_embed
    embed.img_size, embed.grid_size = tuple(shape), grid
    embed.num_patches = grid[0] * grid[1]
    embed.flatten, embed.strict_img_size = True, True
    vit.dynamic_img_size = False


class StaticSegmentor(nn.Module):
    """A copy of an mmseg ``EncoderDecoder`` at one input size, for export.

    Args:
        segmentor: the model from ``init_model`` (not modified: a copy is taken).
        shape: (H, W), multiples of the patch size.
        channels: ``'RGB'`` or ``'BGR'``, the order of the input image's channels.
        logits: also return the (1, C, H, W) logits.
    """

    def __init__(self, segmentor: nn.Module, shape: Tuple[int, int], channels: str,
                 logits: bool) -> None:
        super().__init__()
        self.segmentor = copy.deepcopy(segmentor).eval()
        for _, backbone in vit_backbones(self.segmentor):
            fix_vit_input_size(backbone.vit, shape)
        pre = self.segmentor.data_preprocessor
        # mmseg's pipelines load BGR; the preprocessor flips them if it converts
        self.flip = (channels == 'RGB') != bool(pre.channel_conversion)
        self.normalize = bool(pre._enable_normalize)
        if self.normalize:
            self.register_buffer('mean', pre.mean.detach().clone().view(1, 3, 1, 1))
            self.register_buffer('std', pre.std.detach().clone().view(1, 3, 1, 1))
        self.metas = [dict(img_shape=tuple(shape), ori_shape=tuple(shape),
                           pad_shape=tuple(shape))]
        self.logits = logits

    def forward(self, image: Tensor):
        """(1, H, W, 3) uint8 -> (1, H, W) int64 classes[, (1, C, H, W) logits]."""
        x = image.permute(0, 3, 1, 2).float()
        if self.flip:
            x = x.flip(1)
        if self.normalize:
            x = (x - self.mean) / self.std
        logits = self.segmentor.encode_decode(x, self.metas)
        classes = logits.argmax(dim=1)
        return (classes, logits) if self.logits else classes
