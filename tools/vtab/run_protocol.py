"""Run the VTAB-1k tuning protocol (method section 6) for one task, several, or all 19.

    python tools/vtab/run_protocol.py --vtab-root data/vtab-1k --tasks dtd kitti \
        --work-dir work_dirs/vtab_protocol [--lrs 50 25 ...] [--wds 0.01 ...] \
        [--seeds 42 44 82 100 800] [--launcher none|pytorch|slurm] [--dry-run] \
        [--cfg-options key=value ...]

Per task:
1. grid: train on train800 for every (lr, wd) and read top-1 on val200 at the end;
2. select the best val200 accuracy (ties go to the smaller lr, then the smaller wd);
3. final: retrain on train800val200 with every seed and read top-1 on test, which the
   run evaluates once, after its last epoch (``val_split=test``).

Every run is ``tools/train.py`` in a subprocess started in the current directory (relative
paths mean what they would for ``tools/train.py`` itself), with its own work dir
``<work-dir>/<task>/{grid,final}/<run>``. Results go to ``<work-dir>/results.json``
after each run, so a rerun skips finished runs, records runs that finished but were not
recorded, and resumes interrupted ones from their last checkpoint. ``--dry-run`` prints
the commands that are still to run (final runs once their task's grid is complete) and
starts nothing, e.g. to submit them as a job array yourself; runs finished meanwhile are
recorded as usual. lr values are VPT's grid units, scaled by batch/256
through the config's ``auto_scale_lr``.
"""
import argparse
import glob
import json
import os
import os.path as osp
import shlex
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from mmseg_expres.datasets.vtab import VTAB_TASKS, get_task

REPO = Path(__file__).resolve().parents[2]

VPT_LRS = (50.0, 25.0, 10.0, 5.0, 2.5, 1.0, 0.5, 0.25, 0.1, 0.05)
VPT_WDS = (0.01, 0.001, 0.0001, 0.0)
PAPER_SEEDS = (42, 44, 82, 100, 800)
METRIC = 'accuracy/top1'


def run_name(lr: float, wd: float, seed: Optional[int] = None) -> str:
    """Stable folder / result key of one run, e.g. ``lr2.5_wd0.001`` or ``..._seed42``."""
    return f'lr{lr:g}_wd{wd:g}' + (f'_seed{seed}' if seed is not None else '')


def run_options(train_split: str, val_split: str, lr: float, wd: float,
                seed: int) -> List[str]:
    """``--cfg-options`` of one protocol run: its splits, lr, weight decay and seed."""
    return [f'train_split={train_split}', f'val_split={val_split}',
            f'optim_wrapper.optimizer.lr={lr!r}',
            f'optim_wrapper.optimizer.weight_decay={wd!r}',
            f'randomness.seed={seed}']


def select_best(grid: Dict[str, dict]) -> dict:
    """The grid entry with the best ``val_top1``; ties go to the smaller lr, then wd."""
    return max(grid.values(), key=lambda r: (r['val_top1'], -r['lr'], -r['wd']))


def read_final_metric(run_dir: str) -> Optional[float]:
    """The last ``accuracy/top1`` the run logged, or None if it has not validated yet.

    MMEngine's LocalVisBackend appends one JSON line per log step to
    ``<run_dir>/<timestamp>/vis_data/scalars.json``; a resumed run adds a new timestamp.
    """
    value = None
    for path in sorted(glob.glob(osp.join(run_dir, '*', 'vis_data', 'scalars.json'))):
        with open(path, encoding='utf-8') as f:
            for line in f:
                record = json.loads(line)
                if METRIC in record:
                    value = float(record[METRIC])
    return value


class Protocol:
    """Builds, runs and records the grid and final runs of the VTAB-1k protocol.

    Args:
        args: the parsed command line (see :func:`parse_args`).
    """

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.results_path = args.results or osp.join(args.work_dir, 'results.json')
        self.results = self._load_results()

    # ------------------------------------------------------------- results file
    def _settings(self) -> dict:
        return dict(config=osp.abspath(self.args.config), vtab_root=osp.abspath(
            self.args.vtab_root), cfg_options=list(self.args.cfg_options))

    def _load_results(self) -> dict:
        if not osp.isfile(self.results_path):
            return dict(settings=self._settings(), tasks={})
        with open(self.results_path, encoding='utf-8') as f:
            results = json.load(f)
        if results.get('settings') != self._settings():
            raise SystemExit(
                f'{self.results_path} was written with other settings:\n'
                f'  then: {results.get("settings")}\n  now:  {self._settings()}\n'
                'Finished runs would not be comparable. Use another --work-dir (or '
                '--results), or rerun with the same config, root and --cfg-options.')
        return results

    def _save(self) -> None:
        os.makedirs(osp.dirname(osp.abspath(self.results_path)), exist_ok=True)
        tmp = self.results_path + '.tmp'
        with open(tmp, 'w', encoding='utf-8') as f:
            json.dump(self.results, f, indent=1, sort_keys=True)
        os.replace(tmp, self.results_path)  # a crash never leaves half a file

    def _task_results(self, task: str) -> dict:
        entry = self.results['tasks'].setdefault(task, {})
        entry.setdefault('grid', {})
        entry.setdefault('final', {})
        return entry

    # ---------------------------------------------------------------- commands
    def command(self, task: str, run_dir: str, options: List[str]) -> List[str]:
        """The command line of one run: ``tools/train.py``, or the repo's launch scripts.

        ``pytorch`` runs ``tools/dist_train.sh`` (torchrun, ``--gpus`` processes) and
        ``slurm`` runs ``tools/slurm_train.sh`` (srun, ``--gpus`` tasks on
        ``--partition``); both pass the options through to ``tools/train.py``.
        """
        train_args = []
        if osp.isfile(osp.join(run_dir, 'last_checkpoint')):
            train_args.append('--resume')  # an interrupted run continues where it stopped
        train_args += ['--cfg-options', f'task={task}', f'vtab_root={self.args.vtab_root}',
                       *options, *self.args.cfg_options]
        tools = REPO / 'tools'
        gpus = str(self.args.gpus)
        if self.args.launcher == 'pytorch':
            return ['env', f'PORT={self.args.port}', 'bash', str(tools / 'dist_train.sh'),
                    self.args.config, gpus, '--work-dir', run_dir, *train_args]
        if self.args.launcher == 'slurm':
            return ['env', f'GPUS={gpus}', f'GPUS_PER_NODE={min(self.args.gpus, 8)}',
                    'bash', str(tools / 'slurm_train.sh'), self.args.partition,
                    f'vtab_{task}', self.args.config, run_dir, *train_args]
        return [sys.executable, str(tools / 'train.py'), self.args.config, '--work-dir',
                run_dir, *train_args]

    def _run(self, task: str, run_dir: str, options: List[str]) -> Optional[float]:
        """Run (or, with --dry-run, print) one training run; return its final top-1."""
        metric = read_final_metric(run_dir)
        if metric is not None:
            return metric  # finished earlier but not recorded (e.g. killed right after)
        cmd = self.command(task, run_dir, options)
        if self.args.dry_run:
            print(shlex.join(cmd))
            return None
        os.makedirs(run_dir, exist_ok=True)
        log_path = osp.join(run_dir, 'protocol.log')
        print(f'[{task}] {osp.relpath(run_dir, self.args.work_dir)} ...', flush=True)
        with open(log_path, 'w', encoding='utf-8') as log:
            status = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT)
        if status.returncode != 0:
            with open(log_path, encoding='utf-8') as f:
                tail = ''.join(f.readlines()[-30:])
            raise RuntimeError(f'Run failed (exit {status.returncode}); full log: '
                               f'{log_path}\n{tail}\nCommand: {shlex.join(cmd)}')
        metric = read_final_metric(run_dir)
        if metric is None:
            raise RuntimeError(f'{run_dir} finished without logging {METRIC}: the run '
                               'must validate after its last epoch (train_cfg.val_interval '
                               'must divide train_cfg.max_epochs).')
        return metric

    def _drop_checkpoints(self, run_dir: str) -> None:
        # 40 grid runs x 19 tasks: only their accuracy is needed once they have finished.
        if self.args.keep_grid_checkpoints:
            return
        for path in glob.glob(osp.join(run_dir, '*.pth')) + [
                osp.join(run_dir, 'last_checkpoint')]:
            if osp.isfile(path):
                os.remove(path)

    # ------------------------------------------------------------------ phases
    def run_grid(self, task: str) -> bool:
        """Run the missing grid points of ``task``; True when the whole grid is done."""
        entry = self._task_results(task)
        done = True
        for lr in self.args.lrs:
            for wd in self.args.wds:
                name = run_name(lr, wd)
                if name in entry['grid']:
                    continue
                run_dir = osp.join(self.args.work_dir, task, 'grid', name)
                metric = self._run(task, run_dir, run_options(
                    'train800', 'val200', lr, wd, self.args.seeds[0]))
                if metric is None:
                    done = False
                    continue
                entry['grid'][name] = dict(lr=lr, wd=wd, val_top1=metric)
                self._save()
                self._drop_checkpoints(run_dir)
        return done

    def run_final(self, task: str) -> None:
        """Select lr x wd on val200, then retrain with every seed and read test top-1."""
        entry = self._task_results(task)
        grid = {run_name(lr, wd): entry['grid'][run_name(lr, wd)]
                for lr in self.args.lrs for wd in self.args.wds}
        best = select_best(grid)
        entry['best'] = best
        for seed in self.args.seeds:
            name = run_name(best['lr'], best['wd'], seed)
            if name in entry['final']:
                continue
            run_dir = osp.join(self.args.work_dir, task, 'final', name)
            metric = self._run(task, run_dir, run_options(
                'train800val200', 'test', best['lr'], best['wd'], seed))
            if metric is not None:
                entry['final'][name] = dict(lr=best['lr'], wd=best['wd'], seed=seed,
                                            test_top1=metric)
                self._save()
        tests = [entry['final'][run_name(best['lr'], best['wd'], s)]['test_top1']
                 for s in self.args.seeds
                 if run_name(best['lr'], best['wd'], s) in entry['final']]
        if len(tests) == len(self.args.seeds):
            entry['test_top1_mean'] = statistics.fmean(tests)
            entry['test_top1_std'] = statistics.pstdev(tests)
            self._save()

    def run(self) -> None:
        """All phases for every requested task."""
        for task in self.args.tasks:
            if self.run_grid(task):
                self.run_final(task)
            else:
                print(f'# {task}: final runs depend on the grid; run again once the grid '
                      'commands above have finished.')
        if not self.args.dry_run:
            print(f'Results: {self.results_path}  (summary: python tools/vtab/aggregate.py '
                  f'{self.results_path})')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='VTAB-1k lr x wd selection, then 5-seed '
                                     'retraining and test, as in VPT and EXPRES.')
    parser.add_argument('--vtab-root', required=True,
                        help='VTAB-1k folder (check it first: tools/vtab/check_vtab.py)')
    parser.add_argument('--tasks', nargs='+', required=True, metavar='TASK',
                        help=f'task names or "all": {", ".join(VTAB_TASKS)}')
    parser.add_argument('--work-dir', default='work_dirs/vtab_protocol')
    parser.add_argument('--results', help='results JSON (default: <work-dir>/results.json)')
    parser.add_argument('--config', default=str(REPO / 'configs' / 'expres' / 'expres_vit-b16_1xb128-100e_vtab1k.py'))
    parser.add_argument('--lrs', nargs='+', default=VPT_LRS, type=float,
                        help="base lrs (x batch/256); default VPT's grid")
    parser.add_argument('--wds', nargs='+', default=VPT_WDS, type=float,
                        help="weight decays; default VPT's grid")
    parser.add_argument('--seeds', nargs='+', default=PAPER_SEEDS, type=int,
                        help='final-run seeds; the first also seeds the grid runs')
    parser.add_argument('--cfg-options', nargs='+', default=[], metavar='KEY=VALUE',
                        help='passed to every run, e.g. model.backbone.pretrained=...')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm'], default='none',
                        help='none: tools/train.py, one process per run; pytorch: '
                        'tools/dist_train.sh with --gpus processes; slurm: '
                        'tools/slurm_train.sh with --gpus tasks on --partition')
    parser.add_argument('--gpus', type=int, default=1,
                        help='GPUs per run (pytorch, slurm); the config\'s batch_size is '
                        'per GPU, auto_scale_lr scales lr by the total batch')
    parser.add_argument('--port', type=int, default=29500, help='master port (pytorch)')
    parser.add_argument('--partition', help='Slurm partition (--launcher slurm)')
    parser.add_argument('--dry-run', action='store_true',
                        help='print the commands still to run and start nothing (runs '
                        'that have finished meanwhile are recorded)')
    parser.add_argument('--keep-grid-checkpoints', action='store_true',
                        help='keep the checkpoints of finished grid runs (deleted by '
                        'default: 40 runs per task)')
    args = parser.parse_args(argv)
    args.tasks = list(VTAB_TASKS) if args.tasks == ['all'] else args.tasks
    if args.launcher == 'slurm' and not args.partition:
        parser.error('--launcher slurm needs --partition PARTITION.')
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
