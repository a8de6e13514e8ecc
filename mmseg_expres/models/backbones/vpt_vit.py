"""VPTViT: the Visual Prompt Tuning baseline (Jia et al., ECCV 2022) on a frozen timm ViT.

VPT-shallow inserts K learnable prompts once at the input; VPT-deep *replaces* them with
a fresh set of K prompts at the input of every block. Everything else is the frozen ViT,
so this backbone shares ExpresViT's token layout, outputs and freezing rules and differs
only in the prompts: no residual prompts, one prompt set per layer in deep mode.

Prompt dropout as VPT's code applies it (github.com/KMnP/vpt, commit 4410440,
``src/models/vit_prompt/vit.py``, ``PromptedTransformer``): one ``Dropout`` on each prompt
set as it enters the sequence, after it is expanded over the batch (``incorporate_prompt``
for the input set, ``forward_deep_prompt`` for every deep set), active in train mode only.
VPT's VTAB-1k runs use 0.1 for deep (``demo.ipynb``, "the hyperparameters are the same
from our paper") and the default 0.0 (``src/configs/config.py``) for shallow.
"""
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmseg.registry import MODELS
from torch import Tensor, nn

from .arguments import check_vpt_args
from .expres_block import image_rows, output_token_rows
from .expres_prompts import vpt_uniform_bound
from .frozen_vit import FrozenViTBackbone


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
        prompt_dropout: dropout probability on each prompt set while training (VPT's
            ``MODEL.PROMPT.DROPOUT``).
        mode: ``'shallow'`` (prompts at the input only) or ``'deep'`` (replaced at every
            block).
        out_indices: absolute block indices whose patch tokens are returned as NCHW maps.
        readout: if set, append a (B, C) classification feature: ``'cls'`` (VPT's: the
            normed class token), or ``'mean'`` / ``'concat'`` of the normed final prompt
            states of the last block.
        output_tokens: append the normed final prompt states (B, K, d) to the outputs.
        tune_bias: train the ViT's biases too (VPT's "VPT + bias" baseline).
        final_norm: apply the ViT's final LayerNorm to the map of the last block
            (``'all'``: to every map).
        vit_cfg: extra keywords for ``timm.create_model``.
        init_cfg: must be None; the ViT is loaded from ``pretrained`` and never
            re-initialised.
    """

    runs_timm_blocks = True  # drop-path in vit_cfg acts (NOAH's protocol)

    def __init__(self,
                 arch: str = 'vit_base_patch16_224',
                 img_size: Union[int, Tuple[int, int]] = 224,
                 pretrained: Optional[str] = None,
                 num_tokens: int = 50,
                 mode: str = 'deep',
                 out_indices: Sequence[int] = (2, 5, 8, 11),
                 readout: Optional[str] = None,
                 output_tokens: bool = False,
                 final_norm: Union[bool, str] = False,
                 tune_bias: bool = False,
                 prompt_dropout: float = 0.0,
                 vit_cfg: Optional[Dict[str, Any]] = None,
                 init_cfg: Optional[dict] = None) -> None:
        check_vpt_args(num_tokens, mode, readout, prompt_dropout)
        super().__init__(arch, img_size, pretrained, out_indices, final_norm, readout,
                         output_tokens, True, vit_cfg, init_cfg, tune_bias)
        self.num_tokens = num_tokens
        self.mode = mode
        self.prompts = nn.Parameter(
            torch.empty(self.depth if mode == 'deep' else 1, num_tokens, self.embed_dim))
        self.prompt_dropout = nn.Dropout(prompt_dropout)  # trains: it is not in self.vit
        self.finish_setup(f'{mode}, K={num_tokens}, prompt dropout {prompt_dropout}'
                          f'{", ViT biases train" if tune_bias else ""}')

    def init_weights(self) -> None:
        """VPT's Xavier-uniform init of the prompts (:func:`vpt_uniform_bound`).

        Only the prompts: the ViT's own ``init_weights`` would wipe the pretrained weights.
        """
        bound = vpt_uniform_bound(self.vit.patch_embed.patch_size[0], self.embed_dim)
        with torch.no_grad():
            self.prompts.uniform_(-bound, bound)

    def prompt_set(self, layer: int, batch: int) -> Tensor:
        """(B, K, d): the prompts of ``layer`` for a batch, through the prompt dropout.

        Expanded first, as VPT does, so that each image draws its own dropout mask.
        """
        return self.prompt_dropout(self.prompts[layer].expand(batch, -1, -1))

    def forward(self, images: Tensor) -> Tuple[Tensor, ...]:
        """Run the frozen ViT with VPT prompts.

        Args:
            images: (B, 3, H, W).

        Returns:
            ``len(out_indices)`` maps (B, d, H/p, W/p) (prompts stripped), then the normed
            prompt states (B, K, d) if ``output_tokens``, then the (B, C) readout if
            ``readout`` is set.
        """
        return self.forward_with_prompts(images, self.prompt_set)

    def forward_with_prompts(self, images: Tensor,
                             prompt_set: Callable[[int, int], Tensor]) -> Tuple[Tensor, ...]:
        """:meth:`forward` with the prompts that ``prompt_set(layer, batch)`` gives, (B, K, d):
        :meth:`prompt_set` for this backbone's own, or one task's set per sample (a batch
        of several tasks, ``models/multi_task_batch.py``)."""
        x = self.embed_images(images)
        batch, rows, tokens = x.shape[0], image_rows(self.num_tokens), \
            output_token_rows(self.num_tokens)
        z = torch.cat([x, prompt_set(0, batch)], dim=1)
        image_states: List[Tensor] = []
        for index, block in enumerate(self.vit.blocks):
            if self.mode == 'deep' and index > 0:
                # deep VPT discards the previous block's prompt outputs (replace, not add)
                z = torch.cat([z[:, rows], prompt_set(index, batch)], dim=1)
            z = block(z)
            if index in self.out_indices:
                image_states.append(z[:, rows])
        return self.assemble_outputs(image_states, images, z[:, rows], z[:, tokens])
