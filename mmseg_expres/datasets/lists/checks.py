"""Checks that the list-file benchmarks' checkers share (VTAB-1k, FGVC few-shot).

Each check returns messages, one per kind of fault with a few examples, so a checker can
report every problem of a folder at once instead of stopping at the first.
"""
import hashlib
import io
import os.path as osp
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from .files import ListEntry

MAX_EXAMPLES = 5  # a fault that hits thousands of lines is reported once, with examples


def examples(items: Sequence[str]) -> str:
    """The first few items and, if there are more, how many in all."""
    shown = ', '.join(items[:MAX_EXAMPLES])
    return shown + (f', ... ({len(items)} in all)' if len(items) > MAX_EXAMPLES else '')


def labels_outside(path: str, entries: Sequence[ListEntry], num_classes: int,
                   name: str) -> List[str]:
    """A message if some label of ``entries`` lies outside ``[0, num_classes)``."""
    bad = [f'line {e.line_no}: {e.label}' for e in entries
           if not 0 <= e.label < num_classes]
    return [f'{path}: labels outside [0, {num_classes}) for {name}: {examples(bad)}'] \
        if bad else []


def repeated_paths(entries: Sequence[ListEntry]) -> List[str]:
    """Paths listed more than once, in order of first appearance."""
    return [p for p, n in Counter(e.path for e in entries).items() if n > 1]


def shared_paths(folder: str, first: str, second: str,
                 splits: Dict[str, List[ListEntry]]) -> List[str]:
    """A message if the lists ``first`` and ``second`` name the same image."""
    if first not in splits or second not in splits:
        return []
    both = sorted({e.path for e in splits[first]} & {e.path for e in splits[second]})
    return [f'{folder}: {first} and {second} list the same paths: {examples(both)}'] \
        if both else []


def image_digest(path: str, decode: bool) -> Tuple[Optional[str], Optional[str]]:
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


def check_images(folder: str, splits: Dict[str, List[ListEntry]],
                 train_splits: Iterable[str], decode: bool, workers: int) -> List[str]:
    """Every listed image exists (and decodes); no training image has a test image's bytes.

    Args:
        folder: the folder the list paths are relative to.
        splits: parsed lists by split name; ``'test'`` is the test split.
        train_splits: the splits whose images are trained on.
        decode: also decode every image and compare train and test bytes; else only check
            that the files exist.
        workers: image-reading threads.
    """
    listed = sorted({e.path for entries in splits.values() for e in entries})
    if not decode:
        missing = [p for p in listed if not osp.isfile(osp.join(folder, p))]
        return [f'{folder}: missing images: {examples(missing)}'] if missing else []
    with ThreadPoolExecutor(max(1, workers)) as pool:  # PIL decodes without the GIL
        results = dict(zip(listed, pool.map(
            lambda p: image_digest(osp.join(folder, p), True), listed)))
    problems = []
    unreadable = [f'{p} ({err})' for p, (_, err) in results.items() if err]
    if unreadable:
        problems.append(f'{folder}: missing or unreadable images: {examples(unreadable)}')
    test_digests = {results[e.path][0]: e.path for e in splits.get('test', [])
                    if results[e.path][0]}
    train = {e.path for s in train_splits for e in splits.get(s, [])}
    same = sorted(f'{p} = test {test_digests[results[p][0]]}' for p in train
                  if results[p][0] in test_digests and test_digests[results[p][0]] != p)
    if same:
        problems.append(f'{folder}: training images identical to test images: '
                        f'{examples(same)}')
    return problems


def missing_images(folder: str, paths: Iterable[str]) -> List[str]:
    """The listed paths that are not files under ``folder`` (a quick check, no decoding)."""
    return sorted({p for p in paths if not osp.isfile(osp.join(folder, p))})


def report(names: Sequence[str], findings_of: Callable[[str], Tuple[List[str], List[str]]],
           unit: str) -> int:
    """Print every problem (and note) of each name, then the total; return the exit status.

    Args:
        names: what was checked, e.g. task or data set names.
        findings_of: ``name -> (problems, notes)``; notes are printed but do not fail.
        unit: what a name is, for the summary line (``'task'``, ``'data set'``).

    Returns:
        1 if there was any problem, else 0.
    """
    total = 0
    for name in names:
        problems, notes = findings_of(name)
        total += len(problems)
        print(f'{name}: ' + ('ok' if not problems else f'{len(problems)} problem(s)'))
        for problem in problems:
            print(f'  - {problem}')
        for note in notes:
            print(f'  note: {note}')
    print(f'{total} problem(s) in {len(names)} {unit}(s).' if total else
          f'All {len(names)} {unit}(s) look right.')
    return 1 if total else 0
