"""Segment images with an exported ONNX model: onnxruntime, numpy, OpenCV and Pillow only.

    python tools/deploy/infer_onnx.py model.onnx INPUT [INPUT ...] --out-dir DIR
        [--opacity 0.5] [--threads N]

INPUT: images, folders (their images, sub-folders kept) or glob patterns. Per image, DIR
gets the files ``tools/infer.py`` writes: ``<name>_pred.png`` (class indices as a palette
PNG) and ``<name>_overlay.png`` (the image tinted by class, with a legend), in the
classes and palette stored in the ONNX file by ``tools/deploy/export_onnx.py``. An image
of another size than the graph's is resized to it and its class map back (nearest).
Neither torch nor mmcv is imported: the few modules of mmseg_expres used here are loaded
by their paths (the package's ``__init__`` sets up torch). Exit status 1 if an input
could not be read.
"""
import argparse
import importlib.util
import os
import os.path as osp
import sys
import time
from types import ModuleType
from typing import Optional, Sequence

import cv2
import numpy as np
from PIL import Image

#: The torch-free modules of the package this tool uses (relative to its folder).
TORCH_FREE = {'runtime': 'deploy/runtime.py', 'drawing': 'visualization/drawing.py',
              'media': 'apis/media.py'}


def package_folder() -> str:
    """mmseg_expres's folder, installed or in this clone, found without importing it."""
    spec = importlib.util.find_spec('mmseg_expres')
    if spec is not None and spec.submodule_search_locations:
        return list(spec.submodule_search_locations)[0]
    return osp.join(osp.dirname(osp.abspath(__file__)), '..', '..', 'mmseg_expres')


def load_torch_free(name: str) -> ModuleType:
    """One of :data:`TORCH_FREE`, loaded from its file alone."""
    key = f'mmseg_expres_torch_free.{name}'
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            key, osp.join(package_folder(), TORCH_FREE[name]))
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module  # dataclasses look their module up while it loads
        spec.loader.exec_module(module)
    return sys.modules[key]


def read_rgb(path: str) -> np.ndarray:
    """An image as ``tools/infer.py`` decodes it (OpenCV's IMREAD_COLOR, as mmcv: EXIF
    orientation applied), in RGB."""
    data = np.fromfile(path, np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise ValueError(f'Cannot decode {path} as an image (not an image, or truncated).')
    return image[..., ::-1]


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('model', help='an ONNX file from tools/deploy/export_onnx.py')
    parser.add_argument('inputs', nargs='+', help='images, folders, glob patterns')
    parser.add_argument('--out-dir', required=True)
    parser.add_argument('--opacity', type=float, default=0.5,
                        help='of the class colours in the overlays (1: colours only)')
    parser.add_argument('--threads', type=int, default=0,
                        help="onnxruntime's intra-op threads (0: its default)")
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    if not 0 <= args.opacity <= 1:
        raise SystemExit('error: --opacity must be within [0, 1].')
    runtime, drawing, media = (load_torch_free(n) for n in ('runtime', 'drawing', 'media'))
    sources, failed = media.expand_inputs(args.inputs)
    try:
        session, info = runtime.open_session(args.model, args.threads)
    except Exception as error:  # noqa: BLE001 - onnxruntime's own errors, reworded
        raise SystemExit(f'error: cannot open {args.model} with onnxruntime: {error}')
    palette = np.asarray(info.palette, np.uint8).reshape(-1, 3)
    start, done = time.perf_counter(), 0
    for source in sources:
        if source.is_video:
            failed.append((source.path, 'videos are segmented by tools/infer.py only'))
            continue
        try:
            image = read_rgb(source.path)
        except ValueError as error:
            failed.append((source.path, str(error)))
            continue
        pred = runtime.segment(session, info, image)
        stem = osp.join(args.out_dir, source.name)
        os.makedirs(osp.dirname(stem) or '.', exist_ok=True)
        drawing.save_index_png(pred, palette, stem + '_pred.png')
        picture = drawing.overlay_with_legend(image, pred, info.classes, palette,
                                              args.opacity)
        Image.fromarray(picture).save(stem + '_overlay.png',
                                      compress_level=drawing.PNG_COMPRESSION)
        done += 1
    seconds = time.perf_counter() - start
    print(f'Segmented {done} image(s) at {info.height}x{info.width}: '
          f'{done / max(seconds, 1e-9):.1f} images/s. Outputs in {args.out_dir}')
    for path, reason in failed:
        print(f'  {path}: {reason}', file=sys.stderr)
    return 1 if failed or not sources else 0


if __name__ == '__main__':
    sys.exit(main())
