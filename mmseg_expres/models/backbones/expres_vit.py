"""ExpresViT: a frozen timm Vision Transformer with EXPRES prompts (CVPR 2023)."""
import hashlib
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.logging import print_log
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from .expres_block import (NO_RESIDUALS, expres_block, image_rows, one_way_mask,
                           output_token_rows)
from .expres_prompts import ALL_SITES, DEFAULT_SITES, TOKEN_INITS, ExpresPrompts
from .vit_weights import CheckpointMismatchError, load_vit_weights

VISIBILITIES = ('full', 'one_way')
ONE_WAY_IMPLS = ('split', 'masked')
READOUTS = ('mean', 'concat', 'cls')


def create_timm_vit(arch: str, img_size: int, vit_cfg: Optional[dict] = None) -> nn.Module:
    """A randomly initialised timm ``VisionTransformer`` that accepts any input size.

    Args:
        arch: a timm model name such as ``vit_base_patch16_224`` (``test_vit`` is timm's
            tiny test model).
        img_size: the size the position embeddings are laid out for; other sizes are
            resampled on the fly (timm's ``dynamic_img_size``), and sizes that are not a
            multiple of the patch are padded (``dynamic_img_pad``).
        vit_cfg: extra keywords for ``timm.create_model`` (e.g. ``depth``).
    """
    import timm
    from timm.layers import Attention
    from timm.models.vision_transformer import Block, VisionTransformer

    if not timm.is_model(arch):
        similar = timm.list_models('*vit*')[:8]
        raise ValueError(f'timm does not know the architecture {arch!r}. Use a timm ViT '
                         f'name such as {", ".join(similar)}, ... (timm.list_models("vit_*")).')
    kwargs = dict(pretrained=False, num_classes=0, img_size=img_size, dynamic_img_size=True,
                  dynamic_img_pad=True, drop_rate=0.0, drop_path_rate=0.0)
    kwargs.update(vit_cfg or {})
    vit = timm.create_model(arch, **kwargs)
    if not isinstance(vit, VisionTransformer) or not all(
            type(b) is Block and type(b.attn) is Attention and b.attn.gate is None
            for b in vit.blocks):
        raise ValueError(f'{arch!r} is not a plain timm VisionTransformer with pre-norm '
                         'Blocks; EXPRES needs timm.models.vision_transformer.Block.')
    return vit


@MODELS.register_module()
class ExpresViT(BaseModule):
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
            ``'one_way'`` (image rows do not see output tokens; classification).
        one_way_impl: ``'split'`` runs the image path without autograd and only the K
            token rows with gradients (method section 4); ``'masked'`` is the joint
            computation with an attention mask, kept as the reference.
        token_init: ``'xavier'`` (VPT's init) or ``'cls'`` (class-token copy + noise).
        out_indices: absolute block indices whose patch tokens are returned as NCHW maps.
        output_tokens: append the final normed output tokens (B, K, d) to the outputs.
        readout: if set, append a (B, C) classification feature of the normed output
            tokens: ``'mean'`` (B, d), ``'concat'`` (B, K*d) or ``'cls'`` (B, d).
        final_norm: apply the ViT's final LayerNorm to the map of the last block.
        frozen: keep the ViT frozen (False only for the fine-tuning baseline).
        with_cp: activation checkpointing of each block (saves memory in full mode).
        vit_cfg: extra keywords for ``timm.create_model``.
        init_cfg: MMEngine init config; must not touch the ViT, so only None is accepted.
    """

    def __init__(self,
                 arch: str = 'vit_base_patch16_224',
                 img_size: int = 224,
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
                 final_norm: bool = False,
                 frozen: bool = True,
                 with_cp: bool = False,
                 vit_cfg: Optional[Dict[str, Any]] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if init_cfg is not None:
            raise ValueError('ExpresViT loads its ViT from `pretrained` and initialises only '
                             'its prompts; remove `init_cfg` from the backbone config.')
        super().__init__(init_cfg=None)
        _check_choice('visibility', visibility, VISIBILITIES)
        _check_choice('one_way_impl', one_way_impl, ONE_WAY_IMPLS)
        _check_choice('token_init', token_init, TOKEN_INITS)
        if readout is not None:
            _check_choice('readout', readout, READOUTS)
        if not isinstance(num_tokens, int) or num_tokens < 0:
            raise ValueError(f'num_tokens must be an integer >= 0, got {num_tokens!r}.')
        if (output_tokens or readout in ('mean', 'concat')) and num_tokens == 0:
            raise ValueError("output_tokens and readout='mean'/'concat' need num_tokens > 0.")
        if not frozen and visibility == 'one_way' and one_way_impl == 'split':
            raise ValueError("one_way_impl='split' runs the ViT without gradients; use "
                             "one_way_impl='masked' to fine-tune the ViT (frozen=False).")
        unknown = [s for s in residual_sites if s not in ALL_SITES]
        if unknown or len(set(residual_sites)) != len(residual_sites):
            raise ValueError(f'residual_sites {tuple(residual_sites)} must be distinct '
                             f'names from {ALL_SITES}; unknown: {unknown}.')

        self.vit = create_timm_vit(arch, img_size, vit_cfg)
        depth = len(self.vit.blocks)
        layers = tuple(range(depth)) if residual_layers is None else tuple(residual_layers)
        self.out_indices = tuple(out_indices)
        for name, indices in (('residual_layers', layers), ('out_indices', self.out_indices)):
            bad = [i for i in indices if not isinstance(i, int) or not 0 <= i < depth]
            if bad or list(indices) != sorted(set(indices)):
                raise ValueError(f'{name} {indices} must be distinct, ascending block indices '
                                 f'in [0, {depth - 1}] for {arch!r} (depth {depth}); bad: {bad}.')
        if pretrained is not None:
            load_vit_weights(self.vit, pretrained)

        self.arch = arch
        self.num_tokens = num_tokens
        self.visibility = visibility
        self.one_way_impl = one_way_impl
        self.output_tokens = output_tokens
        self.readout = readout
        self.final_norm = final_norm
        self.frozen = frozen
        self.with_cp = with_cp
        self.embed_dim = self.vit.embed_dim
        self.num_prefix_tokens = self.vit.num_prefix_tokens
        self.prompts = ExpresPrompts(
            num_tokens, self.embed_dim, tuple(residual_sites) if num_tokens else (), layers,
            token_init, self.vit.patch_embed.patch_size[0])
        self.init_weights()
        if not num_tokens:
            # embed() skips the empty (0, d) tokens; left trainable, DDP would wait for
            # a gradient that never comes
            self.prompts.requires_grad_(False)
        if frozen:
            self.vit.requires_grad_(False)
            self.vit.eval()
            self.register_buffer('frozen_fingerprint_buffer', self.frozen_fingerprint())
            self.register_load_state_dict_pre_hook(self._remember_load_prefix)
            self.register_load_state_dict_post_hook(self._check_fingerprint)
        self._log_trainable_params()

    # ------------------------------------------------------------------ set-up
    def init_weights(self) -> None:
        """Initialise the prompts only.

        The ViT's own ``init_weights`` would re-randomise the pretrained weights, so it is
        never called (this override does not recurse into ``self.vit``).
        """
        self.prompts.reset_parameters(cls_token=self.vit.cls_token)

    def train(self, mode: bool = True) -> 'ExpresViT':
        """Set train mode on the prompts; a frozen ViT stays in eval (no dropout)."""
        super().train(mode)
        if self.frozen:
            self.vit.eval()
        return self

    def frozen_fingerprint(self) -> Tensor:
        """First 8 bytes of the SHA-256 of the ViT tensors, as a (8,) uint8 tensor.

        Stored in the ``frozen_fingerprint`` buffer, so every checkpoint carries the
        fingerprint of the frozen weights it was trained with.
        """
        digest = hashlib.sha256()
        for key, tensor in sorted(self.vit.state_dict().items()):
            if tensor.is_meta:
                return torch.zeros(8, dtype=torch.uint8)
            digest.update(key.encode())
            digest.update(tensor.detach().cpu().contiguous().view(torch.uint8).numpy())
        return torch.frombuffer(bytearray(digest.digest()[:8]), dtype=torch.uint8)

    def _remember_load_prefix(self, module: nn.Module, state_dict: dict, prefix: str,
                              *args) -> None:
        """Pre-load hook: note where this module sits and whether the ViT comes along."""
        self._load_prefix = prefix
        self._loads_vit = any(k.startswith(prefix + 'vit.') for k in state_dict)

    def _check_fingerprint(self, module: nn.Module, incompatible_keys) -> None:
        """Post-load hook: a task checkpoint must meet the frozen ViT it was trained with.

        Task checkpoints omit the frozen ViT; once its fingerprint matches, the ViT keys
        are not reported missing (they are verified identical instead).
        """
        expected = self.frozen_fingerprint_buffer_hex()
        actual = self.frozen_fingerprint().numpy().tobytes().hex()
        if expected != actual:
            raise CheckpointMismatchError(
                f'This checkpoint was trained on a frozen ViT with fingerprint {expected}, '
                f'but the backbone here ({self.arch}, pretrained from the config) has '
                f'{actual}. Set model.backbone.pretrained to the file the checkpoint was '
                'trained with, or use a self-contained checkpoint '
                '(tools/export_full_checkpoint.py).')
        if not getattr(self, '_loads_vit', True):
            vit_prefix = getattr(self, '_load_prefix', '') + 'vit.'
            incompatible_keys.missing_keys[:] = [
                k for k in incompatible_keys.missing_keys if not k.startswith(vit_prefix)]

    def frozen_fingerprint_buffer_hex(self) -> str:
        return self.frozen_fingerprint_buffer.cpu().numpy().tobytes().hex()

    def num_trainable_params(self) -> Tuple[int, int]:
        """(trainable, total) parameter counts of this backbone."""
        params = list(self.parameters())
        return (sum(p.numel() for p in params if p.requires_grad),
                sum(p.numel() for p in params))

    def _log_trainable_params(self) -> None:
        trainable, total = self.num_trainable_params()
        print_log(f'ExpresViT({self.arch}, K={self.num_tokens}, sites={self.prompts.sites}, '
                  f'{len(self.prompts.layers)} residual layers, {self.visibility}): '
                  f'{trainable:,} trainable of {total:,} parameters '
                  f'({100.0 * trainable / total:.3f}%)', logger='current')

    # ---------------------------------------------------------------- forward
    def embed(self, images: Tensor) -> Tensor:
        """Token assembly: ``[x_cls; e_1..e_N; p_1..p_K]`` (output tokens last, no pos embed).

        Args:
            images: (B, 3, H, W).

        Returns:
            (B, P + N + K, d) with P prefix tokens, N patches and K output tokens.
        """
        vit = self.vit
        x = vit.norm_pre(vit.patch_drop(vit._pos_embed(vit.patch_embed(images))))
        if not self.num_tokens:
            # the empty (0, d) token parameter requires grad and would pull the whole
            # frozen ViT into autograd (linear probe: all activations saved, full backward)
            return x
        tokens = vit.norm_pre(self.prompts.tokens).expand(x.shape[0], -1, -1)
        return torch.cat([x, tokens], dim=1)

    def forward(self, images: Tensor) -> Tuple[Tensor, ...]:
        """Run the ViT with EXPRES prompts.

        Args:
            images: (B, 3, H, W).

        Returns:
            ``len(out_indices)`` maps (B, d, H/p, W/p), then the normed output tokens
            (B, K, d) if ``output_tokens``, then the (B, C) readout if ``readout``.
        """
        grid = self.vit.patch_embed.dynamic_feat_size(images.shape[-2:])
        z = self.embed(images)
        if self.visibility == 'one_way' and self.one_way_impl == 'split' and self.num_tokens:
            image_states, final_image, tokens = self._forward_one_way_split(z)
        else:
            image_states, final_image, tokens = self._forward_joint(z)
        if self.final_norm and self.out_indices and \
                self.out_indices[-1] == len(self.vit.blocks) - 1:
            image_states[-1] = self.vit.norm(image_states[-1])
        outs: List[Tensor] = [self._to_map(state, grid) for state in image_states]
        normed_tokens = self.vit.norm(tokens) if tokens is not None else None
        if self.output_tokens:
            outs.append(normed_tokens)
        if self.readout == 'mean':
            outs.append(normed_tokens.mean(dim=1))
        elif self.readout == 'concat':
            outs.append(normed_tokens.flatten(1))
        elif self.readout == 'cls':
            outs.append(self.vit.norm(final_image[:, 0]))
        return tuple(outs)

    def _forward_joint(self, z: Tensor) -> Tuple[List[Tensor], Tensor, Optional[Tensor]]:
        """All rows together: full visibility, or one-way through an attention mask."""
        rows = image_rows(self.num_tokens)
        mask = None
        if self.visibility == 'one_way' and self.num_tokens:
            mask = one_way_mask(z.shape[1] - self.num_tokens, self.num_tokens, z.device)
        image_states = []
        for index, block in enumerate(self.vit.blocks):
            res = self.prompts.residuals_at(index)
            if self.with_cp and self.training:
                z, _ = checkpoint(expres_block, block, z, res, mask, use_reentrant=False)
            else:
                z, _ = expres_block(block, z, res, mask)
            if index in self.out_indices:
                image_states.append(z[:, rows])
        tokens = z[:, output_token_rows(self.num_tokens)] if self.num_tokens else None
        return image_states, z[:, rows], tokens

    def _forward_one_way_split(self, z: Tensor) -> Tuple[List[Tensor], Tensor, Tensor]:
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
                z_image, image_kv = expres_block(block, z_image, NO_RESIDUALS)
            z_tokens, _ = expres_block(block, z_tokens, self.prompts.residuals_at(index),
                                       context=image_kv)
            if index in self.out_indices:
                image_states.append(z_image)
        return image_states, z_image, z_tokens

    def _to_map(self, state: Tensor, grid: Tuple[int, int]) -> Tensor:
        """(B, P + N, d) image rows -> (B, d, H, W) patch map (prefix tokens dropped)."""
        patches = state[:, self.num_prefix_tokens:]
        return patches.transpose(1, 2).reshape(patches.shape[0], -1, *grid).contiguous()


def _check_choice(name: str, value: Any, choices: Sequence[Any]) -> None:
    if value not in choices:
        raise ValueError(f'{name} must be one of {tuple(choices)}, got {value!r}.')
