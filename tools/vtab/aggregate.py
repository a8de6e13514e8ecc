"""Summarise VTAB-1k protocol results as the paper-style table.

    python tools/vtab/aggregate.py work_dirs/vtab_protocol/results.json [--json OUT]

Prints one row per task (selected lr and wd, val200 top-1, mean and std of test top-1
over the final seeds), the three group means, the mean of the group means and the flat
mean over all tasks, next to the published EXPRES and VPT-deep group means (method
section 6; the sources give group means only, so their flat means are not printed).
A group mean over fewer tasks than the group has is marked with the count.
"""
import argparse
import json
import statistics
from typing import Dict, List, Optional, Sequence

from mmseg_expres.datasets.vtab.benchmark import GROUPS, VTAB_TASKS, tasks_in_group
from mmseg_expres.utils.checkpoint_files import atomic_write

#: Published group means (Natural, Specialized, Structured), method section 6.
PUBLISHED: Dict[str, Dict[str, float]] = {
    'EXPRES (paper)': dict(natural=79.69, specialized=84.03, structured=54.99),
    'VPT-deep (paper)': dict(natural=78.48, specialized=82.43, structured=54.98),
}


def task_test_scores(results: dict) -> Dict[str, List[float]]:
    """Test top-1 of every final run, per task (only the runs of the selected lr x wd)."""
    scores = {}
    for task, entry in results.get('tasks', {}).items():
        best = entry.get('best')
        finals = [r['test_top1'] for r in entry.get('final', {}).values()
                  if best is None or (r['lr'], r['wd']) == (best['lr'], best['wd'])]
        if finals:
            scores[task] = finals
    return scores


def summarise(results: dict) -> dict:
    """Per-task means, group means, the mean of the group means and the flat mean.

    Returns:
        ``tasks``: {task: mean test top-1}; ``groups``: {group: mean over its tasks
        present}; ``group_counts``: {group: tasks present}; ``mean_of_groups`` (None
        unless every group has a task) and ``flat_mean`` over all tasks present.
    """
    unknown = sorted(set(results.get('tasks', {})) - set(VTAB_TASKS))
    if unknown:
        raise ValueError(f'Unknown VTAB-1k tasks in the results: {unknown}.')
    tasks = {t: statistics.fmean(v) for t, v in task_test_scores(results).items()}
    groups, counts = {}, {}
    for group in GROUPS:
        present = [tasks[t] for t in tasks_in_group(group) if t in tasks]
        counts[group] = len(present)
        if present:
            groups[group] = statistics.fmean(present)
    return dict(tasks=tasks, groups=groups, group_counts=counts,
                mean_of_groups=(statistics.fmean(groups.values())
                                if len(groups) == len(GROUPS) else None),
                flat_mean=statistics.fmean(tasks.values()) if tasks else None)


def _fmt(value: Optional[float]) -> str:
    return f'{value:6.2f}' if value is not None else '   n/a'


def format_table(results: dict, summary: dict) -> str:
    """The per-task table and the means, as printed by the command."""
    scores = task_test_scores(results)
    lines = [f'{"task":22} {"group":12} {"lr":>6} {"wd":>7} {"val200":>7} '
             f'{"test":>7} {"std":>5} seeds']
    for task, info in VTAB_TASKS.items():
        if task not in summary['tasks']:
            continue
        best = results['tasks'][task].get('best') or {}
        lines.append(
            f'{task:22} {info.group:12} {best.get("lr", float("nan")):6g} '
            f'{best.get("wd", float("nan")):7g} {_fmt(best.get("val_top1")):>7} '
            f'{_fmt(summary["tasks"][task]):>7} {statistics.pstdev(scores[task]):5.2f} '
            f'{len(scores[task])}')
    header = f'\n{"":22} ' + ' '.join(f'{g.capitalize():>11}' for g in GROUPS) + \
        f' {"mean(groups)":>12} {"flat mean":>9}'
    lines.append(header)
    ours = []
    for group in GROUPS:
        count, total = summary['group_counts'][group], len(tasks_in_group(group))
        mark = '' if count == total else f' ({count}/{total})'
        ours.append(f'{_fmt(summary["groups"].get(group)) + mark:>11}')
    lines.append(f'{"this run":22} ' + ' '.join(ours) +
                 f' {_fmt(summary["mean_of_groups"]):>12} {_fmt(summary["flat_mean"]):>9}')
    for name, groups in PUBLISHED.items():
        lines.append(f'{name:22} ' + ' '.join(f'{_fmt(groups[g]):>11}' for g in GROUPS) +
                     f' {_fmt(statistics.fmean(groups.values())):>12} {_fmt(None):>9}')
    return '\n'.join(lines)


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description='Summarise VTAB-1k protocol results.')
    parser.add_argument('results', help='results JSON written by run_protocol.py')
    parser.add_argument('--json', help='also write the summary to this JSON file')
    args = parser.parse_args(argv)
    with open(args.results, encoding='utf-8') as f:
        results = json.load(f)
    summary = summarise(results)
    if not summary['tasks']:
        raise SystemExit(f'{args.results} has no finished final runs yet.')
    print(format_table(results, summary))
    if args.json:
        with atomic_write(args.json) as f:
            json.dump(summary, f, indent=1)


if __name__ == '__main__':
    main()
