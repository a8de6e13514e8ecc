"""VPTViT: the Visual Prompt Tuning baseline (Jia et al., ECCV 2022) on a frozen timm ViT.

VPT-shallow inserts K learnable prompts once at the input; VPT-deep *replaces* them with
a fresh set of K prompts at the input of every block. Everything else is the frozen ViT,
so this backbone shares ExpresViT's token layout, outputs and freezing rules and differs
only in the prompts: no residual prompts, one prompt set per layer in deep mode.
"""
import math
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmseg.registry import MODELS
from torch import Tensor, nn

from .expres_block import image_rows, output_token_rows
from .frozen_vit import FrozenViTBackbone, readout_feature

VPT_MODES = ('shallow', 'deep')
VPT_READOUTS = ('cls', 'mean')


@MODELS.register_module()
class VPTViT(FrozenViTBackbone):
    """Frozen timm ViT + VPT prompts, with the same outputs as :class:`ExpresViT`.

    Sequence at the input of block ``l``: ``[x_cls; e_1..e_N; p^l_1..p^l_K]``. VPT places
    the prompts between the class token and the patches; attention is permutation
    equivariant and prompts carry no position embedding, so putting them last (as
    ExpresViT does) computes the same function and lets both share the row helpers.

    Parameters:
        prompts: (L_p, K, d) with ``L_p = 1`` (shallow) or the ViT depth (deep);
            ``K * d * L_p`` trainable numbers in all.

    Args:
        arch: timm model name, e.g. ``'vit_base_patch16_224'``.
        img_size: input size (or (H, W)) the position embeddings are laid out for.
        pretrained: path of the pretrained ViT weights, or None for random weights.
        num_tokens: K, prompts per layer.
        mode: ``'shallow'`` (prompts at the input only) or ``'deep'`` (replaced at every
            block).
        out_indices: absolute block indices whose patch tokens are returned as NCHW maps.
        readout: if set, append a (B, d) classification feature: ``'cls'`` (VPT's: the
            normed class token) or ``'mean'`` (mean of the normed final prompt states).
        final_norm: apply the ViT's final LayerNorm to the map of the last block.
        vit_cfg: extra keywords for ``timm.create_model``.
        init_cfg: must be None; the ViT is loaded from ``pretrained`` and never
            re-initialised.
    """

    def __init__(self,
                 arch: str = 'vit_base_patch16_224',
                 img_size: Union[int, Tuple[int, int]] = 224,
                 pretrained: Optional[str] = None,
                 num_tokens: int = 50,
                 mode: str = 'deep',
                 out_indices: Sequence[int] = (2, 5, 8, 11),
                 readout: Optional[str] = None,
                 final_norm: bool = False,
                 vit_cfg: Optional[Dict[str, Any]] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if mode not in VPT_MODES:
            raise ValueError(f'mode must be one of {VPT_MODES}, got {mode!r}.')
        if readout is not None and readout not in VPT_READOUTS:
            raise ValueError(f'readout must be one of {VPT_READOUTS} or None, got {readout!r}.')
        if not isinstance(num_tokens, int) or num_tokens < 1:
            raise ValueError(f'num_tokens must be an integer >= 1, got {num_tokens!r}; '
                             'use ExpresViT(num_tokens=0) for the linear probe.')
        super().__init__(arch, img_size, pretrained, out_indices, final_norm, True,
                         vit_cfg, init_cfg)
        self.num_tokens = num_tokens
        self.mode = mode
        self.readout = readout
        self.prompts = nn.Parameter(
            torch.empty(self.depth if mode == 'deep' else 1, num_tokens, self.embed_dim))
        self.finish_setup(f'{mode}, K={num_tokens}')

    def init_weights(self) -> None:
        """VPT's Xavier-uniform init of the prompts, bound ``sqrt(6 / (3*p*p + d))``.

        Only the prompts: the ViT's own ``init_weights`` would wipe the pretrained weights.
        """
        patch = self.vit.patch_embed.patch_size[0]
        bound = math.sqrt(6.0 / (3 * patch * patch + self.embed_dim))
        with torch.no_grad():
            self.prompts.uniform_(-bound, bound)

    def forward(self, images: Tensor) -> Tuple[Tensor, ...]:
        """Run the frozen ViT with VPT prompts.

        Args:
            images: (B, 3, H, W).

        Returns:
            ``len(out_indices)`` maps (B, d, H/p, W/p) (prompts stripped), then the (B, d)
            readout if ``readout`` is set.
        """
        vit = self.vit
        x = self.embed_images(images)
        batch, rows, tokens = x.shape[0], image_rows(self.num_tokens), \
            output_token_rows(self.num_tokens)
        z = torch.cat([x, self.prompts[0].expand(batch, -1, -1)], dim=1)
        image_states: List[Tensor] = []
        for index, block in enumerate(vit.blocks):
            if self.mode == 'deep' and index > 0:
                # deep VPT discards the previous block's prompt outputs (replace, not add)
                z = torch.cat([z[:, rows], self.prompts[index].expand(batch, -1, -1)], dim=1)
            z = block(z)
            if index in self.out_indices:
                image_states.append(z[:, rows])
        outs: List[Tensor] = self.image_maps(image_states, images)
        if self.readout is not None:
            outs.append(readout_feature(self.readout, z[:, tokens], z[:, rows], vit.norm))
        return tuple(outs)
