"""Check a VTAB-1k folder before anyone spends GPU hours on it.

    python tools/vtab/check_vtab.py ROOT [--tasks dtd kitti ...] [--fast] [--workers 8]

For every task: the four list files exist and parse; split sizes are 800 / 200 / 1000 and
the task's test size (mmseg_expres.datasets.vtab.VTAB_TASKS); labels lie in
``[0, num_classes)``; train800 and val200 are disjoint and together make train800val200;
no path is listed twice or in both a training split and test; every image exists and
decodes; no training image has the same bytes as a test image. Every problem is
reported, then the exit status is 1 if there were any (0 otherwise).
"""
import argparse
import hashlib
import io
import os.path as osp
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List, Optional, Sequence, Tuple

from mmseg_expres.datasets.vtab import (SPLITS, VTAB_TASKS, ListEntry,
                                        expected_size, get_task, list_file,
                                        read_list_file)

MAX_EXAMPLES = 5  # a fault that hits thousands of lines is reported once, with examples


def _examples(items: Sequence[str]) -> str:
    shown = ', '.join(items[:MAX_EXAMPLES])
    return shown + (f', ... ({len(items)} in all)' if len(items) > MAX_EXAMPLES else '')


def _image_digest(path: str, decode: bool) -> Tuple[Optional[str], Optional[str]]:
    """(md5 of the file's bytes, error message); the digest is None if unreadable."""
    try:
        with open(path, 'rb') as f:
            data = f.read()
    except OSError as err:
        return None, f'cannot read: {err.strerror or err}'
    if decode:
        from PIL import Image
        try:
            with Image.open(io.BytesIO(data)) as image:
                image.load()  # full decode: verify() misses truncated JPEG data
        except Exception as err:  # PIL raises many types for corrupt files
            return None, f'cannot decode: {type(err).__name__}: {err}'
    # md5 finds identical files, nothing more; it is not used for security.
    return hashlib.md5(data, usedforsecurity=False).hexdigest(), None


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
        out_of_range = [f'line {e.line_no}: {e.label}' for e in entries
                        if not 0 <= e.label < info.num_classes]
        if out_of_range:
            problems.append(f'{path}: labels outside [0, {info.num_classes}) for {task}: '
                            f'{_examples(out_of_range)}')
        repeated = [p for p, n in Counter(e.path for e in entries).items() if n > 1]
        if repeated:
            problems.append(f'{path}: paths listed more than once: {_examples(repeated)}')
    problems += _check_split_relations(root, task, splits)
    return splits, problems


def _check_split_relations(root: str, task: str,
                           splits: Dict[str, List[ListEntry]]) -> List[str]:
    problems = []
    pairs = {s: {(e.path, e.label) for e in entries} for s, entries in splits.items()}
    paths = {s: {e.path for e in entries} for s, entries in splits.items()}
    if 'train800' in paths and 'val200' in paths:
        both = sorted(paths['train800'] & paths['val200'])
        if both:
            problems.append(f'{osp.join(root, task)}: train800 and val200 share images: '
                            f'{_examples(both)}')
    if all(s in pairs for s in ('train800', 'val200', 'train800val200')):
        if pairs['train800'] | pairs['val200'] != pairs['train800val200']:
            problems.append(f'{osp.join(root, task)}: train800val200 is not train800 + '
                            'val200 (paths or labels differ)')
    if 'test' in paths:
        for split in ('train800', 'val200', 'train800val200'):
            both = sorted(paths.get(split, set()) & paths['test'])
            if both:
                problems.append(f'{osp.join(root, task)}: {split} and test list the same '
                                f'paths: {_examples(both)}')
    return problems


def check_images(root: str, task: str, splits: Dict[str, List[ListEntry]], decode: bool,
                 workers: int) -> List[str]:
    """Check that every listed image exists and decodes; find train/test byte duplicates."""
    folder = osp.join(root, task)
    listed = sorted({e.path for entries in splits.values() for e in entries})
    if not decode:
        missing = [p for p in listed if not osp.isfile(osp.join(folder, p))]
        return [f'{folder}: missing images: {_examples(missing)}'] if missing else []
    with ThreadPoolExecutor(max(1, workers)) as pool:  # PIL decodes without the GIL
        results = dict(zip(listed, pool.map(
            lambda p: _image_digest(osp.join(folder, p), True), listed)))
    problems = []
    unreadable = [f'{p} ({err})' for p, (_, err) in results.items() if err]
    if unreadable:
        problems.append(f'{folder}: missing or unreadable images: {_examples(unreadable)}')
    test_digests = {results[e.path][0]: e.path for e in splits.get('test', [])
                    if results[e.path][0]}
    train = {e.path for s in ('train800', 'val200', 'train800val200')
             for e in splits.get(s, [])}
    same = sorted(f'{p} = test {test_digests[results[p][0]]}' for p in train
                  if results[p][0] in test_digests and test_digests[results[p][0]] != p)
    if same:
        problems.append(f'{folder}: training images identical to test images: '
                        f'{_examples(same)}')
    return problems


def check_task(root: str, task: str, decode: bool = True, workers: int = 8) -> List[str]:
    """All problems of one task folder (an empty list means the task is fine)."""
    folder = osp.join(root, task)
    if not osp.isdir(folder):
        return [f'{folder} is missing: expected one folder per task with train800.txt, '
                'val200.txt, train800val200.txt and test.txt']
    splits, problems = check_list_files(root, task)
    return problems + check_images(root, task, splits, decode, workers)


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
    total = 0
    for task in args.tasks:
        problems = check_task(args.root, task, decode=not args.fast, workers=args.workers)
        total += len(problems)
        print(f'{task}: ' + ('ok' if not problems else f'{len(problems)} problem(s)'))
        for problem in problems:
            print(f'  - {problem}')
    print(f'{total} problem(s) in {len(args.tasks)} task(s).' if total else
          f'All {len(args.tasks)} task(s) look right.')
    return 1 if total else 0


if __name__ == '__main__':
    sys.exit(main())
