"""Segment a new class in a query image from a few annotated support images.

    python tools/fewshot_seg/segment.py CONFIG CHECKPOINT --query QUERY.jpg \\
        --supports S1.jpg [S2.jpg ...] --masks M1.png [M2.png ...] \\
        [--class-id C | --color R,G,B] [--ignore-index 255] [--resize-masks] \\
        [--out query_mask.png] [--cfg-options model.backbone.pretrained=PATH]

Writes the picture (the query with the predicted class tinted red) to ``--out`` and the
binary mask (0/1 PNG) next to it as ``<out>_mask.png``. The masks are read by
``mmseg_expres.apis.support_masks`` (docs/fewshot.md lists the formats): a mask with
two values (0/1, 0/255) marks the object with the non-zero one; label maps and palette
PNGs need ``--class-id``, colour masks ``--color``; nothing is ignored unless
``--ignore-index`` says so.
"""
import argparse
import os
import os.path as osp

import mmcv
from mmengine.config import Config, DictAction

from mmseg_expres.apis import fewshot_segment, init_model
from mmseg_expres.apis.support_masks import SupportMaskError, parse_color
from mmseg_expres.visualization import OBJECT_RGB, overlay_mask


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--query', required=True)
    parser.add_argument('--supports', nargs='+', required=True)
    parser.add_argument('--masks', nargs='+', required=True)
    parser.add_argument('--class-id', type=int, help="the class's value in label masks")
    parser.add_argument('--color', type=parse_color,
                        help="the class's R,G,B in colour masks")
    parser.add_argument('--ignore-index', type=int, help='a mask value to ignore, e.g. 255')
    parser.add_argument('--resize-masks', action='store_true',
                        help='resize masks of another size than their image (nearest)')
    parser.add_argument('--out', default='fewshot_seg_result.png')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='e.g. model.backbone.pretrained=PATH')
    args = parser.parse_args()
    for path in [args.config, args.checkpoint, args.query, *args.supports, *args.masks]:
        if not osp.isfile(path):
            raise SystemExit(f'No such file: {path}')
    if len(args.supports) != len(args.masks):
        raise SystemExit(f'{len(args.supports)} support images but {len(args.masks)} masks: '
                         'give one mask per support image, in the same order.')
    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(args.cfg_options)
    model = init_model(cfg, args.checkpoint, device=args.device)
    try:
        mask = fewshot_segment(model, args.query, args.supports, args.masks, args.class_id,
                               color=args.color, ignore_index=args.ignore_index,
                               resize_masks=args.resize_masks)
    except SupportMaskError as error:
        raise SystemExit(f'error: {error}') from error
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    mmcv.imwrite(overlay_mask(mmcv.imread(args.query), mask, OBJECT_RGB[::-1]), args.out)
    mask_path = osp.splitext(args.out)[0] + '_mask.png'
    mmcv.imwrite(mask, mask_path)
    print(f'{int(mask.sum())} of {mask.size} pixels are the class; picture: {args.out}, '
          f'mask: {mask_path}')


if __name__ == '__main__':
    main()
