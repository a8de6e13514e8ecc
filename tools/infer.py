"""Segment images, folders, glob patterns and videos with a trained model.

    python tools/infer.py CONFIG CHECKPOINT INPUT [INPUT ...] --out-dir DIR
        [--batch-size N] [--device cpu|cuda] [--opacity 0.5] [--save-frames]
        [--palette FILE | --palette 'R,G,B R,G,B ...'] [--no-legend]
        [--support IMAGE MASK [--support IMAGE MASK ...] [--class-id C | --color R,G,B]
         [--ignore-index 255] [--resize-masks] [--class-name NAME]]
        [--cfg-options key=value ...]
    python tools/infer.py CONFIG --tasks NAME=CHECKPOINT [NAME=CHECKPOINT ...] [INPUT ...]
        [--task-of INPUT=NAME ...] --out-dir DIR [the drawing options above]

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

``--tasks`` loads many task checkpoints onto the one frozen ViT of CONFIG
(``mmseg_expres.apis.init_multi_task``: the ViT once, each task its prompts and heads) and
writes each task's outputs, named as above, under ``DIR/<NAME>/``: every input through
every task, or ``--task-of INPUT=NAME`` for an input that only task NAME should segment
(``NAME=TASK_CONFIG.py:CHECKPOINT`` for a task trained with its own head or classes on
the same backbone config). The tasks run one after the other in batches of
``--batch-size``; each output equals that task's checkpoint run alone. A name given
twice, an unknown task in ``--task-of`` and a checkpoint of another ViT or method are
refused before anything is written.
"""
import argparse
import os.path as osp
import sys
from typing import Dict, List, Optional, Sequence

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))  # the sibling task_args.py
import task_args  # noqa: E402

# Only the standard library before the arguments are parsed: --help and argument errors
# are answered without importing torch or mmseg (seconds); main imports what runs.


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    # CHECKPOINT and the inputs in one list: with --tasks there is no CHECKPOINT
    parser.add_argument('paths', nargs='*', metavar='[CHECKPOINT] INPUT',
                        help='the checkpoint (left out with --tasks), then images, folders, '
                        'glob patterns, videos')
    parser.add_argument('--tasks', nargs='+', metavar='NAME=CHECKPOINT',
                        help=task_args.TASKS_HELP)
    parser.add_argument('--task-of', nargs='+', metavar='INPUT=NAME',
                        help=task_args.TASK_OF_HELP)
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
    # intermixed: the inputs may come before or after the options
    args = parser.parse_intermixed_args(argv)
    if args.batch_size < 1 or not 0 <= args.opacity <= 1:
        parser.error('--batch-size must be >= 1 and --opacity within [0, 1].')
    if not osp.isfile(args.config):
        parser.error(f'no config file {args.config}')
    if args.tasks is None:
        if args.task_of:
            parser.error('--task-of maps inputs to the tasks of --tasks NAME=CHECKPOINT ...; '
                         'give --tasks too, or leave --task-of out.')
        if len(args.paths) < 2:
            parser.error('the following arguments are required: checkpoint, inputs '
                         '(or --tasks NAME=CHECKPOINT ... and inputs)')
        args.checkpoint, args.inputs = args.paths[0], args.paths[1:]
        if not osp.isfile(args.checkpoint):
            parser.error(f'no checkpoint file {args.checkpoint}')
    else:
        _task_arguments(parser, args)
    return args


def _task_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """--tasks and --task-of read into ``args.tasks`` (init_multi_task's pairs),
    ``args.task_of`` ((input, task) pairs) and ``args.inputs`` (for every task)."""
    items, inputs = task_args.split_items(args.tasks)
    mapped, more = task_args.split_items(args.task_of or [])
    if not items:
        parser.error('--tasks takes NAME=CHECKPOINT items, e.g. --tasks ade=A.pth city=B.pth')
    if args.support:
        parser.error('--support is for one few-shot segmentor (CONFIG CHECKPOINT), not for '
                     '--tasks.')
    args.checkpoint = None
    args.tasks = task_args.task_pairs(items, parser.error)
    args.task_of = task_args.task_of(mapped, [name for name, _ in args.tasks], parser.error)
    args.inputs = args.paths + inputs + more
    if not args.inputs and not args.task_of:
        parser.error('nothing to segment: give inputs (every task) or --task-of INPUT=NAME.')


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


def run_tasks(args: argparse.Namespace, options: dict, palette) -> int:
    """--tasks: every task's model on the one frozen ViT, each task's inputs into
    ``out_dir/<task>/`` through :func:`segment_files`, as a single checkpoint's are."""
    from mmseg_expres.apis.media import expand_inputs
    from mmseg_expres.apis.multi_task import init_multi_task
    from mmseg_expres.apis.segment_files import Segmenter, segment_files
    from mmseg_expres.models.backbones import CheckpointMismatchError
    sources: Dict[str, list] = {}
    problems: List[tuple] = []
    for name, _ in args.tasks:
        found, missing = expand_inputs(args.inputs + [i for i, t in args.task_of if t == name])
        sources[name] = found
        problems += [problem for problem in missing if problem not in problems]
    if not any(sources.values()):
        raise SystemExit('error: nothing to segment:\n' + '\n'.join(
            f'  {item}: {problem}' for item, problem in problems))
    try:  # every refusal (names, checkpoints, colours) before the first file is written
        model = init_multi_task(args.config, args.tasks, args.device, options)
        segmenters = {name: Segmenter(model.task(name), None, args.class_name, palette)
                      for name in model.names}
    except (ValueError, CheckpointMismatchError) as error:
        raise SystemExit(f'error: {error}') from error
    failed = bool(problems)
    for item, problem in problems:
        print(f'{item}: {problem}')
    for name, segmenter in segmenters.items():
        if not sources[name]:
            print(f'Task {name}: no input names it (--task-of); nothing written.')
            continue
        summary = segment_files(segmenter, sources[name], osp.join(args.out_dir, name),
                                args.batch_size, args.opacity, args.save_frames,
                                show_progress=not args.no_progress, legend=not args.no_legend)
        failed = failed or bool(summary.failed)
        print(f'Task {name}: {summary.report()}')
    print(f'Outputs in {osp.join(args.out_dir, "<task>")}')
    return 1 if failed else 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    from mmseg_expres.apis.fewshot_seg import prepare_supports
    from mmseg_expres.apis.inference import init_model
    from mmseg_expres.apis.media import expand_inputs
    from mmseg_expres.apis.segment_files import Segmenter, segment_files
    from mmseg_expres.apis.support_masks import parse_color
    options, palette = drawing_options(args)
    if args.tasks is not None:
        return run_tasks(args, options, palette)
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
