"""Check a segmentation data set before training: every problem, and a per-class table.

    python tools/check_seg_data.py CONFIG [--cfg-options data_root=... classes=...]
    python tools/check_seg_data.py DATA_ROOT --num-classes C   (or --classes classes.txt)
        [--img-dir images] [--ann-dir annotations] [--splits training validation]
        [--img-suffix .jpg] [--seg-map-suffix .png] [--reduce-zero-label]

Pairs every image with its mask (orphans both ways), checks that each mask has its
image's size as shown (a phone photo's EXIF orientation applied, as training reads it;
masks drawn on a photo's stored pixels are named), one channel (a colour mask is named,
with the converter as the fix) and values in [0, C) or 255 (none above 255 in 16-bit
masks), decodes every file, and prints images and pixels per class and split, flagging
classes that never occur in training. Every problem comes with its fix. Reads in
parallel (--nproc) with a progress bar; exits 1 if there is any problem.
"""
import argparse
import os.path as osp
import sys

# Only the standard library before the arguments are parsed: --help and argument errors
# are answered without importing torch or mmseg; main imports what the check needs.


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('source', help='a segmentation config, or a data set folder')
    parser.add_argument('--cfg-options', nargs='+', metavar='KEY=VALUE',
                        help='config overrides, e.g. data_root=... classes=...')
    parser.add_argument('--num-classes', type=int, help='(folder) number of classes')
    parser.add_argument('--classes', help='(folder) classes file, one name a line '
                        '(default: DATA_ROOT/classes.txt if it exists)')
    parser.add_argument('--img-dir', default='images')
    parser.add_argument('--ann-dir', default='annotations')
    parser.add_argument('--splits', nargs='+', default=['training', 'validation'],
                        help='(folder) split sub-folders; the first is the training split')
    parser.add_argument('--img-suffix', default='.jpg')
    parser.add_argument('--seg-map-suffix', default='.png')
    parser.add_argument('--reduce-zero-label', action='store_true',
                        help='(folder) 0 marks unlabelled pixels, classes are 1..C')
    parser.add_argument('--nproc', type=int, default=2, help='reading processes')
    args = parser.parse_args()
    if not osp.exists(args.source):
        parser.error(f'no config file or data set folder {args.source}')
    return args


def folder_splits(args: argparse.Namespace):
    """The splits of a data set folder in the template's layout, and its class names."""
    from mmseg_expres.datasets.segmentation.classes import read_classes
    from mmseg_expres.datasets.segmentation.label_check import SplitSpec
    names = None
    classes = args.classes or osp.join(args.source, 'classes.txt')
    if args.classes or osp.isfile(classes):
        names = read_classes(classes)
    num_classes = args.num_classes or (len(names) if names else None)
    if num_classes is None:
        sys.exit('Give --num-classes C or --classes FILE (or put classes.txt in the folder).')
    if names and len(names) != num_classes:
        sys.exit(f'--num-classes {num_classes} but {classes} names {len(names)} classes; '
                 'drop --num-classes or fix the file.')
    specs = [SplitSpec(name='train' if i == 0 else split,
                       img_dir=osp.join(args.source, args.img_dir, split),
                       seg_dir=osp.join(args.source, args.ann_dir, split),
                       num_classes=num_classes, img_suffix=args.img_suffix,
                       seg_suffix=args.seg_map_suffix,
                       reduce_zero_label=args.reduce_zero_label)
             for i, split in enumerate(args.splits)]
    return specs, names


def main() -> int:
    args = parse_args()
    from mmseg_expres.apis import load_config
    from mmseg_expres.apis.runner_setup import parse_cfg_options
    from mmseg_expres.datasets.segmentation.check_report import class_table, format_problems
    from mmseg_expres.datasets.segmentation.label_check import check_split, splits_from_config
    if osp.isfile(args.source) and args.source.endswith('.py'):
        cfg = load_config(args.source, parse_cfg_options(args.cfg_options))
        specs = splits_from_config(cfg)
        from mmseg.registry import DATASETS
        dataset = cfg.train_dataloader.dataset
        names = ((dataset.get('metainfo') or {}).get('classes')
                 or getattr(DATASETS.get(dataset.type), 'METAINFO', {}).get('classes'))
        if not specs:
            sys.exit(f'{args.source} reads no segmentation folders (not a semantic '
                     'segmentation config?).')
    else:
        specs, names = folder_splits(args)
    reports = []
    for spec in specs:
        print(f'{spec.name}: {spec.img_dir} + {spec.seg_dir}', flush=True)
        reports.append(check_split(spec, nproc=args.nproc))
        print(flush=True)
    print(class_table(reports, names))
    problems = sum(len(r.problems) for r in reports)
    pairs = sum(r.pairs for r in reports)
    if problems:
        print(f'\n{problems} problem(s) in {pairs} image/mask pairs:\n'
              + format_problems(reports))
        return 1
    print(f'\nOK: {pairs} image/mask pairs, no problem found.')
    return 0


if __name__ == '__main__':
    sys.exit(main())
