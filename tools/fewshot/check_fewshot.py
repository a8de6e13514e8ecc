"""Check a few-shot folder (NOAH's layout) before anyone spends GPU hours on it.

    python tools/fewshot/check_fewshot.py ROOT [--datasets food101 ...] [--shots 1 2 4 8 16]
        [--seeds 0 1 2] [--fast] [--workers 8] [--custom-num-classes N]

For every data set (mmseg_expres/datasets/fgvc_fewshot/benchmark.py has the layout): ``test_meta.list``
and every K-shot list of the requested shots and seeds exist and parse (a missing one is
reported with the shots and seeds that are there); the test and val lists have the sizes
of NOAH's published ones; labels lie in ``[0, num_classes)``; every K-shot list holds
exactly K distinct images of every class, and no path under two labels; the K-shot lists,
the full training list and val are disjoint from test, the K-shot lists from val, and
the K-shot lists lie within the full training list where there is one; every listed image
exists and decodes; no training image has the bytes of a test image. Every problem is
reported, then the exit status is 1 if there were any (0 otherwise). Notes (e.g. NOAH's
Oxford-IIIT Pets 1-shot lists, which name every image twice) do not fail the check.
"""
import argparse
import os.path as osp
import sys
from typing import Dict, List, Optional, Sequence, Tuple

from mmseg_expres.datasets.fgvc_fewshot.benchmark import (FEWSHOT_DATASETS, SEEDS, SHOTS, FewShotDataset,
                                           describe_shot_lists, find_shot_lists,
                                           get_dataset, list_file, shot_list_name)
from mmseg_expres.datasets.fgvc_fewshot.sampling import images_per_class
from mmseg_expres.datasets.lists.checks import (check_images, examples, labels_outside,
                                               repeated_paths, report, shared_paths)
from mmseg_expres.datasets.lists.files import ListEntry, read_list_file

Findings = Tuple[List[str], List[str]]  # (problems, notes)


def check_shot_list(path: str, entries: List[ListEntry], shot: int,
                    num_classes: int) -> Findings:
    """A K-shot list holds K distinct images of every class, each under one label."""
    try:
        per_class = images_per_class(entries)
    except ValueError as err:
        return [f'{path}: {err}'], []
    wrong = [f'class {c}: {len(per_class.get(c, ()))}' for c in range(num_classes)
             if len(per_class.get(c, ())) != shot]
    problems = [f'{path}: a {shot}-shot list holds {shot} distinct images of each of the '
                f'{num_classes} classes; these differ: {examples(wrong)}'] if wrong else []
    repeats = len(entries) - sum(len(paths) for paths in per_class.values())
    notes = [f'{osp.basename(path)} names {repeats} image(s) more than once (NOAH\'s '
             'Oxford-IIIT Pets 1-shot lists do, which makes them longer than one batch of '
             '64): counted once here, trained on as often as listed'] if repeats else []
    return problems, notes


def read_lists(root: str, info: FewShotDataset, shots: Sequence[int],
               seeds: Sequence[int]) -> Tuple[Dict[str, List[ListEntry]], Findings]:
    """Parse the lists: ``test``, ``val``, ``train`` and the K-shot lists (by file name).

    Sizes, malformed lines, labels and repeated test/val/train paths are checked here.
    """
    problems, notes = [], []
    wanted = {split: list_file(root, info.name, split) for split in ('test', 'val', 'train')}
    wanted.update({shot_list_name(k, s): list_file(root, info.name, 'shots', k, s)
                   for k in shots for s in seeds})
    found = find_shot_lists(root, info.name)
    expected = dict(test=info.test_size, val=info.val_size)
    lists: Dict[str, List[ListEntry]] = {}
    for key, path in wanted.items():
        if not osp.isfile(path):
            if key == 'test' or key.startswith('train_meta.list.num_shot'):
                problems.append(f'{path} is missing' + (
                    f' ({osp.dirname(path)} has {describe_shot_lists(found)})'
                    if key != 'test' else ''))
            elif key == 'val':
                notes.append(f'{path} is missing (only needed with val_split=val)')
            continue
        entries, bad_lines = read_list_file(path)
        problems += bad_lines + labels_outside(path, entries, info.num_classes, info.name)
        lists[key] = entries
        if expected.get(key) is not None and len(entries) != expected[key]:
            problems.append(f'{path} has {len(entries)} entries, NOAH\'s list has '
                            f'{expected[key]}')
        repeated = repeated_paths(entries) if key in ('test', 'val', 'train') else []
        if repeated:
            problems.append(f'{path}: paths listed more than once: {examples(repeated)}')
    return lists, (problems, notes)


def check_relations(folder: str, lists: Dict[str, List[ListEntry]]) -> List[str]:
    """No image both trained on and tested on (or validated on); K-shot within train."""
    shot_keys = [k for k in lists if k.startswith('train_meta.list.num_shot')]
    problems = shared_paths(folder, 'val', 'test', lists) + \
        shared_paths(folder, 'train', 'test', lists)
    for key in shot_keys:
        problems += shared_paths(folder, key, 'test', lists) + \
            shared_paths(folder, key, 'val', lists)
        if 'train' in lists:
            outside = sorted({e.path for e in lists[key]} - {e.path for e in lists['train']})
            if outside:
                problems.append(f'{folder}: {key} names images that train_meta.list does '
                                f'not: {examples(outside)}')
    return problems


def check_dataset(root: str, name: str, shots: Sequence[int] = SHOTS,
                  seeds: Sequence[int] = SEEDS, decode: bool = True, workers: int = 8,
                  custom_num_classes: Optional[int] = None) -> Findings:
    """All problems and notes of one data set folder (no problems: the folder is fine)."""
    info = get_dataset(name, custom_num_classes)
    folder = osp.join(root, name)
    if not osp.isdir(folder):
        return [f'{folder} is missing: expected one folder per data set with '
                'annotations/test_meta.list and the K-shot lists '
                f'(annotations/{shot_list_name(1, 0)}, ...)'], []
    lists, (problems, notes) = read_lists(root, info, shots, seeds)
    shot_keys = [k for k in lists if k.startswith('train_meta.list.num_shot')]
    for (shot, seed) in [(k, s) for k in shots for s in seeds]:
        key = shot_list_name(shot, seed)
        if key in lists:
            more = check_shot_list(list_file(root, name, 'shots', shot, seed), lists[key],
                                   shot, info.num_classes)
            problems += more[0]
            notes += more[1]
    problems += check_relations(folder, lists)
    # The full training list is only read to draw lists; its images are not opened here.
    images = {k: v for k, v in lists.items() if k != 'train'}
    image_folder = osp.join(folder, info.image_dir) if info.image_dir else folder
    problems += check_images(image_folder, images, shot_keys, decode, workers)
    return problems, notes


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Check a few-shot folder (NOAH layout).')
    parser.add_argument('root', help='folder with one sub-folder per data set')
    parser.add_argument('--datasets', nargs='+', default=list(FEWSHOT_DATASETS),
                        metavar='DATASET', help='data sets to check (default: the five)')
    parser.add_argument('--shots', nargs='+', type=int, default=SHOTS)
    parser.add_argument('--seeds', nargs='+', type=int, default=SEEDS)
    parser.add_argument('--custom-num-classes', type=int,
                        help='class count of data sets of your own (not in the table)')
    parser.add_argument('--fast', action='store_true',
                        help='only check that images exist (no decoding, no byte '
                        'duplicates)')
    parser.add_argument('--workers', type=int, default=8, help='image-reading threads')
    args = parser.parse_args(argv)
    for name in args.datasets:
        try:
            get_dataset(name, args.custom_num_classes)
        except (KeyError, ValueError) as err:
            parser.error(str(err.args[0]))
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Check the data sets, print every problem and note, and return the exit status."""
    args = parse_args(argv)
    if not osp.isdir(args.root):
        print(f'Few-shot root {args.root!r} does not exist.')
        return 1
    return report(args.datasets, lambda name: check_dataset(
        args.root, name, args.shots, args.seeds, decode=not args.fast,
        workers=args.workers, custom_num_classes=args.custom_num_classes), 'data set')


if __name__ == '__main__':
    sys.exit(main())
