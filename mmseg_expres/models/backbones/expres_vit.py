"""ExpresViT: a frozen timm Vision Transformer with EXPRES prompts (CVPR 2023)."""
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmseg.registry import MODELS
from torch import Tensor
from torch.utils.checkpoint import checkpoint

from .arguments import DEFAULT_SITES, check_expres_args
from .expres_block import (NO_RESIDUALS, expres_block, image_rows, joint_attention,
                           keys_values, one_way_blocks_together, one_way_mask,
                           output_token_rows)
from .expres_prompts import ExpresPrompts
from .frozen_vit import FrozenViTBackbone, check_block_indices

#: The ways :meth:`ExpresViT.forward` can run the blocks (:func:`choose_forward_path`).
FORWARD_PATHS = ('joint', 'one_way_split', 'one_way_together')


def choose_forward_path(visibility: str, one_way_impl: str, num_tokens: int,
                        constant_images: bool, grad_enabled: bool,
                        residual_scope: str = 'tokens') -> str:
    """Which way :class:`ExpresViT` runs its blocks; all of them give the same numbers.

    * ``'one_way_split'`` (method section 4): one-way training with ``one_way_impl``
      ``'split'``: the image rows run without autograd, the token rows with it.
    * ``'one_way_together'``: the same without autograd (inference): all rows through
      each layer together, only the attention split.
    * ``'joint'``: everything else: full visibility, ``one_way_impl='masked'``, no
      output tokens, residuals on every row (``residual_scope='all'``: the image rows
      are no longer the frozen ViT's), or images whose gradient is wanted (saliency
      maps, attacks), which the split paths would drop.

    Args:
        constant_images: the image rows need no gradient (a frozen ViT and images
            without ``requires_grad``).
        grad_enabled: ``torch.is_grad_enabled()``.
    """
    if (visibility == 'one_way' and one_way_impl == 'split' and num_tokens > 0
            and constant_images and residual_scope == 'tokens'):
        return 'one_way_split' if grad_enabled else 'one_way_together'
    return 'joint'


@MODELS.register_module()
class ExpresViT(FrozenViTBackbone):
    """EXPRES backbone: frozen timm ViT + output tokens + residual prompts.

    Sequence at the input of block 1: ``[x_cls; e_1..e_N; p_1..p_K]`` (method section 2).
    Residual prompts are added to the output-token rows at the chosen sites of the chosen
    blocks. Only ``prompts`` is trainable; the ViT is frozen, stays in eval mode, and is
    never re-initialised by ``init_weights``.

    Args:
        arch: timm model name, e.g. ``'vit_base_patch16_224'`` or ``'test_vit'``.
        img_size: input size the position embeddings are resampled to at load time.
        pretrained: path of the pretrained ViT weights (.pth/.safetensors/.npz, timm or
            mmseg layout), or None for random weights.
        num_tokens: K, the number of output tokens (0 gives the plain frozen ViT).
        residual_sites: sites that get residual prompts, from
            ``('ln', 'q', 'k', 'v', 'proj', 'ln2', 'mlp')``.
        residual_layers: absolute block indices with residual prompts; None means all.
        visibility: ``'full'`` (every token sees every token; segmentation) or
            ``'one_way'`` (image rows do not see output tokens; classification). With
            K > 0, one-way needs an output that reads the tokens (``readout`` ``'mean'``
            or ``'concat'``, or ``output_tokens``): maps and ``'cls'`` read image rows,
            which the prompts then never reach (a ValueError says so).
        one_way_impl: ``'split'`` runs the image path without autograd and only the K
            token rows with gradients (method section 4); without autograd (inference)
            it runs all rows through each layer together and splits only the attention.
            ``'masked'`` is the joint computation with an attention mask, kept as the
            reference, and taken by ``'split'`` too when the images require grad.
        token_init: ``'xavier'`` (VPT's init), ``'cls'`` (class-token copy + noise) or
            ``'patch_mean'`` (the mean patch token of a data-set-mean image + noise:
            :meth:`patch_mean_token`).
        residual_scope: ``'tokens'``: one residual vector per output token, layer and
            site, added to the output-token rows (method section 2); ``'all'``: one
            vector per layer and site, added to that computation's output for every row
            (the other reading of the paper's Fig. 2). With ``'all'`` the image rows
            change, so every visibility runs the joint path.
        residual_init: ``'zeros'`` or ``'xavier'`` (VPT's uniform bound) residuals.
        out_indices: absolute block indices whose patch tokens are returned as NCHW maps.
        output_tokens: append the final normed output tokens (B, K, d) to the outputs.
        readout: if set, append a (B, C) classification feature of the normed output
            tokens: ``'mean'`` (B, d), ``'concat'`` (B, K*d) or ``'cls'`` (B, d).
        final_norm: apply the ViT's final LayerNorm to the map of the last block
            (``'all'``: to every map).
        frozen: keep the ViT frozen (False only for the fine-tuning baseline).
        tune_bias: train the ViT's biases too (BitFit; VPT's "bias" baselines). The image
            rows then need gradients, so one-way visibility takes the joint (masked) path.
        with_cp: activation checkpointing of each block (saves memory in full mode).
        vit_cfg: extra keywords for ``timm.create_model``.
        init_cfg: MMEngine init config; must not touch the ViT, so only None is accepted.
    """

    def __init__(self,
                 arch: str = 'vit_base_patch16_224',
                 img_size: Union[int, Tuple[int, int]] = 224,
                 pretrained: Optional[str] = None,
                 num_tokens: int = 5,
                 residual_sites: Sequence[str] = DEFAULT_SITES,
                 residual_layers: Optional[Sequence[int]] = None,
                 visibility: str = 'full',
                 one_way_impl: str = 'split',
                 token_init: str = 'xavier',
                 out_indices: Sequence[int] = (2, 5, 8, 11),
                 output_tokens: bool = False,
                 readout: Optional[str] = None,
                 final_norm: Union[bool, str] = False,
                 frozen: bool = True,
                 with_cp: bool = False,
                 tune_bias: bool = False,
                 vit_cfg: Optional[Dict[str, Any]] = None,
                 init_cfg: Optional[dict] = None,
                 residual_scope: str = 'tokens',
                 residual_init: str = 'zeros') -> None:
        check_expres_args(num_tokens, residual_sites, visibility, one_way_impl, token_init,
                          readout, output_tokens, frozen, tune_bias, residual_scope,
                          residual_init)
        super().__init__(arch, img_size, pretrained, out_indices, final_norm, readout,
                         output_tokens, frozen, vit_cfg, init_cfg, tune_bias)
        layers = tuple(range(self.depth)) if residual_layers is None else \
            check_block_indices('residual_layers', residual_layers, self.depth)
        self.num_tokens = num_tokens
        self.visibility = visibility
        self.one_way_impl = one_way_impl
        self.with_cp = with_cp
        self.prompts = ExpresPrompts(
            num_tokens, self.embed_dim, tuple(residual_sites) if num_tokens else (), layers,
            token_init, self.vit.patch_embed.patch_size[0], residual_scope, residual_init)
        if not num_tokens:
            # embed() skips the empty (0, d) tokens; left trainable, DDP would wait for
            # a gradient that never comes
            self.prompts.requires_grad_(False)
        self.finish_setup(f'K={num_tokens}, sites={self.prompts.sites}, '
                          f'{len(layers)} residual layers ({residual_scope} rows), '
                          f'{visibility}'
                          f'{", ViT biases train" if tune_bias else ""}')

    # ------------------------------------------------------------------ set-up
    def init_weights(self) -> None:
        """Initialise the prompts only.

        The ViT's own ``init_weights`` would re-randomise the pretrained weights, so it is
        never called (this override does not recurse into ``self.vit``).
        """
        self.prompts.reset_parameters(cls_token=self.vit.cls_token,
                                      patch_mean=self.patch_mean_token())

    def patch_mean_token(self) -> Tensor:
        """(d,) the mean of the pretrained patch tokens (position embedding included) of
        an image at the data set's mean, i.e. zero after normalisation: the patch
        embedding's bias plus the mean patch position embedding, what a token would be
        on an average image (``token_init='patch_mean'``)."""
        size = self.vit.patch_embed.img_size
        with torch.no_grad():
            zeros = self.vit.patch_embed.proj.weight.new_zeros(1, 3, *size)
            patches = self.embed_images(zeros)[:, self.vit.num_prefix_tokens:]
        return patches.mean(dim=(0, 1))

    # ---------------------------------------------------------------- forward
    def embed(self, images: Tensor) -> Tensor:
        """Token assembly: ``[x_cls; e_1..e_N; p_1..p_K]`` (output tokens last, no pos embed).

        Args:
            images: (B, 3, H, W).

        Returns:
            (B, P + N + K, d) with P prefix tokens, N patches and K output tokens.
        """
        x = self.embed_images(images)
        if not self.num_tokens:
            # the empty (0, d) token parameter requires grad and would pull the whole
            # frozen ViT into autograd (linear probe: all activations saved, full backward)
            return x
        tokens = self.vit.norm_pre(self.prompts.tokens).expand(x.shape[0], -1, -1)
        return torch.cat([x, tokens], dim=1)

    def forward(self, images: Tensor) -> Tuple[Tensor, ...]:
        """Run the ViT with EXPRES prompts.

        Args:
            images: (B, 3, H, W).

        Returns:
            ``len(out_indices)`` maps (B, d, H/p, W/p), then the normed output tokens
            (B, K, d) if ``output_tokens``, then the (B, C) readout if ``readout``.
        """
        z = self.embed(images)
        path = self.forward_path(images)
        if path == 'one_way_split':
            image_states, final_image, tokens = self._forward_one_way_split(z)
        elif path == 'one_way_together':
            image_states, final_image, tokens = self._forward_one_way_together(z)
        else:
            image_states, final_image, tokens = self._forward_joint(
                z, self._constant_images(images) and torch.is_grad_enabled())
        return self.assemble_outputs(image_states, images, final_image, tokens)

    def forward_path(self, images: Tensor) -> str:
        """The path :meth:`forward` takes for ``images`` now (:func:`choose_forward_path`)."""
        return choose_forward_path(self.visibility, self.one_way_impl, self.num_tokens,
                                   self._constant_images(images), torch.is_grad_enabled(),
                                   self.prompts.residual_scope)

    def _constant_images(self, images: Tensor) -> bool:
        """Whether the image rows need no gradient: no ViT tensor trains, and the images
        do not want one."""
        return not self.vit_trains and not images.requires_grad

    def _forward_joint(self, z: Tensor,
                       constant_images: bool) -> Tuple[List[Tensor], Tensor, Optional[Tensor]]:
        """All rows together: full visibility, or one-way through an attention mask.

        ``constant_images``: the image rows of ``z`` need no gradient (frozen ViT, images
        without ``requires_grad``), so block 1 builds a graph for the token rows only.
        """
        mask = None
        if self.visibility == 'one_way' and self.num_tokens:
            mask = one_way_mask(z.shape[1] - self.num_tokens, self.num_tokens, z.device)
        attend = joint_attention(mask)
        rows = image_rows(self.num_tokens)
        image_states = []
        for index, block in enumerate(self.vit.blocks):
            res = self.prompts.residuals_at(index)
            graph_rows = self.num_tokens if index == 0 and constant_images and \
                self.prompts.residual_scope == 'tokens' else 0
            if self.with_cp and self.training and torch.is_grad_enabled():
                z, _ = checkpoint(expres_block, block, z, res, attend, None, graph_rows,
                                  use_reentrant=False)
            else:
                z, _ = expres_block(block, z, res, attend, graph_only_on_tokens=graph_rows)
            if index in self.out_indices:
                image_states.append(z[:, rows])
        tokens = z[:, output_token_rows(self.num_tokens)] if self.num_tokens else None
        return image_states, z[:, rows], tokens

    def _forward_one_way_together(
            self, z: Tensor) -> Tuple[List[Tensor], Optional[Tensor], Tensor]:
        """One-way visibility without autograd (inference): all rows through each layer.

        Every GEMM reads its frozen weight once for the image and token rows together;
        only the attention is split (image rows over image rows, token rows over all).
        """
        return one_way_blocks_together(
            self.vit.blocks, z, self.prompts.residuals_at, self.num_tokens,
            read_indices=self.out_indices,
            final_image=not self._skips_image_rows(self.depth - 1))

    def _forward_one_way_split(
            self, z: Tensor) -> Tuple[List[Tensor], Optional[Tensor], Tensor]:
        """One-way visibility computed cheaply (method section 4).

        No trainable parameter reaches the image rows, so they run as the plain frozen
        ViT without an autograd graph; the K token rows run with gradients and attend to
        the image keys/values, which are constants for autograd.
        """
        z_image = z[:, image_rows(self.num_tokens)]
        z_tokens = z[:, output_token_rows(self.num_tokens)]
        image_states = []
        for index, block in enumerate(self.vit.blocks):
            with torch.no_grad():
                if self._skips_image_rows(index):
                    image_kv, z_image = keys_values(block, z_image), None
                else:
                    z_image, image_kv = expres_block(block, z_image, NO_RESIDUALS)
            z_tokens, _ = expres_block(block, z_tokens, self.prompts.residuals_at(index),
                                       context=image_kv)
            if index in self.out_indices:
                image_states.append(z_image)
        return image_states, z_image, z_tokens

    def _skips_image_rows(self, index: int) -> bool:
        """Whether one-way visibility may skip the image rows' output of block ``index``.

        True of the last block when no output reads its image rows (not in ``out_indices``,
        readout not ``'cls'``): the tokens still need its image keys/values, but not its
        image attention, projection or MLP, about 6 % of a ViT-B forward.
        """
        return (index == self.depth - 1 and index not in self.out_indices
                and self.readout != 'cls')
