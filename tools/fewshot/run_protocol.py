"""Run the FGVC few-shot protocol: every data set x shot x list seed, NOAH's fixed recipe.

    python tools/fewshot/run_protocol.py --fewshot-root data/few-shot --datasets all \
        --work-dir work_dirs/fewshot/expres [--shots 1 2 4 8 16] [--seeds 0 1 2] \
        [--config configs/baselines/vpt-deep_vit-b16_1xb64-100e_fgvc-fewshot.py] \
        [--launcher none|pytorch|slurm] [--dry-run] [--cfg-options key=value ...]

One run per (data set, shot, seed): train on the K-shot list of that seed with the
config's recipe (NOAH's scripts use one fixed lr and weight decay for every data set and
shot, no selection), and read top-1 on the full test split, which the run evaluates once,
after its last epoch. The benchmark publishes a validation split, but NOAH's scripts use
it only for NOAH's own architecture search, so no selection runs here.

Each run is ``tools/train.py`` in its own work dir ``<work-dir>/<dataset>/shot<K>_seed<S>``;
results go to ``<work-dir>/results.json`` after every run, so a rerun skips finished runs,
records runs that finished but were not recorded, and resumes interrupted ones from their
last checkpoint (mmseg_expres/protocols/runs.py). Before anything runs, every list file the
protocol needs must exist. Summarise with ``tools/fewshot/aggregate.py``, one results file
per method.
"""
import argparse
import itertools
import os.path as osp
from pathlib import Path
from typing import List, Optional, Sequence

from mmseg_expres.datasets.fgvc_fewshot.benchmark import (FEWSHOT_DATASETS, SEEDS, SHOTS, get_dataset,
                                           list_file, missing_list_message)
from mmseg_expres.protocols.runs import (Launcher, ResultsFile, add_launch_arguments,
                                         check_launch_arguments, drop_checkpoints)

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / 'configs' / 'expres' / 'expres_vit-b16_1xb64-100e_fgvc-fewshot.py'


def run_name(shot: int, seed: int) -> str:
    """Folder / result key of one run, e.g. ``shot4_seed1``."""
    return f'shot{shot}_seed{seed}'


def custom_num_classes(config: str, cfg_options: Sequence[str]) -> Optional[int]:
    """The class count of a data set of your own, as the runs will see it.

    ``custom_num_classes`` of the config, or of ``--cfg-options``, which win; None for the
    benchmark's data sets.
    """
    from mmengine.config import Config, DictAction
    cfg = Config.fromfile(config, import_custom_modules=False)
    parser = argparse.ArgumentParser()
    parser.add_argument('--options', nargs='+', action=DictAction, default={})
    cfg.merge_from_dict(parser.parse_args(['--options', *cfg_options]).options
                        if cfg_options else {})
    return cfg.get('custom_num_classes')


def missing_lists(root: str, datasets: Sequence[str], shots: Sequence[int],
                  seeds: Sequence[int]) -> List[str]:
    """One message per list file the protocol needs that is not there."""
    problems = []
    for name in datasets:
        needed = [('test', None, None)] + [('shots', k, s) for k in shots for s in seeds]
        for split, shot, seed in needed:
            if not osp.isfile(list_file(root, name, split, shot, seed)):
                problems.append(missing_list_message(root, name, split, shot, seed))
                if not osp.isdir(osp.join(root, name)):
                    break  # one message for a missing folder
    return problems


class Protocol:
    """Runs and records every (data set, shot, seed) of the few-shot protocol.

    Args:
        args: the parsed command line (see :func:`parse_args`).
    """

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.file = ResultsFile.of_protocol(args, 'fewshot_root', args.fewshot_root,
                                            dict(datasets={}))
        self.launcher = Launcher(args, REPO / 'tools')

    def run_one(self, dataset: str, shot: int, seed: int) -> None:
        """Run (or skip, if recorded) one data set, shot and seed, and record its top-1."""
        runs = self.file.data['datasets'].setdefault(dataset, {})
        name = run_name(shot, seed)
        if name in runs:
            return
        run_dir = osp.join(self.args.work_dir, dataset, name)
        metric = self.launcher.run(f'fewshot_{dataset}', run_dir, [
            f'dataset={dataset}', f'fewshot_root={self.args.fewshot_root}', f'shot={shot}',
            f'seed={seed}'])
        if metric is None:
            return  # --dry-run
        runs[name] = dict(shot=shot, seed=seed, test_top1=metric)
        self.file.save()
        if not self.args.keep_checkpoints:
            drop_checkpoints(run_dir)  # 75 runs a method; the accuracy is what is kept

    def run(self) -> None:
        """Every requested data set, shot and seed, in that order."""
        args = self.args
        for dataset, shot, seed in itertools.product(args.datasets, args.shots, args.seeds):
            self.run_one(dataset, shot, seed)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='FGVC few-shot protocol: every data set, '
                                     'shot and list seed with a fixed recipe, as in NOAH.')
    parser.add_argument('--fewshot-root', required=True,
                        help='folder with one sub-folder per data set (check it first: '
                        'tools/fewshot/check_fewshot.py)')
    parser.add_argument('--datasets', nargs='+', required=True, metavar='DATASET',
                        help=f'data set names or "all": {", ".join(FEWSHOT_DATASETS)}; '
                        'your own need custom_num_classes=N (config or --cfg-options)')
    parser.add_argument('--shots', nargs='+', type=int, default=SHOTS,
                        help='images per class (default: 1 2 4 8 16)')
    parser.add_argument('--seeds', nargs='+', type=int, default=SEEDS,
                        help='list seeds (default: 0 1 2)')
    parser.add_argument('--keep-checkpoints', action='store_true',
                        help='keep the checkpoints of recorded runs (deleted by default)')
    add_launch_arguments(parser, str(CONFIG), 'work_dirs/fewshot_protocol')
    args = parser.parse_args(argv)
    args.datasets = list(FEWSHOT_DATASETS) if args.datasets == ['all'] else args.datasets
    check_launch_arguments(parser, args)
    own_classes = custom_num_classes(args.config, args.cfg_options)
    for name in args.datasets:
        try:
            get_dataset(name, own_classes)
        except (KeyError, ValueError) as err:
            parser.error(str(err.args[0]))
    problems = missing_lists(args.fewshot_root, args.datasets, args.shots, args.seeds)
    if problems:
        parser.error('list files are missing, nothing was run:\n  - ' +
                     '\n  - '.join(problems))
    return args


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    protocol = Protocol(args)
    protocol.run()
    if not args.dry_run:
        print(f'Results: {protocol.file.path}  (the table: python tools/fewshot/aggregate.py '
              'with the results file of each method)')


if __name__ == '__main__':
    main()
