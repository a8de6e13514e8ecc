"""Summarise few-shot protocol results: one row per method, one column per shot.

    python tools/fewshot/aggregate.py work_dirs/fewshot/expres/results.json \
        work_dirs/fewshot/vpt-deep/results.json ... [--names EXPRES VPT-deep ...] [--json OUT]

One results file per method (tools/fewshot/run_protocol.py). For every data set, a block
with one row per method and one column per shot: top-1 on the test split, averaged over
the list seeds, with the population standard deviation over the seeds (``mean ±std``; a
cell with fewer seeds than the others is marked ``*``). A last block holds the mean over
the data sets: per seed the mean over the data sets, then mean and spread over the
seeds; ``(k/n)`` marks a mean over k of the n data sets. Under each block, the published
values of NOAH, VPT, LoRA and Adapter (single numbers, no spread; source below).
"""
import argparse
import json
import os.path as osp
import statistics
from collections import defaultdict
from typing import Dict, List, Optional, Sequence

from mmseg_expres.datasets.fgvc_fewshot.benchmark import FEWSHOT_DATASETS
from mmseg_expres.utils.checkpoint_files import atomic_write

#: Top-1 (%) by method, data set and shot, as published: NOAH plots them (Zhang et al.,
#: "Neural Prompt Search", 2022, Figure 4, ViT-B/16 ImageNet-21k) without a table; these
#: are the values FacT's author posted for FacT's Figure 6 (Jie & Deng, AAAI 2023), which
#: reuses NOAH's baselines (github.com/JieShibo/PETL-ViT/issues/11). GLoRA's author posted
#: the same NOAH values, and the same VPT values as far as the thread could be read
#: (github.com/Arnav0400/ViT-Slim/issues/14).
_PUBLISHED_TABLE = """
method   shot  food101  standford-cars  oxford-flowers102  fgvc-aircraft  oxford-pets
NOAH        1     31.8             7.3               88.1            8.2         69.7
NOAH        2     51.6            13.2               96.9           13.5         78.1
NOAH        4     63.8            25.5               98.1           23.1         84.9
NOAH        8     71.5            46.2               99.4           34.0         88.0
NOAH       16     76.3            68.6               99.5           49.1         89.0
VPT         1     23.5             5.5               58.8            6.4         56.8
VPT         2     46.7             9.6               95.4           11.2         66.1
VPT         4     60.6            20.7               98.0           19.0         85.3
VPT         8     67.8            33.5               99.2           28.9         88.6
VPT        16     72.6            56.0               99.4           42.5         89.6
LoRA        1     31.8             6.7               88.5            9.0         68.6
LoRA        2     48.7            13.5               96.4           13.5         76.1
LoRA        4     59.0            26.4               98.1           22.1         85.7
LoRA        8     66.4            45.9               99.1           34.6         87.3
LoRA       16     72.5            68.2               99.6           47.6         88.7
Adapter     1     31.4             7.5               88.6            9.1         68.0
Adapter     2     49.0            13.4               96.3           13.3         76.3
Adapter     4     59.8            23.7               98.1           21.1         85.8
Adapter     8     66.8            39.9               99.2           32.0         88.2
Adapter    16     71.7            60.4               99.5           45.2         89.1
"""


def _parse_published(table: str) -> Dict[str, Dict[str, Dict[int, float]]]:
    """``{method: {data set: {shot: top-1}}}`` from the text table above."""
    header, *rows = table.strip().splitlines()
    columns = header.split()[2:]
    published: Dict[str, Dict[str, Dict[int, float]]] = {}
    for row in rows:
        method, shot, *values = row.split()
        for name, value in zip(columns, values, strict=True):
            published.setdefault(method, {}).setdefault(name, {})[int(shot)] = float(value)
    return published


PUBLISHED = _parse_published(_PUBLISHED_TABLE)
_COLUMNS = tuple(PUBLISHED['NOAH'])
SOURCE = ('published: NOAH, Figure 4 (Zhang et al. 2022), values as posted in '
          'JieShibo/PETL-ViT#11; NOAH reports the best test accuracy over epochs, this '
          'protocol the last epoch\'s')


def method_name(results: dict) -> str:
    """The method of a results file: its config's first name part, e.g. ``vpt-deep``."""
    return osp.basename(results['settings']['config']).split('_')[0]


def seed_scores(results: dict) -> Dict[str, Dict[int, Dict[int, float]]]:
    """Test top-1 of every recorded run as ``{data set: {shot: {seed: top-1}}}``."""
    scores: Dict[str, Dict[int, Dict[int, float]]] = defaultdict(lambda: defaultdict(dict))
    for dataset, runs in results.get('datasets', {}).items():
        for run in runs.values():
            scores[dataset][run['shot']][run['seed']] = run['test_top1']
    return scores


def _stats(values: Sequence[float]) -> dict:
    return dict(mean=statistics.fmean(values), std=statistics.pstdev(values),
                seeds=len(values))


def summarise(results: dict) -> dict:
    """Per data set and shot, and per shot over the data sets: mean, std, seed count.

    Returns:
        ``cells``: {data set: {shot: {mean, std, seeds}}}; ``means``: {shot: {mean, std,
        seeds, datasets}}, where ``std`` is over the seeds of the per-seed mean over the
        data sets, or None when the data sets do not share their seeds.
    """
    scores = seed_scores(results)
    cells = {d: {k: _stats(list(by_seed.values())) for k, by_seed in shots.items()}
             for d, shots in scores.items()}
    means = {}
    for shot in sorted({k for shots in scores.values() for k in shots}):
        present = {d: shots[shot] for d, shots in scores.items() if shot in shots}
        seed_sets = {frozenset(by_seed) for by_seed in present.values()}
        mean = statistics.fmean(cells[d][shot]['mean'] for d in present)
        std, seeds = None, None
        if len(seed_sets) == 1:
            per_seed = [statistics.fmean(present[d][s] for d in present)
                        for s in sorted(next(iter(seed_sets)))]
            std, seeds = statistics.pstdev(per_seed), len(per_seed)
        means[shot] = dict(mean=mean, std=std, seeds=seeds, datasets=len(present))
    return dict(cells=cells, means=means)


def _cell(stats: Optional[dict], most_seeds: int) -> str:
    """``mean ±std`` in 14 columns; ``*`` when the cell has fewer seeds than the most."""
    if not stats:
        return f'{"-":>14}'
    spread = f' ±{stats["std"]:4.2f}' if stats['std'] is not None else ' ' * 6
    mark = '*' if stats['seeds'] is not None and stats['seeds'] < most_seeds else ' '
    return f' {stats["mean"]:6.2f}{spread}{mark}'


def _published_row(dataset: str, shots: Sequence[int],
                   datasets: Sequence[str]) -> Dict[str, List[Optional[float]]]:
    """The published values of ``dataset``, or of ``'mean'``: their mean over the five.

    The mean only where the table holds the five data sets and nothing else, so that it
    is comparable.
    """
    rows = {}
    if dataset == 'mean' and sorted(datasets) != sorted(_COLUMNS):
        return rows
    for method, values in PUBLISHED.items():
        if dataset == 'mean':
            rows[method] = [statistics.fmean(values[d][k] for d in _COLUMNS)
                            if k in values[_COLUMNS[0]] else None for k in shots]
        elif dataset in values:
            rows[method] = [values[dataset].get(k) for k in shots]
    return rows


def format_table(summaries: Dict[str, dict]) -> str:
    """The blocks printed by the command: one per data set, then the mean."""
    present = {d for s in summaries.values() for d in s['cells']}
    datasets = [d for d in FEWSHOT_DATASETS if d in present] + sorted(
        present - set(FEWSHOT_DATASETS))
    shots = sorted({k for s in summaries.values() for k in s['means']})
    most_seeds = max(c['seeds'] for s in summaries.values() for by_shot in s['cells'].values()
                     for c in by_shot.values())
    header = ''.join(f'{f"{k}-shot":>14}' for k in shots)
    titles = {d: (f'{FEWSHOT_DATASETS[d].title} ({d})' if d in FEWSHOT_DATASETS else d)
              for d in datasets}
    titles['mean'] = 'mean over data sets'
    width = max(len(t) for t in [*titles.values(), *summaries, 'Adapter (published)']) + 2
    lines = []
    for dataset in datasets + ['mean']:
        lines += ['', f'{titles[dataset]:{width}}{header}']
        for method, summary in summaries.items():
            row = ([summary['means'].get(k) for k in shots] if dataset == 'mean' else
                   [summary['cells'].get(dataset, {}).get(k) for k in shots])
            partial = [f'{k}-shot {m["datasets"]}/{len(datasets)}' for k, m in zip(shots, row)
                       if dataset == 'mean' and m and m['datasets'] < len(datasets)]
            lines.append(f'{method:{width}}' + ''.join(_cell(m, most_seeds) for m in row) +
                         (f'  ({", ".join(partial)} data sets)' if partial else ''))
        for method, values in _published_row(dataset, shots, datasets).items():
            digits = 2 if dataset == 'mean' else 1  # as published; the mean is ours
            lines.append(f'{method + " (published)":{width}}' + ''.join(
                f' {v:6.{digits}f}{"":7}' if v is not None else f'{"-":>14}' for v in values))
    legend = 'mean ±std over list seeds; * fewer seeds than the others'
    if any(d in FEWSHOT_DATASETS for d in datasets):
        legend += f'; {SOURCE}; their mean over the five data sets is computed here'
    return '\n'.join(lines + ['', legend + '.'])


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description='Summarise few-shot protocol results.')
    parser.add_argument('results', nargs='+', help='results JSON of each method')
    parser.add_argument('--names', nargs='+', help='row names (default: from the configs)')
    parser.add_argument('--json', help='also write the summaries to this JSON file')
    args = parser.parse_args(argv)
    if args.names and len(args.names) != len(args.results):
        parser.error(f'{len(args.names)} --names for {len(args.results)} results files.')
    loaded = []
    for path in args.results:
        with open(path, encoding='utf-8') as f:
            loaded.append(json.load(f))
    names = args.names or [method_name(r) for r in loaded]
    if len(set(names)) != len(names):
        parser.error(f'Two results files are both called {names}; name the rows with '
                     '--names.')
    summaries = {name: summarise(r) for name, r in zip(names, loaded)}
    empty = [path for path, s in zip(args.results, summaries.values()) if not s['cells']]
    if empty:
        raise SystemExit(f'No finished runs in {", ".join(empty)} yet.')
    print(format_table(summaries))
    if args.json:
        with atomic_write(args.json) as f:
            json.dump(summaries, f, indent=1)


if __name__ == '__main__':
    main()
