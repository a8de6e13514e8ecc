"""Launch and record the ``tools/train.py`` runs of a benchmark protocol.

What the VTAB-1k and few-shot protocol tools share: the command line of one run (on this
machine, with torchrun, or with Slurm), resuming an interrupted run from its last
checkpoint, reading the run's final top-1 from MMEngine's scalar log, ``--dry-run``, and a
results JSON file that is rewritten after every run and refuses results written with
other settings. Every run is a subprocess started in the current directory, so relative
paths mean what they would for ``tools/train.py`` itself.
"""
import argparse
import glob
import json
import os
import os.path as osp
import shlex
import subprocess
import sys
from pathlib import Path
from typing import List, Optional

from ..utils.checkpoint_files import atomic_write
from ..utils.numeric import non_finite_losses

METRIC = 'accuracy/top1'


def add_launch_arguments(parser: argparse.ArgumentParser, default_config: str,
                         default_work_dir: str) -> None:
    """The options every protocol tool has: config, work dir, results, launcher, dry run."""
    parser.add_argument('--work-dir', default=default_work_dir)
    parser.add_argument('--results', help='results JSON (default: <work-dir>/results.json)')
    parser.add_argument('--config', default=default_config)
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


def check_launch_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse launcher options that do not go together."""
    if args.launcher == 'slurm' and not args.partition:
        parser.error('--launcher slurm needs --partition PARTITION.')


def read_final_metric(run_dir: str) -> Optional[float]:
    """The last ``accuracy/top1`` the run logged, or None if it has not validated yet.

    MMEngine's LocalVisBackend appends one JSON line per log step to
    ``<run_dir>/<timestamp>/vis_data/scalars.json``; a resumed run adds a new timestamp.

    Raises:
        RuntimeError: a logged loss or the metric is NaN or inf. A run whose loss
            diverged still reports a finite top-1 (of a broken model), which must not
            enter the results.
    """
    value = None
    for path in sorted(glob.glob(osp.join(run_dir, '*', 'vis_data', 'scalars.json'))):
        with open(path, encoding='utf-8') as f:
            for line in f:
                record = json.loads(line)  # reads NaN and Infinity as floats
                bad = non_finite_losses(record, also=(METRIC,))
                if bad:
                    raise RuntimeError(
                        f'{path} logs {bad} at step {record.get("step")}: the run '
                        'diverged, and its accuracy means nothing. Lower the learning '
                        'rate (or check the data), delete the run folder and run again.')
                if METRIC in record:
                    value = float(record[METRIC])
    return value


def drop_checkpoints(run_dir: str) -> None:
    """Delete a finished run's checkpoints (its accuracy is recorded)."""
    for path in glob.glob(osp.join(run_dir, '*.pth')) + [osp.join(run_dir, 'last_checkpoint')]:
        if osp.isfile(path):
            os.remove(path)


class ResultsFile:
    """The protocol's results JSON: loaded if it exists, rewritten whole after each run.

    Args:
        path: the JSON file.
        settings: what makes results comparable (config, data root, ``--cfg-options``);
            a file written with other settings is refused.
        empty: the keys of a new file besides ``settings``.
    """

    def __init__(self, path: str, settings: dict, empty: dict) -> None:
        self.path = path
        if not osp.isfile(path):
            self.data = dict(settings=settings, **empty)
            return
        with open(path, encoding='utf-8') as f:
            self.data = json.load(f)
        if self.data.get('settings') != settings:
            raise SystemExit(
                f'{path} was written with other settings:\n'
                f'  then: {self.data.get("settings")}\n  now:  {settings}\n'
                'Finished runs would not be comparable. Use another --work-dir (or '
                '--results), or rerun with the same config, root and --cfg-options.')

    @classmethod
    def of_protocol(cls, args: argparse.Namespace, root_key: str, root: str,
                    empty: dict, **extra) -> 'ResultsFile':
        """``--results`` (or ``<work-dir>/results.json``) with a protocol's settings.

        The settings: the config, the data root (recorded under ``root_key``), the
        ``--cfg-options`` given to every run, and ``extra`` (e.g. the protocol's name).
        """
        settings = {'config': osp.abspath(args.config), root_key: osp.abspath(root),
                    'cfg_options': list(args.cfg_options), **extra}
        return cls(args.results or osp.join(args.work_dir, 'results.json'), settings, empty)

    def save(self) -> None:
        """Rewrite the whole file (after every run)."""
        with atomic_write(self.path) as f:  # a crash never leaves half a file
            json.dump(self.data, f, indent=1, sort_keys=True)


class Launcher:
    """Runs (or, with ``--dry-run``, prints) ``tools/train.py`` for one protocol run.

    Args:
        args: the parsed command line (:func:`add_launch_arguments`).
        tools_dir: the repository's ``tools/`` folder.
    """

    def __init__(self, args: argparse.Namespace, tools_dir: Path) -> None:
        self.args = args
        self.tools = tools_dir

    def command(self, job_name: str, run_dir: str, options: List[str]) -> List[str]:
        """The command line of one run: ``tools/train.py``, or the repo's launch scripts.

        ``pytorch`` runs ``tools/dist_train.sh`` (torchrun, ``--gpus`` processes) and
        ``slurm`` runs ``tools/slurm_train.sh`` (srun, ``--gpus`` tasks on
        ``--partition``); both pass the options through to ``tools/train.py``.

        Args:
            job_name: Slurm's job name.
            run_dir: the run's work dir.
            options: the run's ``--cfg-options``; the protocol's own follow them.
        """
        args = self.args
        train_args = []
        if osp.isfile(osp.join(run_dir, 'last_checkpoint')):
            train_args.append('--resume')  # an interrupted run continues where it stopped
        train_args += ['--cfg-options', *options, *args.cfg_options]
        gpus = str(args.gpus)
        if args.launcher == 'pytorch':
            return ['env', f'PORT={args.port}', 'bash', str(self.tools / 'dist_train.sh'),
                    args.config, gpus, '--work-dir', run_dir, *train_args]
        if args.launcher == 'slurm':
            return ['env', f'GPUS={gpus}', f'GPUS_PER_NODE={min(args.gpus, 8)}',
                    'bash', str(self.tools / 'slurm_train.sh'), args.partition, job_name,
                    args.config, run_dir, *train_args]
        return [sys.executable, str(self.tools / 'train.py'), args.config, '--work-dir',
                run_dir, *train_args]

    def run(self, job_name: str, run_dir: str, options: List[str]) -> Optional[float]:
        """Run one training run and return its final top-1 (None under ``--dry-run``).

        A run that finished earlier but was not recorded (e.g. killed right after) is read
        from its folder, not run again.

        Raises:
            RuntimeError: the run failed, or finished without logging top-1.
        """
        metric = read_final_metric(run_dir)
        if metric is not None:
            return metric
        cmd = self.command(job_name, run_dir, options)
        if self.args.dry_run:
            print(shlex.join(cmd))
            return None
        os.makedirs(run_dir, exist_ok=True)
        log_path = osp.join(run_dir, 'protocol.log')
        print(f'[{job_name}] {osp.relpath(run_dir, self.args.work_dir)} ...', flush=True)
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
