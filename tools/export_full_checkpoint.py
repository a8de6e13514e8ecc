"""Write a self-contained checkpoint (frozen ViT included) from a task checkpoint.

    python tools/export_full_checkpoint.py CONFIG TASK_CKPT OUT.pth [--merge]

Task checkpoints hold the prompts, neck and heads and need the pretrained ViT named in
the config. The exported file also holds the ViT, so users without the pretrained file
can run it with ``model.backbone.pretrained=None``; a config that says so is written next
to it (``OUT.py``) for ``init_model``/``MMSegInferencer``/``tools/test.py``.

``--merge`` (LoRA and SSF, ``PeftViT``) folds the tuned tensors into the ViT's weights:
the exported model is a plain ViT with the heads, at plain-ViT inference cost
(``model.backbone.merged=True`` in ``OUT.py``).
"""
import argparse
import os
import os.path as osp

import torch
from mmengine.config import Config

from mmseg_expres.apis import init_model
from mmseg_expres.utils.checkpoint_files import atomic_write


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('task_checkpoint')
    parser.add_argument('out')
    parser.add_argument('--merge', action='store_true',
                        help='fold LoRA or SSF into the ViT weights (PeftViT configs)')
    args = parser.parse_args()

    cfg = Config.fromfile(args.config)
    # The backbone's fingerprint check fails here if the config's ViT is not the one the
    # task checkpoint was trained with.
    model = init_model(cfg, args.task_checkpoint)
    if args.merge:
        if not hasattr(model.backbone, 'merge_'):
            raise SystemExit(f'--merge folds LoRA or SSF into the ViT; this config\'s backbone '
                             f'is {type(model.backbone).__name__}. Export without --merge.')
        model.backbone.merge_()  # refuses AdaptFormer, naming the methods that merge
        cfg.model.backbone.merged = True
    task = torch.load(args.task_checkpoint, map_location='cpu', weights_only=True)
    meta = dict(task.get('meta', {}), task_checkpoint=False)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    with atomic_write(args.out, 'wb') as f:  # never a truncated file under the name
        torch.save({'meta': meta, 'state_dict': model.state_dict()}, f)

    cfg.model.backbone.pretrained = None
    out_cfg = osp.splitext(args.out)[0] + '.py'
    cfg.dump(out_cfg)
    print(f'wrote {args.out} ({osp.getsize(args.out) / 2**20:.1f} MiB) and {out_cfg} '
          '(its backbone.pretrained is None: the weights come from the checkpoint)')


if __name__ == '__main__':
    main()
