"""Train a model from an MMEngine config (segmentation or classification).

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
                          [--cfg-options key=value ...] [--launcher pytorch]
"""
import argparse

from mmengine.registry import RUNNERS
from mmengine.runner import Runner, find_latest_checkpoint

# importing the package allow-lists MMEngine's checkpoint types for --resume
from mmseg_expres.apis import add_common_args, enable_amp, load_run_config
from mmseg_expres.utils.checkpoint_files import check_checkpoint_file


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a model with EXPRES prompts.')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--resume', nargs='?', const='auto', default=None, metavar='CKPT',
                        help='resume from CKPT, or from the latest checkpoint of the '
                        'work dir when no path is given')
    parser.add_argument('--amp', action='store_true', help='mixed-precision training')
    add_common_args(parser)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    cfg = load_run_config(args, ('train_dataloader', 'val_dataloader'))
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
    runner.train()


if __name__ == '__main__':
    main()
