"""Check a VTAB-1k folder before anyone spends GPU hours on it.

    python tools/vtab/check_vtab.py ROOT [--tasks dtd kitti ...] [--fast] [--workers 8]

For every task: the four list files exist and parse; split sizes are 800 / 200 / 1000 and
the task's test size (mmseg_expres.datasets.vtab.benchmark.VTAB_TASKS); labels lie in
``[0, num_classes)``; train800 and val200 are disjoint and together make train800val200;
no path is listed twice or in both a training split and test; every image exists and
decodes; no training image has the same bytes as a test image. Every problem is
reported, then the exit status is 1 if there were any (0 otherwise).
"""
import argparse
import os.path as osp
import sys
from typing import Dict, List, Optional, Sequence, Tuple

from mmseg_expres.datasets.lists.checks import (check_images, examples, labels_outside,
                                               repeated_paths, report, shared_paths)
from mmseg_expres.datasets.lists.files import ListEntry, read_list_file
from mmseg_expres.datasets.vtab.benchmark import (SPLITS, VTAB_TASKS, expected_size, get_task,
                                        list_file)

TRAIN_SPLITS = ('train800', 'val200', 'train800val200')


def check_list_files(root: str, task: str) -> Tuple[Dict[str, List[ListEntry]], List[str]]:
    """Parse the four list files and check sizes, labels and split consistency."""
    info = get_task(task)
    splits: Dict[str, List[ListEntry]] = {}
    problems: List[str] = []
    for split in SPLITS:
        path = list_file(root, task, split)
        if not osp.isfile(path):
            problems.append(f'{path} is missing')
            continue
        entries, bad_lines = read_list_file(path)
        problems += bad_lines
        splits[split] = entries
        want = expected_size(task, split)
        if len(entries) != want:
            problems.append(f'{path} has {len(entries)} entries, expected {want}')
        problems += labels_outside(path, entries, info.num_classes, task)
        repeated = repeated_paths(entries)
        if repeated:
            problems.append(f'{path}: paths listed more than once: {examples(repeated)}')
    return splits, problems + _check_split_relations(root, task, splits)


def _check_split_relations(root: str, task: str,
                           splits: Dict[str, List[ListEntry]]) -> List[str]:
    folder = osp.join(root, task)
    problems = shared_paths(folder, 'train800', 'val200', splits)
    if all(s in splits for s in TRAIN_SPLITS):
        pairs = {s: {(e.path, e.label) for e in splits[s]} for s in TRAIN_SPLITS}
        if pairs['train800'] | pairs['val200'] != pairs['train800val200']:
            problems.append(f'{folder}: train800val200 is not train800 + val200 (paths or '
                            'labels differ)')
    for split in TRAIN_SPLITS:
        problems += shared_paths(folder, split, 'test', splits)
    return problems


def check_task(root: str, task: str, decode: bool = True, workers: int = 8) -> List[str]:
    """All problems of one task folder (an empty list means the task is fine)."""
    folder = osp.join(root, task)
    if not osp.isdir(folder):
        return [f'{folder} is missing: expected one folder per task with train800.txt, '
                'val200.txt, train800val200.txt and test.txt']
    splits, problems = check_list_files(root, task)
    return problems + check_images(folder, splits, TRAIN_SPLITS, decode, workers)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Check a VTAB-1k folder.')
    parser.add_argument('root', help='folder with one sub-folder per task')
    parser.add_argument('--tasks', nargs='+', default=list(VTAB_TASKS),
                        choices=list(VTAB_TASKS), metavar='TASK',
                        help='tasks to check (default: all 19)')
    parser.add_argument('--fast', action='store_true',
                        help='only check that images exist (no decoding, no byte '
                        'duplicates)')
    parser.add_argument('--workers', type=int, default=8, help='image-reading threads')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Check the tasks, print every problem, and return the exit status."""
    args = parse_args(argv)
    if not osp.isdir(args.root):
        print(f'VTAB-1k root {args.root!r} does not exist.')
        return 1
    return report(args.tasks, lambda task: (check_task(
        args.root, task, decode=not args.fast, workers=args.workers), []), 'task')


if __name__ == '__main__':
    sys.exit(main())
