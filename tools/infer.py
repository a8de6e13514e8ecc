"""Segment images, folders, glob patterns and videos with a trained model.

    python tools/infer.py CONFIG CHECKPOINT INPUT [INPUT ...] --out-dir DIR
        [--batch-size N] [--device cpu|cuda] [--opacity 0.5] [--save-frames]
        [--palette FILE | --palette 'R,G,B R,G,B ...'] [--no-legend]
        [--support IMAGE MASK [--support IMAGE MASK ...] [--class-id C | --color R,G,B]
         [--ignore-index 255] [--resize-masks] [--class-name NAME]]
        [--cfg-options key=value ...]

CHECKPOINT is a task checkpoint (the ViT comes from the config's ``pretrained``) or a
full one from tools/export_full_checkpoint.py. Per image, DIR gets ``<name>_pred.png``
(class indices, a palette PNG in the data set's colours) and ``<name>_overlay.png``
(the image tinted by class, with a legend panel of 200 pixels on its right;
``--no-legend``: at the image's size); per video ``<name>_overlay.mp4`` at the video's
frame rate, drawn the same way (``--save-frames``: each frame's PNGs in ``<name>/``).
Colours: ``--palette`` (or ``--cfg-options palette=...``), else the config's data set
palette, else the checkpoint's. Files in a folder keep their sub-folders under
``DIR/<folder name>/``. The few-shot segmentor
finds the object that ``--support`` masks mark (mask formats: docs/fewshot.md). A file
that cannot be read is named and skipped; the run then exits with status 1.
"""
import argparse
import os.path as osp
import sys
from typing import Optional, Sequence

# Only the standard library before the arguments are parsed: --help and argument errors
# are answered without importing torch or mmseg (seconds); main imports what runs.


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('inputs', nargs='+', help='images, folders, glob patterns, videos')
    parser.add_argument('--out-dir', required=True)
    parser.add_argument('--batch-size', type=int, default=1)
    parser.add_argument('--device', default='cpu', help='cpu, cuda, cuda:1, ...')
    parser.add_argument('--opacity', type=float, default=0.5,
                        help='of the class colours in the overlays (1: colours only)')
    parser.add_argument('--palette', help='the colours to draw in, one per class in label '
                        'order: a file ("name r g b" a line, or JSON) or colours, e.g. '
                        '"255,0,0 0,128,0" or "#ff0000;#008000" (default: the config\'s '
                        'palette, else the checkpoint\'s)')
    parser.add_argument('--no-legend', action='store_true',
                        help='overlays and videos at the input\'s size, without the '
                        'legend panel on the right')
    parser.add_argument('--save-frames', action='store_true',
                        help="also write each video frame's PNGs")
    parser.add_argument('--support', nargs=2, action='append', metavar=('IMAGE', 'MASK'),
                        help='few-shot segmentor: a support image and its mask (repeat)')
    parser.add_argument('--class-id', type=int, help="the object's value in label masks")
    parser.add_argument('--color', help="the object's R,G,B in colour masks")
    parser.add_argument('--ignore-index', type=int, help='a mask value to ignore')
    parser.add_argument('--resize-masks', action='store_true',
                        help='resize masks of another size than their image (nearest)')
    parser.add_argument('--class-name', default='object', help='few-shot class, for legends')
    parser.add_argument('--no-progress', action='store_true')
    parser.add_argument('--cfg-options', nargs='+', metavar='KEY=VALUE',
                        help='e.g. model.backbone.pretrained=PATH')
    args = parser.parse_args(argv)
    if args.batch_size < 1 or not 0 <= args.opacity <= 1:
        parser.error('--batch-size must be >= 1 and --opacity within [0, 1].')
    for name in ('config', 'checkpoint'):
        if not osp.isfile(getattr(args, name)):
            parser.error(f'no {name} file {getattr(args, name)}')
    return args


def drawing_options(args: argparse.Namespace) -> tuple:
    """(--cfg-options for the model, the palette to draw in): ``palette=`` among the
    options is a drawing choice, the same as --palette, for any config."""
    from mmseg_expres.apis.runner_setup import parse_cfg_options
    options = parse_cfg_options(args.cfg_options)
    palette = options.pop('palette', None)
    if palette is not None and args.palette is not None:
        raise SystemExit('error: give the colours once: --palette or --cfg-options '
                         'palette=..., not both.')
    return options, args.palette if palette is None else palette


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    from mmseg_expres.apis.fewshot_seg import prepare_supports
    from mmseg_expres.apis.inference import init_model
    from mmseg_expres.apis.media import expand_inputs
    from mmseg_expres.apis.segment_files import Segmenter, segment_files
    from mmseg_expres.apis.support_masks import parse_color
    options, palette = drawing_options(args)
    try:
        color = parse_color(args.color) if args.color else None
    except ValueError as error:
        raise SystemExit(f'error: {error}') from error
    sources, problems = expand_inputs(args.inputs)
    if not sources:
        raise SystemExit('error: nothing to segment:\n' + '\n'.join(
            f'  {item}: {problem}' for item, problem in problems))
    model = init_model(args.config, args.checkpoint, args.device, options)
    supports = None
    try:
        if args.support:
            images, masks = zip(*args.support)
            supports = prepare_supports(model, images, masks, args.class_id, color,
                                        args.ignore_index, args.resize_masks)
        segmenter = Segmenter(model, supports, args.class_name, palette)
    except ValueError as error:  # supports or colours that cannot be read as meant
        raise SystemExit(f'error: {error}') from error
    summary = segment_files(segmenter, sources, args.out_dir, args.batch_size, args.opacity,
                            args.save_frames, show_progress=not args.no_progress,
                            legend=not args.no_legend)
    summary.failed = problems + summary.failed
    print(summary.report())
    print(f'Outputs in {args.out_dir}')
    return 1 if summary.failed else 0


if __name__ == '__main__':
    sys.exit(main())
