"""Train a model from an MMEngine config (segmentation or classification).

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
                          [--no-data-check] [--cfg-options key=value ...] [--launcher pytorch]

Before the first iteration of a segmentation run, every split's images and masks are
paired, every mask's label values checked and every image decoded (cached by file size
and mtime), and every problem is reported in one message with its fix, so that a bad
validation mask or a truncated JPEG stops the run now, not at its first validation; with
several processes, rank 0 checks and the others wait for it. The log says once which
parts of the model train and which are frozen.
"""
import argparse

from mmengine.logging import print_log
from mmengine.registry import RUNNERS
from mmengine.runner import Runner, find_latest_checkpoint

# importing the package allow-lists MMEngine's checkpoint types for --resume
from mmseg_expres.apis import add_common_args, enable_amp, load_run_config
from mmseg_expres.apis.runner_setup import checks_data
from mmseg_expres.datasets.segmentation.check_report import (DataCheckError,
                                                             check_before_training,
                                                             passed_line)
from mmseg_expres.engine.trainable_summary import quiet_frozen_parameters
from mmseg_expres.utils.checkpoint_files import check_checkpoint_file


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a model with EXPRES prompts.')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--resume', nargs='?', const='auto', default=None, metavar='CKPT',
                        help='resume from CKPT, or from the latest checkpoint of the '
                        'work dir when no path is given')
    parser.add_argument('--amp', action='store_true', help='mixed-precision training')
    parser.add_argument('--no-data-check', action='store_true',
                        help='skip the check of the segmentation masks before training')
    add_common_args(parser)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    # the data check pairs every split's files itself (missing folders and unpaired
    # files among them), so the layout check, which stops at its first problem, runs
    # only without it
    layout = () if not args.no_data_check else ('train_dataloader', 'val_dataloader')
    cfg = load_run_config(args, layout)
    if not args.no_data_check and checks_data(cfg):  # once, on rank 0
        try:
            reports = check_before_training(cfg, with_options=bool(args.cfg_options))
        except DataCheckError as error:
            raise SystemExit(str(error)) from None
        if reports:  # none for classification configs
            print_log(passed_line(reports), logger='current')
    if args.amp:
        enable_amp(cfg)
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
        latest = find_latest_checkpoint(cfg.work_dir)
        if latest is not None:
            check_checkpoint_file(latest)
    elif args.resume is not None:
        check_checkpoint_file(args.resume)
        cfg.resume, cfg.load_from = True, args.resume
    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
    quiet_frozen_parameters(runner)
    runner.train()


if __name__ == '__main__':
    main()
