"""Dense pretraining of the study's ViT: every patch token learns the class under it.

A classification-pretrained small ViT (:func:`transfer_pairs.pretrain`) keeps what it
knows about a digit in the pooled features; a linear probe on its patch tokens tells
the digits in a scene apart barely better than on a random ViT's (docs/method_study.md,
"Segmentation"). A large ViT pretrained on ImageNet has patch tokens that carry
semantics locally; this pretraining gives the small ViT that property on the source
classes: a linear layer on each final patch token (after the final LayerNorm), its
logits upsampled to the pixels, cross-entropy against the source scenes' masks
(background and the digits 0-4). AdamW, one-cycle schedule, random shifts, seeded, and
cached by its settings under the study's cache (:func:`transfer_pairs.cache_root`).
"""
import math
from typing import Tuple

import numpy as np

import transfer_pairs


def dense_pretrain(images: np.ndarray, masks: np.ndarray, arch: str, image_size: int,
                   vit_cfg: dict, epochs: int, seed: int, lr: float = 1e-3,
                   batch: int = 64, log=print) -> Tuple[dict, float]:
    """Train the ViT on ``images`` (N, S, S, 3) against ``masks`` (N, S, S) class ids.

    Returns:
        The timm state dict (no head) and the pixel accuracy (%) on the held-out 10 %.
    """
    import torch
    import torch.nn.functional as F
    from mmseg_expres.models.backbones.frozen_vit import create_timm_vit

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # another thread count sums in another order: another ViT
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(images))
    held = max(len(order) // 10, 1)
    x_all = transfer_pairs._normalise(images)
    y_all = torch.from_numpy(masks.astype(np.int64))
    classes = int(masks.max()) + 1
    vit = create_timm_vit(arch, image_size, dict(vit_cfg, num_classes=classes))
    prefix = vit.num_prefix_tokens
    grid = image_size // vit.patch_embed.patch_size[0]

    def logits(x):
        tokens = vit.head(vit.forward_features(x)[:, prefix:])  # (B, N, C)
        maps = tokens.transpose(1, 2).reshape(len(x), classes, grid, grid)
        return F.interpolate(maps, size=x.shape[-2:], mode='bilinear', align_corners=False)

    x_tr, y_tr = x_all[order[held:]], y_all[order[held:]]
    opt = torch.optim.AdamW(vit.parameters(), lr=lr, weight_decay=0.05)
    steps = epochs * math.ceil(len(x_tr) / batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=steps, pct_start=0.1)
    shift = image_size // 8
    try:
        vit.train()
        for epoch in range(epochs):
            perm = torch.randperm(len(x_tr))
            for start in range(0, len(x_tr), batch):
                idx = perm[start:start + batch]
                dy, dx = (int(v) for v in rng.integers(-shift, shift + 1, size=2))
                xb = torch.roll(x_tr[idx], shifts=(dy, dx), dims=(2, 3))
                yb = torch.roll(y_tr[idx], shifts=(dy, dx), dims=(1, 2))
                loss = F.cross_entropy(logits(xb), yb)
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
            if (epoch + 1) % max(epochs // 4, 1) == 0:
                log(f'  dense pretraining epoch {epoch + 1}/{epochs}: loss {loss.item():.3f}')
        vit.eval()
        with torch.no_grad():
            pred = logits(x_all[order[:held]]).argmax(1)
        acc = (pred == y_all[order[:held]]).float().mean().item() * 100
    finally:
        torch.set_num_threads(threads)
    vit.reset_classifier(0)
    return vit.state_dict(), acc


def dense_pretrained_vit(pair: str, images: np.ndarray, masks: np.ndarray, arch: str,
                         image_size: int, vit_cfg: dict, epochs: int, seed: int,
                         log=print) -> Tuple[str, float]:
    """Path of the densely pretrained ViT (trained once per settings) and its held-out
    pixel accuracy (%)."""
    settings = dict(pair=pair, arch=arch, image_size=image_size, vit_cfg=vit_cfg,
                    epochs=epochs, seed=seed, dense=True)

    def train():
        log(f'dense pretraining of the ViT on {pair} ({len(images)} scenes, {epochs} epochs)')
        return dense_pretrain(images, masks, arch, image_size, vit_cfg, epochs, seed, log=log)

    return transfer_pairs.cached_vit(settings, train)
