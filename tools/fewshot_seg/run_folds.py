"""Run the few-shot segmentation protocol: 4 folds x {1, 5} shots, and print the table.

    python tools/fewshot_seg/run_folds.py --config configs/fewshot/expres_vit-b_pascal5i.py \
        --work-dir work_dirs/fewshot_seg/expres_pascal5i [--folds 0 1 2 3] [--shots 1 5] \
        [--launcher none|pytorch|slurm --gpus N] [--dry-run] [--cfg-options key=value ...]

Per fold, one meta-training run on its base classes (``tools/train.py``, work dir
``<work-dir>/fold<F>``), then one ``tools/test.py`` run per shot on the fold's 1,000
novel-class episodes (``<work-dir>/fold<F>/test_shot<K>``, one process: ``--launcher``
applies to training); one model serves both shots, as in HSNet. Results go to
``<work-dir>/results.json`` after every run, so a rerun skips what is recorded, resumes
an interrupted training from its last checkpoint (mmseg_expres/protocols/runs.py) and
reads finished tests from their folders.
"""
import argparse
import os.path as osp
import shlex
import subprocess
import sys
from pathlib import Path
from typing import List, Optional

from mmseg_expres.evaluation.fewshot_seg_table import (fold_table, read_test_metrics,
                                                       result_key)
from mmseg_expres.protocols.runs import (Launcher, ResultsFile, add_launch_arguments,
                                         check_launch_arguments)

REPO = Path(__file__).resolve().parents[2]


def run_logged(cmd: List[str], log_path: str, dry_run: bool) -> bool:
    """Run ``cmd`` with its output in ``log_path``; False (and the command printed) if dry.

    Raises:
        RuntimeError: the command failed; the message has the log's tail.
    """
    if dry_run:
        print(shlex.join(cmd))
        return False
    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, 'w', encoding='utf-8') as log:
        status = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT)
    if status.returncode:
        tail = ''.join(Path(log_path).read_text(encoding='utf-8').splitlines(True)[-30:])
        raise RuntimeError(f'{shlex.join(cmd)} failed (exit {status.returncode}); full log '
                           f'{log_path}:\n{tail}')
    return True


def last_checkpoint(run_dir: str) -> Optional[str]:
    """The checkpoint MMEngine wrote last in ``run_dir`` (its ``last_checkpoint`` file)."""
    marker = osp.join(run_dir, 'last_checkpoint')
    if not osp.isfile(marker):
        return None
    path = Path(marker).read_text(encoding='utf-8').strip()
    return path if osp.isfile(path) else None


def run_fold(args: argparse.Namespace, results: ResultsFile, fold: int) -> None:
    """Meta-train fold ``fold`` unless all its shots are recorded, then test each shot."""
    todo = [s for s in args.shots if result_key(fold, s) not in results.data['runs']]
    if not todo:
        return
    run_dir = osp.join(args.work_dir, f'fold{fold}')
    checkpoint = results.data['checkpoints'].get(str(fold))
    if not (checkpoint and osp.isfile(checkpoint)):
        # resumes from last_checkpoint; a finished run only reloads its final checkpoint
        train = Launcher(args, REPO / 'tools').command(f'fold{fold}', run_dir, [f'fold={fold}'])
        if not run_logged(train, osp.join(run_dir, 'protocol.log'), args.dry_run):
            checkpoint = osp.join(run_dir, 'iter_<last>.pth')
        else:
            checkpoint = last_checkpoint(run_dir)
            results.data['checkpoints'][str(fold)] = checkpoint
            results.save()
    for shot in todo:
        test_dir = osp.join(run_dir, f'test_shot{shot}')
        metrics = read_test_metrics(test_dir)
        if metrics is None:
            test = [sys.executable, str(REPO / 'tools' / 'test.py'), args.config, checkpoint,
                    '--work-dir', test_dir, '--cfg-options', f'fold={fold}', f'shot={shot}',
                    *args.cfg_options]
            if not run_logged(test, osp.join(test_dir, 'protocol.log'), args.dry_run):
                continue
            metrics = read_test_metrics(test_dir)
        results.data['runs'][result_key(fold, shot)] = metrics
        results.save()
        print(f'fold {fold}, {shot}-shot: mIoU {metrics["mIoU"]:.2f}, FB-IoU '
              f'{metrics["FB-IoU"]:.2f} ({metrics["episodes"]:.0f} episodes)', flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    add_launch_arguments(parser, str(REPO / 'configs' / 'fewshot' / 'expres_vit-b_pascal5i.py'),
                         'work_dirs/fewshot_seg')
    parser.add_argument('--folds', type=int, nargs='+', default=[0, 1, 2, 3],
                        choices=range(4))
    parser.add_argument('--shots', type=int, nargs='+', default=[1, 5])
    args = parser.parse_args()
    check_launch_arguments(parser, args)
    if not osp.isfile(args.config):
        parser.error(f'No config {args.config}.')
    if any(s < 1 for s in args.shots):
        parser.error('--shots must be positive.')
    results = ResultsFile(args.results or osp.join(args.work_dir, 'results.json'),
                          dict(config=args.config, cfg_options=args.cfg_options),
                          dict(runs={}, checkpoints={}))
    for fold in args.folds:
        run_fold(args, results, fold)
    print(f'{args.config}: mIoU (%) per fold, mean, FB-IoU\n'
          + fold_table(results.data['runs'], args.folds, args.shots))


if __name__ == '__main__':
    main()
