"""SSF: a learnable per-channel scale and shift after each operation of a frozen ViT.

Lian et al., "Scaling & Shifting Your Features: A New Baseline for Efficient Model
Tuning", NeurIPS 2022 (github.com/dongzelian/SSF, ``models/vision_transformer.py``):
``y = op(x) * gamma + beta`` after the patch projection, ``norm1``, ``attn.qkv``,
``attn.proj``, ``norm2``, ``mlp.fc1``, ``mlp.fc2`` and the final norm. Each of those
operations is affine in its last step, so the scale and shift fold into its weight and
bias (:func:`merge_ssf`), and the merged ViT is the plain timm ViT.

SSF's code trains its scales and shifts, as every 1-D tensor, without weight decay
(``optim_factory.py`` ``param_groups_weight_decay``, commit e94e0e7): the SSF configs'
``optim_wrapper.paramwise_cfg`` (``ssf_paramwise_cfg`` in ``configs/_base_/baselines.py``).
"""
from typing import List

import torch
from torch import Tensor, nn

#: Where SSF acts, as module paths of a timm ViT ('blocks.*' expands to every block).
SSF_SITES = ('patch_embed.proj', 'blocks.*.norm1', 'blocks.*.attn.qkv', 'blocks.*.attn.proj',
             'blocks.*.norm2', 'blocks.*.mlp.fc1', 'blocks.*.mlp.fc2', 'norm')


class ScaleShift(nn.Module):
    """``base_layer(x) * ssf_scale + ssf_shift`` over the channel dimension.

    The channels are the last dimension, or dimension 1 of a convolution's NCHW output.

    Parameters:
        ssf_scale: (C,) SSF's gamma, initialised N(1, 0.02) as SSF's code does.
        ssf_shift: (C,) SSF's beta, initialised N(0, 0.02).
    """

    def __init__(self, base_layer: nn.Module, channels: int) -> None:
        super().__init__()
        self.base_layer = base_layer  # peft's name for the wrapped frozen layer
        self.ssf_scale = nn.Parameter(torch.ones(channels))
        self.ssf_shift = nn.Parameter(torch.zeros(channels))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        with torch.no_grad():
            self.ssf_scale.normal_(1.0, 0.02)
            self.ssf_shift.normal_(0.0, 0.02)

    def forward(self, x: Tensor) -> Tensor:
        out = self.base_layer(x)
        if isinstance(self.base_layer, nn.Conv2d):
            return out * self.ssf_scale[:, None, None] + self.ssf_shift[:, None, None]
        return out * self.ssf_scale + self.ssf_shift

    def merged(self) -> nn.Module:
        """The wrapped layer with gamma and beta folded into its weight and bias."""
        layer = self.base_layer
        scale, shift = self.ssf_scale.detach(), self.ssf_shift.detach()
        with torch.no_grad():
            if isinstance(layer, nn.LayerNorm):
                # LN(x) = n(x) * w + b, so LN(x) * g + s = n(x) * (w g) + (b g + s)
                layer.weight.mul_(scale)
                layer.bias.mul_(scale).add_(shift)
            else:  # Linear (out, in) or Conv2d (out, in, kh, kw): scale the output rows
                layer.weight.mul_(scale.view(-1, *[1] * (layer.weight.dim() - 1)))
                layer.bias.mul_(scale).add_(shift)
        return layer


def _channels(layer: nn.Module, path: str) -> int:
    """The channel count of a layer SSF can fold into, or a ValueError."""
    if getattr(layer, 'bias', None) is not None:  # the shift folds into the bias
        if isinstance(layer, nn.Linear):
            return layer.out_features
        if isinstance(layer, nn.Conv2d):
            return layer.out_channels
        if isinstance(layer, nn.LayerNorm):
            return layer.normalized_shape[-1]
    raise ValueError(f'SSF folds into Linear, Conv2d and affine LayerNorm layers with a '
                     f'bias; {path} of this ViT is a {type(layer).__name__} '
                     f'{"without bias" if hasattr(layer, "bias") else ""}. Use a ViT with '
                     'qkv_bias=True and affine norms, or another method.')


def ssf_site_paths(vit: nn.Module) -> List[str]:
    """The module paths of :data:`SSF_SITES` in ``vit``."""
    paths = []
    for site in SSF_SITES:
        if site.startswith('blocks.*.'):
            paths += [f'blocks.{i}.{site[9:]}' for i in range(len(vit.blocks))]
        else:
            paths.append(site)
    return paths


def _replace(vit: nn.Module, path: str, module: nn.Module) -> None:
    parent, _, name = path.rpartition('.')
    setattr(vit.get_submodule(parent) if parent else vit, name, module)


def add_ssf(vit: nn.Module) -> None:
    """Wrap every SSF site of ``vit`` in a :class:`ScaleShift`."""
    for path in ssf_site_paths(vit):
        layer = vit.get_submodule(path)
        _replace(vit, path, ScaleShift(layer, _channels(layer, path)))


def merge_ssf(vit: nn.Module) -> None:
    """Fold every :class:`ScaleShift` of ``vit`` into its layer, leaving the plain ViT."""
    for path, module in list(vit.named_modules()):
        if isinstance(module, ScaleShift):
            _replace(vit, path, module.merged())
