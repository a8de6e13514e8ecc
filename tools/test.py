"""Evaluate a checkpoint (task or self-contained) with an MMEngine config.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--show-dir DIR] [--out DIR]
                         [--tta] [--cfg-options key=value ...] [--launcher pytorch]
"""
import argparse

from mmengine.config import Config
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

# importing the package allow-lists MMEngine's checkpoint types for the checkpoint
from mmseg_expres.apis import add_common_args, load_run_config
from mmseg_expres.apis.inference import fit_config_to_checkpoint


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test a model with EXPRES prompts.')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', help='directory to save predicted segmentation maps')
    parser.add_argument('--show', action='store_true', help='show predictions in a window')
    parser.add_argument('--show-dir', help='directory to save visualised predictions')
    parser.add_argument('--vis-interval', type=int, default=1,
                        help='draw every N-th test image (mmseg draws every 50th)')
    parser.add_argument('--wait-time', type=float, default=2, help='seconds between --show')
    parser.add_argument('--tta', action='store_true', help='test-time augmentation')
    add_common_args(parser)
    return parser.parse_args()


def enable_visualisation(cfg: Config, args: argparse.Namespace) -> None:
    hooks = cfg.default_hooks
    if 'visualization' not in hooks:
        raise RuntimeError('--show/--show-dir need a "visualization" hook in default_hooks.')
    hooks.visualization.draw = True
    hooks.visualization.interval = args.vis_interval
    if args.show:
        hooks.visualization.show = True
        hooks.visualization.wait_time = args.wait_time
    if args.show_dir:
        cfg.visualizer.save_dir = args.show_dir
        cfg.visualizer.vis_backends = [dict(type='LocalVisBackend')]
        hooks.visualization.pop('show_dir', None)


def main() -> None:
    args = parse_args()
    cfg = load_run_config(args, ('test_dataloader',))
    # missing or cut short, or a task checkpoint without its ViT: say so, naming it; a
    # self-contained one needs no pretrained file
    fit_config_to_checkpoint(cfg, args.checkpoint, args.config)
    cfg.load_from = args.checkpoint
    if args.show or args.show_dir:
        enable_visualisation(cfg, args)
    if args.tta:
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
        cfg.tta_model.module = cfg.model
        cfg.model = cfg.tta_model
    if args.out is not None:
        cfg.test_evaluator['output_dir'] = args.out
        cfg.test_evaluator['keep_results'] = True
    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
    runner.test()


if __name__ == '__main__':
    main()
