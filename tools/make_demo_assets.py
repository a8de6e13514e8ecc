"""Write what the demo needs and cannot download: a data set and a ViT checkpoint.

    python tools/make_demo_assets.py [--out data/demo] [--vit-only | --custom]

* ``<out>/ADEChallengeData2016``: generated scenes in ADE20K's folder layout;
* ``<out>/vit_demo.pth``: a timm state dict of the small ViT that the demo config's
  backbone describes (``arch``, ``img_size``, ``vit_cfg`` are read from it). Its weights are
  random (no pretrained weights can be downloaded here): it exercises the real loading,
  audit and training path, and the demo's mIoU says nothing about EXPRES on real data.

``--vit-only`` writes the checkpoint alone; ``--custom`` writes the scenes as a data set
of your own would be (``<out>/my_dataset``: four named classes in ``classes.txt``, the
custom-data template's layout; docs/custom_data.md). The default ``--config`` is found
from any working directory.
"""
import argparse
import os
import os.path as osp

import torch
from mmengine.config import Config

from mmseg_expres.datasets.demo_data.segmentation import make_ade20k, make_custom
from mmseg_expres.models.backbones import create_timm_vit

DEMO_CONFIG = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'configs', 'demo',
                       'expres_vit-demo_upernet_1xb4-300it_ade20k-128x128.py')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default='data/demo', help='output folder')
    parser.add_argument('--config', default=DEMO_CONFIG,
                        help='config whose backbone the ViT checkpoint is written for')
    parser.add_argument('--num-train', type=int, default=120)
    parser.add_argument('--num-val', type=int, default=20)
    layout = parser.add_mutually_exclusive_group()
    layout.add_argument('--vit-only', action='store_true',
                        help='write the ViT checkpoint only, no scenes')
    layout.add_argument('--custom', action='store_true',
                        help='write the scenes in the custom-data layout (my_dataset/)')
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    data_root = None
    if args.custom:
        data_root = make_custom(osp.join(args.out, 'my_dataset'), args.num_train, args.num_val)
    elif not args.vit_only:
        data_root = make_ade20k(args.out, args.num_train, args.num_val)
    backbone = Config.fromfile(args.config).model.backbone
    torch.manual_seed(0)
    vit = create_timm_vit(backbone.arch, backbone.img_size, backbone.vit_cfg)
    ckpt = osp.join(args.out, 'vit_demo.pth')
    torch.save(vit.state_dict(), ckpt)
    scenes = f'{args.num_train}+{args.num_val} scenes to {data_root} and ' if data_root else ''
    print(f'wrote {scenes}{ckpt}')


if __name__ == '__main__':
    main()
