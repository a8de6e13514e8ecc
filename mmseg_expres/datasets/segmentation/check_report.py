"""What the segmentation data check prints: problems with their fixes, a per-class table,
and the pre-training check that ``tools/train.py`` runs."""
import os.path as osp
from collections import defaultdict
from typing import List, Optional, Sequence

from .label_check import (CHECKER, SplitReport, check_split, splits_from_config,
                          zero_label_hint)


class DataCheckError(ValueError):
    """The data set's files cannot be trained on as they are."""


def format_problems(reports: Sequence[SplitReport], limit: Optional[int] = None) -> str:
    """Every problem, grouped by kind (``limit`` files shown per kind), with hints."""
    by_kind = defaultdict(list)
    for report in reports:
        for kind, path, message in report.problems:
            by_kind[kind].append(f'  {path}: {message}')
    lines = []
    for kind, items in by_kind.items():
        lines.append(f'{kind}: {len(items)} file(s)')
        shown = items if limit is None else items[:limit]
        lines += shown
        if len(shown) < len(items):
            lines.append(f'  ... and {len(items) - len(shown)} more (python {CHECKER} '
                         'lists them all)')
    hint = zero_label_hint(reports) if 'label out of range' in by_kind else None
    if hint:
        lines.append(f'hint: {hint}')
    return '\n'.join(lines)


def class_table(reports: Sequence[SplitReport], classes: Optional[Sequence[str]] = None) -> str:
    """Images and pixels per class and split; classes never seen in training flagged."""
    num_classes = max(r.spec.num_classes for r in reports)
    names = list(classes) if classes else [str(i) for i in range(num_classes)]
    width = max(len(n) for n in names + ['class'])
    header = f'{"label":>5} {"class":<{width}}' + ''.join(
        f' {r.spec.name + " images":>14} {r.spec.name + " pixels":>16}' for r in reports)
    rows = [header]
    train = next((r for r in reports if r.spec.name == 'train'), None)
    for label in range(num_classes):
        row = f'{label:>5} {names[label] if label < len(names) else "?":<{width}}'
        for report in reports:
            images, pixels = report.class_counts.get(label, (0, 0))
            row += f' {images:>14} {pixels:>16}'
        if train is not None and label not in train.class_counts:
            row += '  <- never in training: the model cannot learn it'
        rows.append(row)
    ignored = [r.class_counts.get(r.spec.ignore_index, (0, 0))[1] for r in reports]
    rows.append(f'{"":>5} {"(ignored 255)":<{width}}' + ''.join(
        f' {"":>14} {p:>16}' for p in ignored))
    return '\n'.join(rows)


#: files of one kind that the pre-training check lists (the checker lists every one)
TRAINING_CHECK_LIMIT = 50


def check_before_training(cfg, nproc: int = 2, with_options: bool = False) -> List[SplitReport]:
    """The check of every split a run reads, before its first iteration, in one round.

    Pairs images and masks (orphans both ways, missing folders: what the layout check
    finds, all at once), reads every mask's values and decodes every image (a truncated
    JPEG stops the run here, not in a loader's worker), with results cached by file size
    and mtime so that a second run reads only what changed.

    Args:
        cfg: the run's resolved config.
        nproc: reading processes.
        with_options: the run had ``--cfg-options`` (the checker needs them too).

    Raises:
        DataCheckError: any problem, every file listed (up to
            :data:`TRAINING_CHECK_LIMIT` per kind) with its fix.
    """
    reports = [check_split(spec, nproc=nproc, decode_images=True, use_cache=True)
               for spec in splits_from_config(cfg)]
    problems = sum(len(r.problems) for r in reports)
    if problems:
        config = osp.abspath(cfg.filename) if cfg.filename else 'CONFIG'
        raise DataCheckError(
            f'The data set has {problems} problem(s) that would stop or corrupt training '
            f'(found before the first iteration):\n'
            + format_problems(reports, limit=TRAINING_CHECK_LIMIT)
            + f'\nFix them, then check again with python {CHECKER} {config}'
            + (" and this run's --cfg-options" if with_options else '')
            + ' (every problem, and a per-class table), or skip this check with '
            '--no-data-check.')
    return reports


def passed_line(reports: Sequence[SplitReport]) -> str:
    """What a passed check says: pairs per split, and how many were read (not cached)."""
    splits = ', '.join(f'{r.spec.name} {r.pairs}' for r in reports)
    pairs, read = sum(r.pairs for r in reports), sum(r.read for r in reports)
    return (f'Data check passed: {pairs} image/mask pairs ({splits}); {read} pair(s) read, '
            f'{pairs - read} unchanged since their last check (cached).')
