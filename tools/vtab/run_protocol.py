"""Run the VTAB-1k tuning protocol (method section 6) for one task, several, or all 19.

    python tools/vtab/run_protocol.py --vtab-root data/vtab-1k --tasks dtd kitti \
        --work-dir work_dirs/vtab_protocol [--protocol vpt|noah] [--lrs 50 25 ...] \
        [--wds 0.01 ...] [--num-tokens 1 5 10 50 100 200] [--seeds 42 44 82 100 800] \
        [--launcher none|pytorch|slurm] [--dry-run] [--cfg-options key=value ...]

Per task (``--protocol vpt``, the default: VPT's and EXPRES's):
1. grid: train on train800 for every (lr, wd) (and K, with ``--num-tokens``: VPT selects
   K per task from 1 5 10 50 100 200) and read top-1 on val200 at the end;
2. select the best val200 accuracy (ties go to the smaller lr, then the smaller wd, then
   the smaller K);
3. final: retrain on train800val200 with every seed and read top-1 on test, which the
   run evaluates once, after its last epoch (``val_split=test``).

``--protocol noah`` runs NOAH's protocol instead (the published LoRA, Adapter,
AdaptFormer and NOAH rows; ``mmseg_expres/protocols/vtab_protocols.py``): no grid, the
final runs only, with AdamW, lr 1e-3, weight decay 1e-4, batch 64, drop-path 0.1.

Every run is ``tools/train.py`` in a subprocess started in the current directory (relative
paths mean what they would for ``tools/train.py`` itself), with its own work dir
``<work-dir>/<task>/{grid,final}/<run>``. Results go to ``<work-dir>/results.json``
after each run, so a rerun skips finished runs, records runs that finished but were not
recorded, and resumes interrupted ones from their last checkpoint. ``--dry-run`` prints
the commands that are still to run (final runs once their task's grid is complete) and
starts nothing, e.g. to submit them as a job array yourself; runs finished meanwhile are
recorded as usual. Under ``vpt``, lr values are VPT's grid units, scaled by batch/256
through the config's ``auto_scale_lr``; under ``noah``, lrs as given (batch 64).
"""
import argparse
import math
import os.path as osp
import statistics
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from mmseg_expres.datasets.vtab.benchmark import VTAB_TASKS, get_task
from mmseg_expres.protocols.runs import (Launcher, ResultsFile, add_launch_arguments,
                                         check_launch_arguments, drop_checkpoints)
from mmseg_expres.protocols.vtab_protocols import PROTOCOLS, VPT_NUM_TOKENS

REPO = Path(__file__).resolve().parents[2]

PAPER_SEEDS = (42, 44, 82, 100, 800)


def run_name(lr: float, wd: float, seed: Optional[int] = None,
             num_tokens: Optional[int] = None) -> str:
    """Stable folder / result key of one run, e.g. ``lr2.5_wd0.001``, ``..._k50``,
    ``..._seed42``."""
    return (f'lr{lr:g}_wd{wd:g}' + (f'_k{num_tokens}' if num_tokens is not None else '')
            + (f'_seed{seed}' if seed is not None else ''))


def run_options(train_split: str, val_split: str, lr: float, wd: float,
                seed: int, num_tokens: Optional[int] = None,
                protocol: Sequence[str] = ()) -> List[str]:
    """``--cfg-options`` of one protocol run: the protocol's own, then its splits, lr,
    weight decay, seed and (with ``--num-tokens``) prompt count."""
    return [*protocol, f'train_split={train_split}', f'val_split={val_split}',
            f'optim_wrapper.optimizer.lr={lr!r}',
            f'optim_wrapper.optimizer.weight_decay={wd!r}',
            f'randomness.seed={seed}'] + (
                [f'model.backbone.num_tokens={num_tokens}'] if num_tokens is not None else [])


def select_best(grid: Dict[str, dict]) -> dict:
    """The grid entry with the best ``val_top1``; ties go to the smaller lr, wd, then K.

    A NaN never compares greater, so ``max`` could pick around it: it is refused.
    """
    bad = [r for r in grid.values() if not math.isfinite(r['val_top1'])]
    if bad:
        raise ValueError(f'Grid runs with a non-finite val_top1: {bad}; rerun them.')
    return max(grid.values(), key=lambda r: (r['val_top1'], -r['lr'], -r['wd'],
                                             -r.get('num_tokens', 0)))


class Protocol:
    """Builds, runs and records the grid and final runs of the VTAB-1k protocol.

    Args:
        args: the parsed command line (see :func:`parse_args`).
    """

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.protocol = PROTOCOLS[args.protocol]
        # settings beyond the config's: recorded only where they differ from VPT's grid,
        # so results files written before they existed stay valid
        extra = {**({'protocol': args.protocol} if args.protocol != 'vpt' else {}),
                 **({'num_tokens': args.num_tokens} if args.num_tokens else {})}
        self.file = ResultsFile.of_protocol(args, 'vtab_root', args.vtab_root, dict(tasks={}),
                                            **extra)
        self.results = self.file.data
        self.launcher = Launcher(args, REPO / 'tools')

    def _task_results(self, task: str) -> dict:
        entry = self.results['tasks'].setdefault(task, {})
        entry.setdefault('grid', {})
        entry.setdefault('final', {})
        return entry

    def _run(self, task: str, run_dir: str, options: List[str]) -> Optional[float]:
        return self.launcher.run(f'vtab_{task}', run_dir, [
            f'task={task}', f'vtab_root={self.args.vtab_root}', *options])

    def grid_points(self) -> List[Tuple[float, float, Optional[int]]]:
        """Every (lr, wd, K) of the grid; K is None without ``--num-tokens``."""
        return [(lr, wd, k) for lr in self.args.lrs for wd in self.args.wds
                for k in (self.args.num_tokens or [None])]

    # ------------------------------------------------------------------ phases
    def run_grid(self, task: str) -> bool:
        """Run the missing grid points of ``task``; True when the whole grid is done."""
        entry = self._task_results(task)
        done = True
        for lr, wd, k in self.grid_points():
            name = run_name(lr, wd, num_tokens=k)
            if name in entry['grid']:
                continue
            run_dir = osp.join(self.args.work_dir, task, 'grid', name)
            metric = self._run(task, run_dir, run_options(
                'train800', 'val200', lr, wd, self.args.seeds[0], k, self.protocol.options))
            if metric is None:
                done = False
                continue
            entry['grid'][name] = dict(lr=lr, wd=wd, val_top1=metric,
                                       **({'num_tokens': k} if k is not None else {}))
            self.file.save()
            # 40 grid runs x 19 tasks: only their accuracy is needed once finished.
            if not self.args.keep_grid_checkpoints:
                drop_checkpoints(run_dir)
        return done

    def choose(self, task: str) -> dict:
        """The (lr, wd[, K]) of the final runs: the best grid point on val200, or the
        protocol's one setting where it selects nothing (NOAH's)."""
        entry = self._task_results(task)
        if not self.protocol.selects:
            (lr, wd, k), = self.grid_points()
            return dict(lr=lr, wd=wd, **({'num_tokens': k} if k is not None else {}))
        best = select_best({run_name(lr, wd, num_tokens=k):
                            entry['grid'][run_name(lr, wd, num_tokens=k)]
                            for lr, wd, k in self.grid_points()})
        entry['best'] = best
        return best

    def run_final(self, task: str) -> None:
        """Retrain with the chosen setting and every seed and read test top-1."""
        entry = self._task_results(task)
        best = self.choose(task)
        k = best.get('num_tokens')
        for seed in self.args.seeds:
            name = run_name(best['lr'], best['wd'], seed, k)
            if name in entry['final']:
                continue
            run_dir = osp.join(self.args.work_dir, task, 'final', name)
            metric = self._run(task, run_dir, run_options(
                'train800val200', 'test', best['lr'], best['wd'], seed, k,
                self.protocol.options))
            if metric is not None:
                entry['final'][name] = dict(lr=best['lr'], wd=best['wd'], seed=seed,
                                            test_top1=metric,
                                            **({'num_tokens': k} if k is not None else {}))
                self.file.save()
        tests = [entry['final'][run_name(best['lr'], best['wd'], s, k)]['test_top1']
                 for s in self.args.seeds
                 if run_name(best['lr'], best['wd'], s, k) in entry['final']]
        if len(tests) == len(self.args.seeds):
            entry['test_top1_mean'] = statistics.fmean(tests)
            entry['test_top1_std'] = statistics.pstdev(tests)
            self.file.save()

    def run(self) -> None:
        """All phases for every requested task."""
        for task in self.args.tasks:
            if not self.protocol.selects or self.run_grid(task):
                self.run_final(task)
            else:
                print(f'# {task}: final runs depend on the grid; run again once the grid '
                      'commands above have finished.')
        if not self.args.dry_run:
            print(f'Results: {self.file.path}  (summary: python tools/vtab/aggregate.py '
                  f'{self.file.path})')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='VTAB-1k lr x wd selection, then 5-seed '
                                     'retraining and test, as in VPT and EXPRES (or '
                                     "NOAH's protocol: --protocol noah).")
    parser.add_argument('--vtab-root', required=True,
                        help='VTAB-1k folder (check it first: tools/vtab/check_vtab.py)')
    parser.add_argument('--tasks', nargs='+', required=True, metavar='TASK',
                        help=f'task names or "all": {", ".join(VTAB_TASKS)}')
    parser.add_argument('--protocol', choices=sorted(PROTOCOLS), default='vpt',
                        help="vpt: VPT's SGD lr x wd grid, selected on val200 (default); "
                        "noah: NOAH's AdamW, lr 1e-3, wd 1e-4, batch 64, drop-path 0.1, "
                        'no selection')
    parser.add_argument('--lrs', nargs='+', type=float,
                        help="vpt: base lrs (x batch/256), default VPT's grid; noah: one "
                        'lr, default 0.001')
    parser.add_argument('--wds', nargs='+', type=float,
                        help="weight decays; default VPT's grid (vpt), 0.0001 (noah)")
    parser.add_argument('--num-tokens', nargs='+', type=int, metavar='K',
                        help='select the prompt count K per task too, as VPT does (its '
                        f'set: {" ".join(map(str, VPT_NUM_TOKENS))}); default: the '
                        "config's K")
    parser.add_argument('--seeds', nargs='+', default=PAPER_SEEDS, type=int,
                        help='final-run seeds; the first also seeds the grid runs')
    parser.add_argument('--keep-grid-checkpoints', action='store_true',
                        help='keep the checkpoints of finished grid runs (deleted by '
                        'default: 40 runs per task)')
    add_launch_arguments(parser, str(REPO / 'configs' / 'expres' /
                                     'expres_vit-b16_1xb128-100e_vtab1k.py'),
                         'work_dirs/vtab_protocol')
    args = parser.parse_args(argv)
    args.tasks = list(VTAB_TASKS) if args.tasks == ['all'] else args.tasks
    check_launch_arguments(parser, args)
    protocol = PROTOCOLS[args.protocol]
    args.lrs = args.lrs or list(protocol.lrs)
    args.wds = args.wds or list(protocol.wds)
    if not protocol.selects and len(args.lrs) * len(args.wds) * len(args.num_tokens or [0]) > 1:
        parser.error(f'--protocol {args.protocol} trains one lr, weight decay and K for '
                     'every task and selects nothing: give at most one --lrs, --wds and '
                     '--num-tokens value, or use --protocol vpt to select on val200.')
    for task in args.tasks:
        try:
            get_task(task)
        except KeyError as err:
            parser.error(str(err.args[0]))
    return args


def main(argv: Optional[Sequence[str]] = None) -> None:
    Protocol(parse_args(argv)).run()


if __name__ == '__main__':
    main()
