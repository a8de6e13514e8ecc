"""Write the few-shot segmentation demo's data and its small random ViT.

    python tools/fewshot_seg/make_demo_data.py [--out data/fewshot_seg_demo]

* ``<out>/VOCdevkit/VOC2012``: generated scenes in PASCAL VOC's layout, as mmseg's
  ``voc_aug.py`` leaves it (mmseg_expres/datasets/demo_data/fewshot_seg.py);
* ``<out>/vit_demo.pth``: a timm state dict of the demo config's ViT, random weights.
"""
import argparse
import os
import os.path as osp

import torch
from mmengine.config import Config

from mmseg_expres.datasets.demo_data.fewshot_seg import make_pascal
from mmseg_expres.models.backbones import create_timm_vit

DEMO_CONFIG = 'configs/demo/expres_vit-demo_proto_1xb4-400it_pascal5i-480x480.py'


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default='data/fewshot_seg_demo')
    parser.add_argument('--config', default=DEMO_CONFIG,
                        help='config whose backbone the ViT checkpoint is written for')
    parser.add_argument('--num-train', type=int, default=200)
    parser.add_argument('--num-val', type=int, default=100)
    parser.add_argument('--size', type=int, default=48, help='image side in pixels')
    args = parser.parse_args()
    root = make_pascal(args.out, args.num_train, args.num_val, (args.size, args.size))
    backbone = Config.fromfile(args.config).model.backbone
    torch.manual_seed(0)
    vit = create_timm_vit(backbone.arch, backbone.img_size, backbone.vit_cfg)
    os.makedirs(args.out, exist_ok=True)
    torch.save(vit.state_dict(), osp.join(args.out, 'vit_demo.pth'))
    print(f'wrote {root} ({args.num_train} train, {args.num_val} val images) and '
          f'{osp.join(args.out, "vit_demo.pth")}')


if __name__ == '__main__':
    main()
