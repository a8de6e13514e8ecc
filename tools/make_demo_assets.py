"""Write what the demo needs and cannot download: a data set and a ViT checkpoint.

    python tools/make_demo_assets.py [--out data/demo]

* ``<out>/ADEChallengeData2016``: generated scenes in ADE20K's folder layout;
* ``<out>/vit_demo.pth``: a timm state dict of the demo's small ViT. Its weights are
  random (no pretrained weights can be downloaded here): it exercises the real loading,
  audit and training path, and the demo's mIoU says nothing about EXPRES on real data.
"""
import argparse
import os
import os.path as osp
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from mmseg_expres.datasets.synthetic import make_ade20k  # noqa: E402
from mmseg_expres.models.backbones import create_timm_vit  # noqa: E402

DEMO_VIT = dict(arch='vit_small_patch16_224', img_size=128,
                vit_cfg=dict(patch_size=8, embed_dim=96, depth=6, num_heads=3))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default='data/demo', help='output folder')
    parser.add_argument('--num-train', type=int, default=120)
    parser.add_argument('--num-val', type=int, default=20)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    data_root = make_ade20k(args.out, args.num_train, args.num_val)
    torch.manual_seed(0)
    vit = create_timm_vit(DEMO_VIT['arch'], DEMO_VIT['img_size'], DEMO_VIT['vit_cfg'])
    ckpt = osp.join(args.out, 'vit_demo.pth')
    torch.save(vit.state_dict(), ckpt)
    print(f'wrote {args.num_train}+{args.num_val} scenes to {data_root} and {ckpt}')


if __name__ == '__main__':
    main()
