"""Batches whose samples belong to different tasks, in one pass of one frozen ViT.

A task's part of an EXPRES forward is K extra token rows and additive residual vectors,
and of a VPT forward K prompt rows per layer. So a batch mixing T tasks runs as one
forward of the shared ViT in which each sample's token rows and residuals are its task's:
the tasks' prompts are stacked, gathered per sample (an index), and handed to the
backbone's own code paths (``expres_block`` adds (B, K, d) residuals as it adds (K, d)
ones; ``VPTViT.forward_with_prompts`` takes any prompt set per layer). Every GEMM runs
once over the whole batch; nothing is a per-sample matmul. Each sample gets, to fp32
rounding, what its task's backbone alone gives it (``tests/test_models/test_multi_task.py``).

LoRA tasks (``PeftViT``, the baseline) are adapters of one name per task in the shared
ViT's peft layers; a mixed batch runs through peft's own mixed-adapter batch
(``adapter_names=``, :func:`.backbones.lora.adapter_per_sample`): every frozen layer
once over the batch, then each task's A and B on its samples, a matmul per task and
layer (peft: "the batch size is effectively reduced to the number of samples per
adapter").

Inference only (no autograd, no prompt dropout). :class:`~.multi_task.MultiTaskExpres`
keeps its own path for T one-way tasks answered on the *same* images.
"""
from typing import List, Mapping, Sequence, Tuple

import torch
from torch import Tensor

from .backbones.expres_block import (EveryRowResiduals, expres_block, image_rows,
                                     joint_attention, one_way_blocks_together, one_way_mask,
                                     output_token_rows)
from .backbones.expres_prompts import ExpresPrompts
from .backbones.expres_vit import ExpresViT
from .backbones.frozen_vit import FrozenViTBackbone
from .backbones.peft_vit import PeftViT
from .backbones.vpt_vit import VPTViT

#: Backbone types whose tasks can share a batch (PeftViT: with LoRA only).
MIXABLE_BACKBONES = (ExpresViT, VPTViT, PeftViT)


def prompt_layout(backbone: FrozenViTBackbone) -> tuple:
    """What must be equal for two tasks' backbones to share a batch: the backbone type,
    its outputs and the shape of its prompts (not their values)."""
    common = (type(backbone).__name__, backbone.out_indices, backbone.final_norm,
              backbone.readout, backbone.output_tokens, getattr(backbone, 'num_tokens', 0))
    if isinstance(backbone, ExpresViT):
        prompts = backbone.prompts
        return common + (backbone.visibility, prompts.sites, prompts.layers,
                         getattr(prompts, 'residual_scope', 'tokens'))
    if isinstance(backbone, VPTViT):
        return common + (backbone.mode,)
    return common  # PeftViT: its method is compared as its kind (_kind)


def _is_lora(backbone: FrozenViTBackbone) -> bool:
    return isinstance(backbone, PeftViT) and backbone.method == 'lora' and not backbone.merged


def _kind(backbone: FrozenViTBackbone) -> str:
    """The backbone type and, for PeftViT, its method: what a mixed batch must share."""
    return type(backbone).__name__ + (
        f' ({backbone.method})' if isinstance(backbone, PeftViT) else '')


def check_mixable(backbones: Sequence[FrozenViTBackbone], names: Sequence[str]) -> None:
    """Refuse backbones that cannot share a batch, naming the task and what differs."""
    first, first_layout = backbones[0], prompt_layout(backbones[0])
    for backbone, name in zip(backbones, names):
        if not isinstance(backbone, MIXABLE_BACKBONES) or (
                isinstance(backbone, PeftViT) and not _is_lora(backbone)):
            raise ValueError(
                f'task {name!r}: a {_kind(backbone)} backbone cannot share a batch with '
                'other tasks (EXPRES and VPT can: their tasks are prompt rows and additive '
                'vectors; LoRA, as peft adapters). Run its batches one task at a time.')
        if backbone.vit is not first.vit:
            raise ValueError(f'task {name!r} has its own ViT, not the one of task '
                             f'{names[0]!r}: load the tasks with apis.init_multi_task.')
        # a LoRA task's ViT tensors are its own adapter, beside the others' (not shared)
        if backbone.vit_trains and not _is_lora(backbone):
            raise ValueError(f'task {name!r} trains ViT tensors (fine-tuning or tuned '
                             'biases): each task has its own ViT, so tasks cannot share it.')
        if _kind(backbone) != _kind(first):
            raise ValueError(f'task {name!r} is a {_kind(backbone)} task, task {names[0]!r} a '
                             f'{_kind(first)} one: a batch mixes tasks of one method. Give '
                             'them separate batches (one predict call per method).')
        layout = prompt_layout(backbone)
        if layout != first_layout:
            raise ValueError(f'task {name!r} has prompts laid out as {layout}, task '
                             f'{names[0]!r} as {first_layout}: tasks of one batch need the '
                             'same backbone config (method, K, sites, layers, outputs).')
    adapters = [b.adapter_name for b in backbones if _is_lora(b)]
    if len(set(adapters)) != len(adapters):
        twice = next(a for a in adapters if adapters.count(a) > 1)
        raise ValueError(f'LoRA adapter {twice!r} serves two tasks of {list(names)}: each '
                         'task needs its own adapter (load the tasks with '
                         'apis.init_multi_task).')


class SamplePrompts:
    """What :class:`ExpresPrompts` gives a forward pass (``tokens``, ``residuals_at``),
    with each sample's rows taken from its task's prompts: (B, K, d) instead of (K, d).

    Args:
        prompts: the prompts of the tasks in the batch.
        sample_task: (B,) the index into ``prompts`` of each sample's task.
    """

    def __init__(self, prompts: Sequence[ExpresPrompts], sample_task: Tensor) -> None:
        self.num_tokens = prompts[0].num_tokens
        self.layers = prompts[0].layers
        # residual_scope='all': (B, 1, d) per sample, added to every row of its sample
        self._kind = EveryRowResiduals if prompts[0].residual_scope == 'all' else dict
        self.tokens = torch.stack([p.tokens for p in prompts])[sample_task]
        self._residuals = {site: torch.stack([p.residuals[site] for p in prompts])[sample_task]
                           for site in prompts[0].sites}  # (B, L_r, K or 1, d)

    def residuals_at(self, layer: int) -> Mapping[str, Tensor]:
        """Site name -> (B, K, d) residual prompts of block ``layer`` (empty if none);
        (B, 1, d) in an :class:`EveryRowResiduals` with ``residual_scope='all'``."""
        if layer not in self.layers or not self.num_tokens:
            return {}
        row = self.layers.index(layer)
        return self._kind((site, residual[:, row]) for site, residual in self._residuals.items())


def _expres_forward(host: ExpresViT, prompts: SamplePrompts,
                    images: Tensor) -> Tuple[Tensor, ...]:
    """``host.forward(images)`` with per-sample prompts (the paths it takes without
    autograd: all rows together; one-way through the split attention)."""
    num_tokens = host.num_tokens
    z = host.embed_images(images)
    if num_tokens:
        z = torch.cat([z, host.vit.norm_pre(prompts.tokens)], dim=1)
    if host.forward_path(images) == 'one_way_together':
        image_states, final_image, tokens = one_way_blocks_together(
            host.vit.blocks, z, prompts.residuals_at, num_tokens,
            read_indices=host.out_indices,
            final_image=not host._skips_image_rows(host.depth - 1))
        return host.assemble_outputs(image_states, images, final_image, tokens)
    # the joint path: full visibility, or one-way through its mask (residuals on every row)
    mask = one_way_mask(z.shape[1] - num_tokens, num_tokens, z.device) \
        if host.visibility == 'one_way' and num_tokens else None
    attend, rows = joint_attention(mask), image_rows(num_tokens)
    image_states: List[Tensor] = []
    for index, block in enumerate(host.vit.blocks):
        z, _ = expres_block(block, z, prompts.residuals_at(index), attend)
        if index in host.out_indices:
            image_states.append(z[:, rows])
    tokens = z[:, output_token_rows(num_tokens)] if num_tokens else None
    return host.assemble_outputs(image_states, images, z[:, rows], tokens)


@torch.no_grad()
def mixed_task_forward(backbones: Sequence[FrozenViTBackbone], sample_task: Tensor,
                       images: Tensor,
                       names: Sequence[str] = ()) -> Tuple[Tensor, ...]:
    """The backbone outputs of a batch whose sample ``i`` belongs to task ``sample_task[i]``.

    Args:
        backbones: one backbone per task in the batch, all on the same ViT object and of
            the same config (:func:`check_mixable`); their prompts (or LoRA adapters) differ.
        sample_task: (B,) long, the index into ``backbones`` of each sample's task.
        images: (B, 3, H, W), normalised as every task of the batch normalises.
        names: the tasks' names, for errors.

    Returns:
        What ``backbones[t](images[i:i+1])`` returns for each sample, batched: the maps,
        the normed tokens, the readout, as the backbone's outputs.
    """
    names = list(names) or [str(i) for i in range(len(backbones))]
    check_mixable(backbones, names)
    if sample_task.shape != (images.shape[0],):
        raise ValueError(f'{tuple(sample_task.shape)} task indices for {images.shape[0]} '
                         'images: give one task per image.')
    sample_task = sample_task.to(images.device)
    host = backbones[0]
    if isinstance(host, PeftViT):
        adapters = [backbones[t].adapter_name for t in sample_task.tolist()]
        return host.forward_adapters(images, adapters)
    if isinstance(host, VPTViT):
        stacked = torch.stack([b.prompts for b in backbones])[sample_task]  # (B, L_p, K, d)
        return host.forward_with_prompts(images, lambda layer, batch: stacked[:, layer])
    return _expres_forward(host, SamplePrompts([b.prompts for b in backbones], sample_task),
                           images)
