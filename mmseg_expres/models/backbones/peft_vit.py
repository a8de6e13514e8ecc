"""PeftViT: the frozen timm ViT with LoRA, AdaptFormer or SSF, the PEFT baselines.

Unlike prompts, these methods put their tuned tensors inside the ViT's layers (as bias
tuning does), so the ViT runs its own blocks (timm's ``Block.forward``) and the tuned
tensors are ``vit.*`` keys that task checkpoints keep (``trainable_vit_keys``). A tuned
tensor no output reads (SSF's scale of the final norm under maps without ``final_norm``,
adapters of blocks after the last ``out_indices``) is frozen (``reads_vit_parameter``).

On a ViT shared by many tasks (``frozen_vit.sharing_vit``, ``apis.init_multi_task``), a
LoRA task's adapter is named after the task, beside the other tasks' in the same peft
layers; its task checkpoint's ``default`` keys load into it, and it runs on its own
adapter alone (:meth:`PeftViT.forward_adapters`). AdaptFormer and SSF change the ViT's
modules themselves and cannot share a ViT.
"""
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple, Union

from mmseg.registry import MODELS
from torch import Tensor

from .adaptformer import add_adaptformer
from .arguments import check_dropout, check_peft_args
from .frozen_vit import FrozenViTBackbone
from .lora import (ADAPTER_NAME, adapter_per_sample, add_lora, lora_adapter_of,
                   lora_adapters, merge_lora, rename_adapter_keys)
from .ssf import add_ssf, merge_ssf

#: Names of the modules that hold a method's tuned tensors or its dropout: they train
#: (and leave eval mode) while the rest of the ViT stays frozen.
_TUNED_MODULES = ('lora_A', 'lora_B', 'lora_dropout', 'adaptformer')


@MODELS.register_module()
class PeftViT(FrozenViTBackbone):
    """Frozen timm ViT + LoRA (through peft), AdaptFormer or SSF.

    * ``'lora'`` (Hu et al., ICLR 2022): rank-``lora_rank`` updates of ``lora_targets``
      in every block, scaled by ``lora_alpha / lora_rank`` (:mod:`.lora`).
    * ``'adaptformer'`` (Chen et al., NeurIPS 2022): a bottleneck of ``adapter_dim``
      beside every MLP, reading the block's residual stream as the authors' code does,
      scaled by ``adapter_scale`` (:mod:`.adaptformer`).
    * ``'ssf'`` (Lian et al., NeurIPS 2022): a per-channel scale and shift after each
      operation (:mod:`.ssf`).

    LoRA and SSF fold into the ViT's weights (:meth:`merge_`); a checkpoint exported
    merged (``tools/export_full_checkpoint.py --merge``) loads into ``merged=True``, a
    plain frozen ViT at plain-ViT inference cost.

    Args:
        arch, img_size, pretrained, out_indices, readout, final_norm, vit_cfg, init_cfg:
            as :class:`ExpresViT`; ``readout`` can only be ``'cls'`` (no prompts).
        method: one of ``('lora', 'adaptformer', 'ssf')``.
        num_tokens: must be 0; accepted so that a baseline line replaces the type of an
            EXPRES backbone config, which carries ``num_tokens``.
        lora_rank, lora_alpha, lora_dropout: LoRA's r, alpha and dropout on its input
            (0.1: NOAH's LoRA baseline, :mod:`.lora`).
        lora_targets: linear layers of each block LoRA adapts (timm: ``qkv``, ``proj``,
            ``fc1``, ``fc2``).
        adapter_dim, adapter_scale, adapter_dropout: AdaptFormer's bottleneck, ``s`` and
            dropout.
        merged: the ViT holds folded LoRA or SSF weights (an export); nothing is added
            and nothing trains.
    """

    runs_timm_blocks = True  # drop-path in vit_cfg acts (NOAH's protocol)

    def __init__(self,
                 arch: str = 'vit_base_patch16_224',
                 img_size: Union[int, Tuple[int, int]] = 224,
                 pretrained: Optional[str] = None,
                 method: str = 'lora',
                 num_tokens: int = 0,
                 out_indices: Sequence[int] = (2, 5, 8, 11),
                 readout: Optional[str] = None,
                 output_tokens: bool = False,
                 final_norm: Union[bool, str] = False,
                 lora_rank: int = 8,
                 lora_alpha: float = 8.0,
                 lora_dropout: float = 0.1,
                 lora_targets: Sequence[str] = ('qkv',),
                 adapter_dim: int = 64,
                 adapter_scale: float = 0.1,
                 adapter_dropout: float = 0.1,
                 merged: bool = False,
                 vit_cfg: Optional[Dict[str, Any]] = None,
                 init_cfg: Optional[dict] = None) -> None:
        check_peft_args(method, num_tokens, readout, output_tokens, merged)
        super().__init__(arch, img_size, pretrained, out_indices, final_norm, readout,
                         output_tokens, True, vit_cfg, init_cfg)
        self.method = method
        self.merged = merged
        #: the name of this backbone's LoRA adapter in the ViT's peft layers
        self.adapter_name = self.shared_task or ADAPTER_NAME
        if self.shares_vit and (method != 'lora' or merged):
            raise ValueError(
                f'Task {self.shared_task!r}: {method}{" merged" if merged else ""} cannot '
                'share its ViT with other tasks (only LoRA adds its tensors as a named '
                'adapter; AdaptFormer and SSF change the ViT\'s modules, a merged export '
                'its weights). Load the task on its own (init_model).')
        if merged:
            description = f'{method} merged into the ViT'
        elif method == 'lora':
            add_lora(self.vit, tuple(lora_targets), lora_rank, lora_alpha, lora_dropout,
                     self.adapter_name)
            description = (f'LoRA r={lora_rank}, alpha={lora_alpha} on '
                           f'{", ".join(lora_targets)}')
        elif method == 'adaptformer':
            if not isinstance(adapter_dim, int) or not 1 <= adapter_dim:
                raise ValueError(f'adapter_dim must be an integer >= 1, got {adapter_dim!r}.')
            check_dropout('adapter_dropout', adapter_dropout)
            add_adaptformer(self.vit, adapter_dim, adapter_scale, adapter_dropout)
            description = f'AdaptFormer r={adapter_dim}, s={adapter_scale}'
        else:
            add_ssf(self.vit)
            description = 'SSF'
        self.finish_setup(description)

    def init_weights(self) -> None:
        """Nothing here: each method initialises its tensors as it adds them (LoRA: peft).

        The ViT's own ``init_weights`` would wipe the pretrained weights.
        """

    def tunes_vit_parameter(self, name: str) -> bool:
        """LoRA's A and B (of this backbone's adapter), AdaptFormer's bottleneck, SSF's
        scales and shifts."""
        adapter = lora_adapter_of(name)
        if adapter is not None:
            return adapter == self.adapter_name
        return any(f'.{part}.' in name for part in _TUNED_MODULES) or '.ssf_' in name

    def frozen_vit_keys(self) -> Set[str]:
        """As :meth:`FrozenViTBackbone.frozen_vit_keys`, without other tasks' LoRA
        adapters on a shared ViT: they are theirs, and loading them changes neither this
        task's outputs nor its fingerprint."""
        return {k for k in super().frozen_vit_keys() if lora_adapter_of(k) is None}

    def adapt_loaded_keys(self, state_dict: dict, prefix: str) -> None:
        """A task checkpoint holds its LoRA as adapter ``default``: on a shared ViT, it
        loads into this task's adapter."""
        if self.adapter_name != ADAPTER_NAME:
            rename_adapter_keys(state_dict, prefix + 'vit.', self.adapter_name)

    def train(self, mode: bool = True) -> 'PeftViT':
        """Train mode on the added modules (their dropout); the frozen ViT stays in eval."""
        super().train(mode)
        for name, module in self.vit.named_modules():
            if name.rpartition('.')[2] in _TUNED_MODULES:
                module.train(mode)
        return self

    def merge_(self) -> None:
        """Fold LoRA or SSF into the ViT's weights; afterwards this is ``merged=True``.

        The fingerprint is recomputed: an export holds the folded ViT, and loading it
        checks the ViT it holds.
        """
        if self.merged:
            return
        if lora_adapters(self.vit) - {self.adapter_name}:
            raise ValueError('This ViT holds other tasks\' LoRA adapters too '
                             f'({sorted(lora_adapters(self.vit))}): merging would fold them '
                             'all. Merge a task loaded on its own (init_model).')
        check_peft_args(self.method, 0, self.readout, self.output_tokens, merged=True)
        (merge_lora if self.method == 'lora' else merge_ssf)(self.vit)
        self.merged = True
        self.record_tuned_vit_keys()  # nothing is tuned any more
        self.frozen_fingerprint_buffer.copy_(self.frozen_fingerprint())

    def forward(self, images: Tensor) -> Tuple[Tensor, ...]:
        """Run the ViT's own blocks (its layers carry the method).

        Args:
            images: (B, 3, H, W).

        Returns:
            ``len(out_indices)`` maps (B, d, H/p, W/p), then the (B, d) readout if
            ``readout='cls'``.
        """
        # on a ViT that holds other tasks' adapters too, every sample takes this one's
        shared = self.method == 'lora' and not self.merged \
            and lora_adapters(self.vit) != {self.adapter_name}
        names = [self.adapter_name] * images.shape[0] if shared else None
        return self.forward_adapters(images, names)

    def forward_adapters(self, images: Tensor,
                         adapter_names: Optional[Sequence[str]]) -> Tuple[Tensor, ...]:
        """:meth:`forward` with sample ``i`` through LoRA adapter ``adapter_names[i]``
        (peft's mixed-adapter batch, :func:`.lora.adapter_per_sample`); None: the ViT's
        layers as they are."""
        z = self.embed_images(images)
        image_states: List[Tensor] = []
        with adapter_per_sample(self.vit, adapter_names):
            for index, block in enumerate(self.vit.blocks):
                z = block(z)
                if index in self.out_indices:
                    image_states.append(z)
        return self.assemble_outputs(image_states, images, z, None)

