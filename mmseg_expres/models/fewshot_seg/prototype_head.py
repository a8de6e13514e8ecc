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
    projection where object boundaries are.

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

    def similarities(self, query: Tensor, supports: Tensor, masks: Tensor) -> Tensor:
        """(B, 2, h, w) scaled cosine similarity of the query to the two prototypes.

        Args:
            query: (B, C, h, w) query features of one level.
            supports: (B, K, C, h, w) support features of the same level.
            masks: (B, K, H, W) support masks.
        """
        prototypes = F.normalize(masked_average_pool(supports, masks), dim=-1)
        return self.scale * torch.einsum('bsc,bchw->bshw', prototypes,
                                         F.normalize(query, dim=1))

    def forward(self, features: Sequence[Tensor], masks: Tensor) -> Tensor:
        """2-way logits (B, 2, h, w) at the feature resolution.

        Args:
            features: backbone maps (B, 1 + K, C, h, w), query first; the last
                ``num_levels`` are read.
            masks: (B, K, H, W) support masks.
        """
        levels: List[Tensor] = list(features)[-self.num_levels:]
        sims = [self.similarities(f[:, 0], f[:, 1:], masks) for f in levels]
        return self.decoder(torch.cat([self.project(levels[-1][:, 0]), *sims], dim=1))

    def loss(self, logits: Tensor, targets: Tensor) -> dict:
        """Cross-entropy of the logits, upsampled to the targets (B, H, W), 255 ignored."""
        logits = F.interpolate(logits, size=targets.shape[-2:], mode='bilinear',
                               align_corners=False)
        return dict(loss_ce=F.cross_entropy(logits, targets.long(), ignore_index=IGNORE))
