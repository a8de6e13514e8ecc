"""Export a trained segmentor to ONNX, checked against PyTorch with onnxruntime.

    python tools/deploy/export_onnx.py CONFIG CHECKPOINT --out model.onnx
        [--shape H W] [--channels RGB|BGR] [--logits] [--check-images IMG ...]
        [--no-merge] [--cfg-options key=value ...]

The graph is the whole segmentor in whole-image mode at one input size (``--shape``,
default: the config's crop): input ``image``, uint8 (1, H, W, 3) in ``--channels`` order,
normalised inside the graph as the config's data preprocessor does; output ``classes``,
int64 (1, H, W), and with ``--logits`` also ``logits`` (1, C, H, W). LoRA and SSF are
merged into the ViT first (as ``tools/export_full_checkpoint.py --merge``). Every export
runs the file with onnxruntime and the PyTorch model on ``--check-images`` (default: a
few generated scenes), prints the largest logit differences and the share of pixels of
the same class, and fails (exit 1, nothing at ``--out``) below 99.9 % or on any NaN.
Run the file with ``tools/deploy/infer_onnx.py`` (no torch needed); docs/deploy.md.
"""
import argparse
import sys
from typing import Optional, Sequence

from mmengine.config import DictAction


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--out', required=True, help='the ONNX file (folders are made)')
    parser.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'),
                        help="the graph's input size (default: the config's crop_size)")
    parser.add_argument('--channels', choices=['RGB', 'BGR'], default='RGB',
                        help="channel order of the graph's input image")
    parser.add_argument('--logits', action='store_true', help='also output the logits')
    parser.add_argument('--check-images', nargs='+', metavar='IMG',
                        help='images for the parity check (default: generated scenes)')
    parser.add_argument('--no-merge', action='store_true',
                        help='keep LoRA / SSF as separate layers (slower graph)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='e.g. model.backbone.pretrained=PATH')
    return parser.parse_args(argv)


def default_shape(cfg) -> Sequence[int]:
    """The config's crop (its data preprocessor's ``size``), the size it was trained at."""
    size = cfg.model.get('data_preprocessor', {}).get('size') or cfg.get('crop_size')
    if not size:
        raise SystemExit('error: the config names no crop size: give --shape H W.')
    return tuple(size)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    from mmseg_expres.apis import init_model, load_checked_config
    from mmseg_expres.deploy import ExportError, export_onnx
    from mmseg_expres.deploy.parity import generated_images, read_images
    from mmseg_expres.models.backbones import CheckpointMismatchError
    from mmseg_expres.models.backbones.arguments import MERGEABLE_METHODS

    try:
        cfg = load_checked_config(args.config, args.cfg_options)
        model = init_model(cfg, args.checkpoint)
        if not args.no_merge and getattr(model.backbone, 'method', None) in MERGEABLE_METHODS:
            model.backbone.merge_()  # a plain ViT: the graph runs at plain-ViT cost
        shape = args.shape or default_shape(cfg)
        images = (read_images(args.check_images) if args.check_images
                  else generated_images(shape))
        export_onnx(model.eval(), cfg, args.out, shape, images, args.channels, args.logits,
                    source=dict(config=args.config, checkpoint=args.checkpoint))
    except (ExportError, CheckpointMismatchError, ValueError, FileNotFoundError) as error:
        print(f'error: {error}', file=sys.stderr)
        return 1
    print(f'wrote {args.out} (input image uint8 1x{shape[0]}x{shape[1]}x3 {args.channels})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
