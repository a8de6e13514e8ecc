"""Write COCO-20i's semantic label PNGs and list files from COCO 2014's instances.

    python tools/dataset_converters/coco20i_masks.py data/coco [--out-dir data/coco/fewshot_seg]

Expects ``data/coco/{train2014,val2014}/*.jpg`` and
``data/coco/annotations/instances_{train,val}2014.json``; writes
``<out-dir>/{train2014,val2014}/<image>.png`` (0 background, 1..80 classes in COCO's
category order, 255 crowd) and ``<out-dir>/{train2014,val2014}.txt``.
"""
import argparse
import os.path as osp

from mmseg_expres.datasets.fewshot_seg.coco20i_masks import annotation_file, convert_split


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('coco_root', help='folder with train2014/, val2014/, annotations/')
    parser.add_argument('--out-dir', help='default: <coco_root>/fewshot_seg')
    parser.add_argument('--splits', nargs='+', default=['train2014', 'val2014'])
    args = parser.parse_args()
    out_dir = args.out_dir or osp.join(args.coco_root, 'fewshot_seg')
    try:
        for split in args.splits:
            annotation_file(args.coco_root, split)  # check every split before writing
    except FileNotFoundError as error:
        raise SystemExit(str(error))
    for split in args.splits:
        stems = convert_split(args.coco_root, split, out_dir)
        print(f'{split}: {len(stems)} masks in {osp.join(out_dir, split)}')


if __name__ == '__main__':
    main()
