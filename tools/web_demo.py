"""A web page to try a model: segmentation and one-shot segmentation in the browser.

    python tools/web_demo.py CONFIG CHECKPOINT [--fewshot CONFIG CHECKPOINT] \\
        [--port 7860] [--host 127.0.0.1] [--auth USER:PASSWORD|FILE] [--device cpu|cuda] \\
        [--max-file-size 10mb] [--queue-size 16] [--palette FILE | --palette 'R,G,B ...']
    python tools/web_demo.py CONFIG --tasks NAME=CHECKPOINT [NAME=CHECKPOINT ...] [...]

*Segment* runs the segmentor (mmseg's ``inference_model``) on uploaded images; *One-shot
segmentation* runs the few-shot segmentor (``mmseg_expres.apis.fewshot_segment``) from
painted references. The models are loaded once, before the page opens. With
``--tasks NAME=CHECKPOINT ...`` in place of CHECKPOINT (as ``tools/infer.py --tasks``
takes them), every task checkpoint is loaded onto the one frozen ViT of CONFIG
(``mmseg_expres.apis.init_multi_task``) and the *Segment* tab gets a task selector;
each task answers as its checkpoint alone would. It listens on 127.0.0.1 only unless
``--host`` says otherwise (``--host 0.0.0.0`` opens it to the network: add ``--auth``
for a login). Needs the ``demo`` extra: ``pip install -e .[demo]``.
docs/web_demo.md shows the page.
"""
import argparse
import os
import os.path as osp
import sys
import tempfile
from typing import List, Tuple

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))  # the sibling task_args.py
import task_args  # noqa: E402

# Gradio reports usage to its servers unless told not to; this page must work offline.
os.environ.setdefault('GRADIO_ANALYTICS_ENABLED', 'False')
# OpenCV reads its decoders' pixel cap once, when it loads: set here, before anything
# imports cv2. The value is mmseg_expres.web_demo.inputs.MAX_PIXELS (4096 x 4096; a test
# checks that they agree), which inputs.py cannot hand over without loading cv2 first.
os.environ.setdefault('OPENCV_IO_MAX_IMAGE_PIXELS', str(4096 * 4096))


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='segmentation config')
    parser.add_argument('checkpoint', nargs='?',
                        help='its checkpoint (task or full); left out with --tasks')
    parser.add_argument('--tasks', nargs='+', metavar='NAME=CHECKPOINT',
                        help='several task checkpoints on the one frozen ViT of CONFIG, '
                        'chosen on the page: NAME=CHECKPOINT, or '
                        'NAME=TASK_CONFIG.py:CHECKPOINT for a task with its own head or '
                        'classes')
    parser.add_argument('--fewshot', nargs=2, metavar=('CONFIG', 'CHECKPOINT'),
                        help='a few-shot segmentor for the one-shot tab')
    parser.add_argument('--host', default='127.0.0.1',
                        help='address to listen on (default: this machine only)')
    parser.add_argument('--port', type=int, default=7860)
    parser.add_argument('--auth', type=read_auth, metavar='USER:PASSWORD|FILE',
                        help='a login for the page: USER:PASSWORD, or a file with one '
                             'USER:PASSWORD a line (a password given here is visible to '
                             "this machine's other users in its process list: prefer a file)")
    parser.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    parser.add_argument('--max-file-size', default='10mb',
                        help="largest upload, e.g. '10mb' (larger files are refused)")
    parser.add_argument('--palette', help='the colours of the segmentation tab, one per '
                        'class in label order: a file ("name r g b" a line, or JSON) or '
                        'colours, e.g. "255,0,0 0,128,0" (as tools/infer.py --palette; '
                        'default: the config\'s palette, else the checkpoint\'s)')
    parser.add_argument('--queue-size', type=int, default=16, metavar='N',
                        help='clicks that may wait while the model runs; more are refused '
                             '(default: 16)')
    args = parser.parse_args(argv)
    if (args.checkpoint is None) == (args.tasks is None):
        parser.error('give the checkpoint, or --tasks NAME=CHECKPOINT ... (several task '
                     'checkpoints of CONFIG\'s ViT), not both' if args.tasks else
                     'the following arguments are required: checkpoint (or --tasks '
                     'NAME=CHECKPOINT ...)')
    if args.tasks is not None:
        items, others = task_args.split_items(args.tasks)
        if others or not items:
            parser.error(f'--tasks takes NAME=CHECKPOINT items; {", ".join(others) or "none"} '
                         'is not one (e.g. --tasks ade=A.pth city=B.pth)')
        args.tasks = task_args.task_pairs(items, parser.error)
    return args


def read_auth(value: str) -> List[Tuple[str, str]]:
    """--auth's logins: ``USER:PASSWORD``, or a file of such lines (blank lines and lines
    starting with ``#`` skipped)."""
    is_file = osp.isfile(value)
    lines = open(value, encoding='utf-8').read().splitlines() if is_file else [value]
    logins = []
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith('#'):
            continue
        user, colon, password = line.strip().partition(':')
        if not (colon and user and password):  # not echoed: it may hold a password
            raise argparse.ArgumentTypeError(
                f'line {number} of {value} is not USER:PASSWORD' if is_file else
                'takes USER:PASSWORD or a file of such lines; this is neither (no such '
                "file, and not two parts joined by ':')")
        logins.append((user, password))
    if not logins:
        raise argparse.ArgumentTypeError(f'{value} has no USER:PASSWORD line')
    return logins


def check_args(args: argparse.Namespace) -> None:
    files = [args.config] + [args.checkpoint] * bool(args.checkpoint) + \
        list(args.fewshot or [])
    missing = [f for f in files if not osp.isfile(f)]
    if missing:
        raise SystemExit(f'No such file: {", ".join(missing)} (the demo checkpoints come '
                         'from bash tools/run_demo.sh and bash tools/fewshot_seg/run_demo.sh)')
    try:
        import gradio  # noqa: F401
    except ImportError:
        raise SystemExit('The web page needs Gradio: pip install -e ".[demo]" '
                         '(tools/setup_env.sh installs it into .venv).') from None
    if args.queue_size < 1:
        raise SystemExit(f'--queue-size {args.queue_size}: give 1 or more (clicks that may '
                         'wait while the model runs).')
    if args.device == 'cuda':
        import torch
        if not torch.cuda.is_available():
            raise SystemExit('--device cuda, but torch sees no GPU: use --device cpu.')


def segment_demos(args: argparse.Namespace):
    """The Segment tab's demo: of CHECKPOINT, or {name: demo} of the --tasks on one ViT."""
    from mmseg_expres.apis import init_model, init_multi_task
    from mmseg_expres.models.backbones import CheckpointMismatchError
    from mmseg_expres.web_demo import SegmentDemo
    try:
        if args.tasks is None:
            return SegmentDemo(init_model(args.config, args.checkpoint, device=args.device),
                               args.palette)
        model = init_multi_task(args.config, args.tasks, args.device)
        return {name: SegmentDemo(model.task(name), args.palette) for name in model.names}
    except (ValueError, CheckpointMismatchError) as error:  # tasks, or a palette that
        raise SystemExit(f'error: {error}') from error      # does not fit the classes


def main() -> None:
    args = parse_args()
    check_args(args)
    from mmseg_expres.apis import init_model
    from mmseg_expres.web_demo import FewShotDemo
    from mmseg_expres.web_demo.examples import fewshot_example, segment_examples
    from mmseg_expres.web_demo.inputs import limit_decoders
    from mmseg_expres.web_demo.page import build_page, serve

    limit_decoders()
    segment = segment_demos(args)
    fewshot = (FewShotDemo(init_model(*args.fewshot, device=args.device))
               if args.fewshot else None)
    # The example pictures stay while the page runs (a click hands their paths over).
    with tempfile.TemporaryDirectory(prefix='web_demo_examples_') as examples:
        page = build_page(segment, fewshot, segment_examples(examples),
                          [fewshot_example(examples)] if fewshot else ())
        serve(page, args.host, args.port, args.max_file_size, args.queue_size, args.auth)


if __name__ == '__main__':
    main()
