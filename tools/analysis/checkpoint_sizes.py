"""Size of a task checkpoint versus a self-contained one for a config's model.

    python tools/analysis/checkpoint_sizes.py configs/expres/expres_vit-b16_upernet_8xb2-80k_ade20k-512x512.py

Builds the model with random weights (no pretrained file needed), saves its state dict
as ``TaskCheckpointHook`` does (frozen ViT left out) and whole, and prints both sizes.
Checkpoints written during training also hold the optimizer state of the trainable
parameters (about twice their size with AdamW).
"""
import argparse
import os
import os.path as osp
import tempfile

import torch
from mmengine.config import Config

from mmseg_expres.apis import init_model
from mmseg_expres.engine import strip_frozen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    args = parser.parse_args()
    cfg = Config.fromfile(args.config)
    cfg.model.backbone.pretrained = None
    model = init_model(cfg)
    full = model.state_dict()
    task = strip_frozen(full, model)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    with tempfile.TemporaryDirectory() as tmp:
        sizes = {}
        for name, state in (('task', task), ('self-contained', full)):
            path = osp.join(tmp, f'{name}.pth')
            torch.save({'state_dict': state}, path)
            sizes[name] = os.path.getsize(path) / 2**20
    print(f'{osp.basename(args.config)}: {trainable:,} trainable parameters')
    print(f'task checkpoint (weights only):           {sizes["task"]:8.1f} MiB')
    print(f'self-contained checkpoint (weights only): {sizes["self-contained"]:8.1f} MiB')


if __name__ == '__main__':
    main()
