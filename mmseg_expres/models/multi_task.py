"""Many EXPRES tasks on one frozen ViT for the price of about one forward pass.

In one-way visibility (method section 3) the image rows never see the output tokens, so
the image path is the same for every task. :class:`MultiTaskExpres` runs it once, without
autograd, with the output-token rows of all T tasks appended (``sum_t K_t`` rows): every
row-wise layer runs over all rows at once, and in the attention a block-diagonal mask lets
each task's tokens attend only to the image rows and to its own task's tokens, while the
image rows attend only to each other. So every task gets exactly what it would get alone,
and the extra cost is that of ``sum_t K_t`` rows per block (50 rows against 197 image rows
for ten K=5 tasks on ViT-B/16 at 224).
"""
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence

import torch
from torch import Tensor, nn

from .backbones.arguments import READOUTS, TOKEN_READOUTS, check_choice
from .backbones.expres_block import NO_RESIDUALS, one_way_blocks_together
from .backbones.expres_prompts import ExpresPrompts
from .backbones.expres_vit import ExpresViT
from .backbones.frozen_vit import readout_feature


@dataclass
class ExpresTask:
    """One task's trainable parts: its EXPRES prompts, its readout and its head.

    Attributes:
        prompts: the task's output tokens (K, d) and residual prompts (L_r, K, d) per site.
        head: maps the (B, C) readout feature to the task's prediction.
        readout: ``'mean'`` (B, d) or ``'concat'`` (B, K*d) of the normed final tokens
            (:data:`TOKEN_READOUTS`; ``'cls'``, the class token, is refused: in one-way
            visibility the image rows never see the prompts, so they could not change
            the answer).
    """

    prompts: ExpresPrompts
    head: nn.Module = field(default_factory=nn.Identity)
    readout: str = 'mean'

    @classmethod
    def from_model(cls, model: ExpresViT, head: Optional[nn.Module] = None,
                   readout: Optional[str] = None) -> 'ExpresTask':
        """Take the prompts (and readout) of a trained single-task ``ExpresViT``.

        The model must be one-way: prompts trained with full visibility shaped the image
        rows, which the shared image path here never lets them do.
        """
        if model.visibility != 'one_way':
            raise ValueError(f"MultiTaskExpres runs every task one-way; this model was "
                             f"built with visibility='{model.visibility}', so its prompts "
                             'would answer differently here. Train the task with '
                             "visibility='one_way'.")
        return cls(model.prompts, head if head is not None else nn.Identity(),
                   readout or model.readout or 'mean')


def task_attention_mask(num_image_rows: int, sizes: Sequence[int],
                        device: Optional[torch.device] = None) -> Tensor:
    """(sum K, N_img + sum K) mask: each task's tokens see the image and their own task.

    Args:
        num_image_rows: rows of the image path (prefix + patch tokens).
        sizes: K_t of each task, in the order their rows are concatenated.

    Returns:
        Boolean mask, True where attending is allowed (``scaled_dot_product_attention``).
    """
    total = sum(sizes)
    mask = torch.zeros(total, num_image_rows + total, dtype=torch.bool, device=device)
    mask[:, :num_image_rows] = True
    start = 0
    for size in sizes:
        rows = slice(start, start + size)
        mask[rows, num_image_rows + start:num_image_rows + start + size] = True
        start += size
    return mask


class MultiTaskExpres(nn.Module):
    """Answer T EXPRES tasks with one frozen image path (one-way visibility only).

    Args:
        backbone: the shared frozen ``ExpresViT``; its ViT is used, its prompts are not.
        tasks: the tasks; their prompts must match the ViT's width.
    """

    def __init__(self, backbone: ExpresViT, tasks: Sequence[ExpresTask]) -> None:
        super().__init__()
        if backbone.vit_trains:
            raise ValueError('MultiTaskExpres shares a frozen ViT; the backbone trains ViT '
                             'tensors (frozen=False or tune_bias: a different ViT per task).')
        if not tasks:
            raise ValueError('MultiTaskExpres needs at least one task.')
        for index, task in enumerate(tasks):
            check_choice(f'task {index}: readout', task.readout, READOUTS)
            if task.readout not in TOKEN_READOUTS:
                raise ValueError(
                    f"task {index}: readout='{task.readout}' reads the class token, which "
                    'in one-way visibility never sees the prompts: the task would answer '
                    'the same with any prompts. Use a token readout, one of '
                    f'{TOKEN_READOUTS}, or the plain frozen ViT for a class-token probe.')
            if task.prompts.num_tokens == 0 or \
                    task.prompts.tokens.shape[1] != backbone.embed_dim:
                raise ValueError(f'task {index}: needs K > 0 prompts of width '
                                 f'{backbone.embed_dim}, got {tuple(task.prompts.tokens.shape)}.')
        self.backbone = backbone
        self.task_prompts = nn.ModuleList(task.prompts for task in tasks)
        self.heads = nn.ModuleList(task.head for task in tasks)
        self.readouts = tuple(task.readout for task in tasks)
        self.sizes = tuple(task.prompts.num_tokens for task in tasks)

    def residuals_at(self, layer: int) -> Mapping[str, Tensor]:
        """Site -> (sum K, d) residuals of block ``layer``, zeros for tasks without them.

        Adding zero leaves a task's rows bit-for-bit unchanged, so tasks with different
        sites or residual layers can share one concatenated prompt per site.
        """
        per_task = [prompts.residuals_at(layer) for prompts in self.task_prompts]
        sites = sorted({site for res in per_task for site in res})
        if not sites:
            return NO_RESIDUALS
        concatenated: Dict[str, Tensor] = {}
        for site in sites:
            parts = []
            for res, prompts in zip(per_task, self.task_prompts):
                tokens = prompts.tokens
                parts.append(res[site] if site in res else tokens.new_zeros(tokens.shape))
            concatenated[site] = torch.cat(parts, dim=0)
        return concatenated

    @torch.no_grad()
    def encode(self, images: Tensor) -> List[Tensor]:
        """One image path, all tasks' token paths.

        Every task reads its tokens only, so the last block runs only the token rows.

        Args:
            images: (B, 3, H, W).

        Returns:
            Per task, its final output-token states (B, K_t, d) before the final
            LayerNorm.
        """
        vit = self.backbone.vit
        z_image = self.backbone.embed_images(images)
        tokens = torch.cat([prompts.tokens for prompts in self.task_prompts], dim=0)
        z = torch.cat([z_image, vit.norm_pre(tokens).expand(images.shape[0], -1, -1)], dim=1)
        mask = task_attention_mask(z_image.shape[1], self.sizes, images.device)
        _, _, tokens = one_way_blocks_together(
            vit.blocks, z, self.residuals_at, sum(self.sizes), token_mask=mask,
            final_image=False)
        return list(tokens.split(self.sizes, dim=1))

    @torch.no_grad()
    def forward(self, images: Tensor) -> List[Tensor]:
        """Predictions of every task for one batch.

        Args:
            images: (B, 3, H, W).

        Returns:
            One ``head(readout)`` output per task, e.g. (B, C_t) logits.
        """
        task_tokens = self.encode(images)
        norm = self.backbone.vit.norm
        return [head(readout_feature(readout, tokens, None, norm))
                for tokens, readout, head in zip(task_tokens, self.readouts, self.heads)]
