"""Read the metrics a ``tools/test.py`` run wrote, and print the few-shot results table."""
import glob
import json
import os.path as osp
from typing import Dict, Optional, Sequence

#: results[f'fold{f}/shot{k}'] = {'mIoU': ..., 'FB-IoU': ..., 'episodes': ...}
Results = Dict[str, Dict[str, float]]


def result_key(fold: int, shot: int) -> str:
    return f'fold{fold}/shot{shot}'


def read_test_metrics(test_dir: str) -> Optional[Dict[str, float]]:
    """The metrics of the latest ``tools/test.py`` run in ``test_dir``, or None.

    MMEngine's LoggerHook writes them to ``<test_dir>/<timestamp>/<timestamp>.json``.
    """
    paths = sorted(p for p in glob.glob(osp.join(test_dir, '*', '*.json'))
                   if osp.basename(osp.dirname(p)) + '.json' == osp.basename(p))
    for path in reversed(paths):
        with open(path, encoding='utf-8') as f:
            metrics = json.load(f)
        if 'mIoU' in metrics:
            return {k: metrics[k] for k in ('mIoU', 'FB-IoU', 'episodes')}
    return None


def fold_table(results: Results, folds: Sequence[int], shots: Sequence[int]) -> str:
    """The paper-style table: mIoU per fold, their mean, and the mean FB-IoU, per shot.

    A fold without a result shows ``-`` and the means are left empty, so a partial table
    never passes for a complete one.
    """
    header = ['shot', *[f'fold{f}' for f in folds], 'mean', 'FB-IoU']
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    for shot in shots:
        rows = [results.get(result_key(f, shot)) for f in folds]
        cells = [f'{r["mIoU"]:.1f}' if r else '-' for r in rows]
        complete = all(rows)
        mean = sum(r['mIoU'] for r in rows) / len(rows) if complete else None
        fb = sum(r['FB-IoU'] for r in rows) / len(rows) if complete else None
        lines.append('| ' + ' | '.join([f'{shot}-shot', *cells,
                                        f'{mean:.1f}' if complete else '',
                                        f'{fb:.1f}' if complete else '']) + ' |')
    return '\n'.join(lines)
