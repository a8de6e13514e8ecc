"""A web page to try a model: segmentation and one-shot segmentation in the browser.

    python tools/web_demo.py CONFIG CHECKPOINT [--fewshot CONFIG CHECKPOINT] \\
        [--port 7860] [--host 127.0.0.1] [--device cpu|cuda] [--max-file-size 10mb]

*Segment* runs the segmentor (mmseg's ``inference_model``) on uploaded images; *One-shot
segmentation* runs the few-shot segmentor (``mmseg_expres.apis.fewshot_segment``) from
painted references. The models are loaded once, before the page opens. It listens on
127.0.0.1 only unless ``--host`` says otherwise (``--host 0.0.0.0`` opens it to the
network: the page has no login). Needs the ``demo`` extra: ``pip install -e .[demo]``.
docs/web_demo.md shows the page.
"""
import argparse
import os
import os.path as osp
import tempfile

# Gradio reports usage to its servers unless told not to; this page must work offline.
os.environ.setdefault('GRADIO_ANALYTICS_ENABLED', 'False')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='segmentation config')
    parser.add_argument('checkpoint', help='its checkpoint (task or full)')
    parser.add_argument('--fewshot', nargs=2, metavar=('CONFIG', 'CHECKPOINT'),
                        help='a few-shot segmentor for the one-shot tab')
    parser.add_argument('--host', default='127.0.0.1',
                        help='address to listen on (default: this machine only)')
    parser.add_argument('--port', type=int, default=7860)
    parser.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    parser.add_argument('--max-file-size', default='10mb',
                        help="largest upload, e.g. '10mb' (larger files are refused)")
    return parser.parse_args()


def check_args(args: argparse.Namespace) -> None:
    files = [args.config, args.checkpoint] + list(args.fewshot or [])
    missing = [f for f in files if not osp.isfile(f)]
    if missing:
        raise SystemExit(f'No such file: {", ".join(missing)} (the demo checkpoints come '
                         'from bash tools/run_demo.sh and bash tools/fewshot_seg/run_demo.sh)')
    try:
        import gradio  # noqa: F401
    except ImportError:
        raise SystemExit('The web page needs Gradio: pip install -e ".[demo]" '
                         '(tools/setup_env.sh installs it into .venv).') from None
    if args.device == 'cuda':
        import torch
        if not torch.cuda.is_available():
            raise SystemExit('--device cuda, but torch sees no GPU: use --device cpu.')


def main() -> None:
    args = parse_args()
    check_args(args)
    from mmseg_expres.apis import init_model
    from mmseg_expres.web_demo import FewShotDemo, SegmentDemo
    from mmseg_expres.web_demo.examples import fewshot_example, segment_examples
    from mmseg_expres.web_demo.page import CSS, build_page

    segment = SegmentDemo(init_model(args.config, args.checkpoint, device=args.device))
    fewshot = (FewShotDemo(init_model(*args.fewshot, device=args.device))
               if args.fewshot else None)
    examples = tempfile.mkdtemp(prefix='web_demo_examples_')
    page = build_page(segment, fewshot, segment_examples(examples),
                      [fewshot_example(examples)] if fewshot else ())
    page.queue(default_concurrency_limit=1)  # one model call at a time
    page.launch(server_name=args.host, server_port=args.port,
                max_file_size=args.max_file_size, show_error=True, ssr_mode=False,
                css=CSS)


if __name__ == '__main__':
    main()
