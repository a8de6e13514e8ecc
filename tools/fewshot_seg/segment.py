"""Segment a new class in query images from a few annotated support images.

    python tools/fewshot_seg/segment.py CONFIG CHECKPOINT --query QUERY.jpg [Q2.jpg ...] \\
        --supports S1.jpg [S2.jpg ...] --masks M1.png [M2.png ...] \\
        [--class-id C | --color R,G,B] [--ignore-index 255] [--resize-masks] \\
        [--out query_seg.png | --out-dir DIR] [--batch-size 8] \\
        [--cfg-options model.backbone.pretrained=PATH]

Writes the picture (the query with the predicted class tinted red) to ``--out`` and the
binary mask (0/1 PNG) next to it as ``<out>_mask.png``; several queries need
``--out-dir``, which gets ``<query name>.png`` and ``<query name>_mask.png`` for each.
The supports are read and encoded once for all the queries, which go through the model
``--batch-size`` at a time (videos and folders: ``tools/infer.py --support``). The masks
are read by ``mmseg_expres.apis.support_masks`` (docs/fewshot.md lists the formats): a
mask with two values (0/1, 0/255) marks the object with the non-zero one; label maps and
palette PNGs need ``--class-id``, colour masks ``--color``; nothing is ignored unless
``--ignore-index`` says so.
"""
import argparse
import os
import os.path as osp

from typing import List, Tuple

import mmcv
import numpy as np
from mmengine.config import DictAction

from mmseg_expres.apis import init_model
from mmseg_expres.apis.fewshot_seg import (QUERY_BATCH_SIZE, encode_supports,
                                           prepare_supports, segment_queries)
from mmseg_expres.apis.media import expand_inputs, read_image
from mmseg_expres.apis.support_masks import parse_color
from mmseg_expres.visualization import OBJECT_RGB, overlay_mask


def output_paths(queries: List[str], out: str, out_dir: str) -> List[Tuple[str, str]]:
    """(picture, mask) paths of each query: ``--out`` for one, ``--out-dir`` for many."""
    if out_dir is None:
        if len(queries) > 1:
            raise SystemExit(f'{len(queries)} queries: give --out-dir for their pictures '
                             'and masks (--out names the picture of a single query).')
        return [(out, osp.splitext(out)[0] + '_mask.png')]
    sources, _ = expand_inputs(queries)  # each file once, names made unique
    if len(sources) < len(queries):
        raise SystemExit('A query is given twice: give each query once.')
    videos = [s.path for s in sources if s.is_video]
    if videos:
        raise SystemExit(f'{videos[0]} is a video: segment videos with tools/infer.py '
                         'CONFIG CHECKPOINT VIDEO --support IMAGE MASK --out-dir DIR.')
    return [(osp.join(out_dir, f'{s.name}.png'), osp.join(out_dir, f'{s.name}_mask.png'))
            for s in sources]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--query', nargs='+', required=True, help='one or more images')
    parser.add_argument('--supports', nargs='+', required=True)
    parser.add_argument('--masks', nargs='+', required=True)
    parser.add_argument('--class-id', type=int, help="the class's value in label masks")
    parser.add_argument('--color', type=parse_color,
                        help="the class's R,G,B in colour masks")
    parser.add_argument('--ignore-index', type=int, help='a mask value to ignore, e.g. 255')
    parser.add_argument('--resize-masks', action='store_true',
                        help='resize masks of another size than their image (nearest)')
    parser.add_argument('--out', default='fewshot_seg_result.png',
                        help="a single query's picture (its mask: <out>_mask.png)")
    parser.add_argument('--out-dir', help='the pictures and masks of several queries')
    parser.add_argument('--batch-size', type=int, default=QUERY_BATCH_SIZE,
                        help='queries per forward (the supports are encoded once)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='e.g. model.backbone.pretrained=PATH')
    args = parser.parse_args()
    for path in [args.config, args.checkpoint, *args.query, *args.supports, *args.masks]:
        if not osp.isfile(path):
            raise SystemExit(f'No such file: {path}')
    if len(args.supports) != len(args.masks):
        raise SystemExit(f'{len(args.supports)} support images but {len(args.masks)} masks: '
                         'give one mask per support image, in the same order.')
    if args.batch_size < 1:
        raise SystemExit(f'--batch-size must be >= 1, got {args.batch_size}.')
    outputs = output_paths(args.query, args.out, args.out_dir)
    model = init_model(args.config, args.checkpoint, args.device, args.cfg_options)
    try:
        supports = encode_supports(model, prepare_supports(
            model, args.supports, args.masks, args.class_id, color=args.color,
            ignore_index=args.ignore_index, resize_masks=args.resize_masks))
    except ValueError as error:  # SupportMaskError: a mask that cannot be read as meant
        raise SystemExit(f'error: {error}') from error
    for start in range(0, len(args.query), args.batch_size):
        paths = args.query[start:start + args.batch_size]
        try:
            queries = [read_image(path) for path in paths]
        except ValueError as error:
            raise SystemExit(f'error: {error}') from error
        masks = segment_queries(model, queries, supports, args.batch_size)
        for query, mask, (picture, mask_path) in zip(
                queries, masks, outputs[start:start + args.batch_size]):
            write_result(query, mask, picture, mask_path)


def write_result(query: np.ndarray, mask: np.ndarray, picture: str,
                 mask_path: str) -> None:
    """The query tinted where the class is, and the 0/1 mask; one line on stdout."""
    os.makedirs(osp.dirname(osp.abspath(picture)), exist_ok=True)
    mmcv.imwrite(overlay_mask(query, mask, OBJECT_RGB[::-1]), picture)
    mmcv.imwrite(mask, mask_path)
    print(f'{int(mask.sum())} of {mask.size} pixels are the class; picture: {picture}, '
          f'mask: {mask_path}')


if __name__ == '__main__':
    main()
