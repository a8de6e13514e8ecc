"""The few-shot head: support prototypes, their similarity to the query, a small decoder."""
from typing import List, Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor, nn

IGNORE = 255


def masked_average_pool(features: Tensor, masks: Tensor) -> Tensor:
    """Foreground and background prototypes of the supports (masked average pooling).

    The masks are averaged over each feature cell (area interpolation), so a cell counts
    by the share of its pixels that are foreground (or background); ignored pixels count
    for neither. The K supports of an episode pool into one prototype pair.

    Args:
        features: (B, K, C, h, w) support features.
        masks: (B, K, H, W) binary masks, 255 where ignored.

    Returns:
        (B, 2, C): the background prototype, then the foreground one.
    """
    b, k, c, h, w = features.shape
    weights = torch.stack([masks == 0, masks == 1], dim=2).flatten(0, 1).float()
    weights = F.interpolate(weights, size=(h, w), mode='area').view(b, k, 2, h * w)
    feats = features.view(b, k, c, h * w)
    pooled = torch.einsum('bksn,bkcn->bsc', weights, feats)
    return pooled / weights.sum(dim=(1, 3)).unsqueeze(-1).clamp_min(1e-6)


@MODELS.register_module()
class PrototypeMatchingHead(BaseModule):
    """Segment the query by its cosine similarity to support prototypes, then refine.

    For each backbone level, masked average pooling turns the support features into a
    background and a foreground prototype; the query's cosine similarity to each gives
    two maps per level (a parameter-free 2-way segmentation, PANet's). A small decoder
    (two 3x3 convolutions) reads those maps with a 1x1 projection of the query's last
    level and predicts 2-way logits: the similarities carry what the supports show, the
    projection where object boundaries are. The supports reach the query through the
    prototypes alone, so one class's prototypes serve every query
    (:meth:`prototypes`, then :meth:`decode` per batch of queries).

    Args:
        in_channels: channels of the backbone maps (the ViT's width).
        num_levels: how many backbone maps the head reads (the last ``num_levels``).
        channels: width of the decoder.
        scale: temperature of the cosine similarities.
    """

    def __init__(self, in_channels: int, num_levels: int = 1, channels: int = 64,
                 scale: float = 10.0, init_cfg=None) -> None:
        super().__init__(init_cfg)
        self.num_levels, self.scale = num_levels, scale
        self.project = nn.Sequential(nn.Conv2d(in_channels, channels, 1), nn.ReLU())
        self.decoder = nn.Sequential(
            nn.Conv2d(channels + 2 * num_levels, channels, 3, padding=1), nn.ReLU(),
            nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU(),
            nn.Conv2d(channels, 2, 1))

    def prototypes(self, supports: Sequence[Tensor], masks: Tensor) -> List[Tensor]:
        """Unit-length background and foreground prototypes of the supports, per level.

        All the head needs of the supports: computed once, they serve any number of
        queries (:meth:`decode`).

        Args:
            supports: backbone maps of the supports (B, K, C, h, w); the last
                ``num_levels`` are read.
            masks: (B, K, H, W) support masks.

        Returns:
            per level read, (B, 2, C).
        """
        return [F.normalize(masked_average_pool(f, masks), dim=-1)
                for f in list(supports)[-self.num_levels:]]

    def decode(self, query: Sequence[Tensor], prototypes: Sequence[Tensor]) -> Tensor:
        """2-way logits (B, 2, h, w) of queries from their maps and the prototypes.

        Args:
            query: backbone maps of the queries (B, C, h, w); the last ``num_levels``
                are read.
            prototypes: from :meth:`prototypes`, (B, 2, C) per level, or (1, 2, C) for
                supports that every query shares.
        """
        levels: List[Tensor] = list(query)[-self.num_levels:]
        if len(prototypes) != len(levels):
            raise ValueError(f'{len(prototypes)} levels of prototypes for a head that '
                             f'reads {len(levels)}: encode the supports with this model.')
        sims = [self.scale * torch.einsum('bsc,bchw->bshw',
                                          p.expand(f.shape[0], -1, -1),
                                          F.normalize(f, dim=1))
                for p, f in zip(prototypes, levels)]
        return self.decoder(torch.cat([self.project(levels[-1]), *sims], dim=1))

    def forward(self, features: Sequence[Tensor], masks: Tensor) -> Tensor:
        """2-way logits (B, 2, h, w) of whole episodes, at the feature resolution.

        Args:
            features: backbone maps (B, 1 + K, C, h, w), query first; the last
                ``num_levels`` are read.
            masks: (B, K, H, W) support masks.
        """
        levels: List[Tensor] = list(features)[-self.num_levels:]
        return self.decode([f[:, 0] for f in levels],
                           self.prototypes([f[:, 1:] for f in levels], masks))

    def loss(self, logits: Tensor, targets: Tensor) -> dict:
        """Cross-entropy of the logits, upsampled to the targets (B, H, W), 255 ignored."""
        logits = F.interpolate(logits, size=targets.shape[-2:], mode='bilinear',
                               align_corners=False)
        return dict(loss_ce=F.cross_entropy(logits, targets.long(), ignore_index=IGNORE))
