"""Deployment cases for ``benchmark.py``: onnxruntime against PyTorch on the CPU, fp32 and
dynamic int8, on the README demo's model.

The model (the demo config's EXPRES + UperNet; ``--deploy-checkpoint``, default the
demo's own ``work_dirs/demo`` checkpoint if ``bash tools/run_demo.sh`` ran, else random
weights: timing only) is exported by ``tools/deploy/export_onnx.py``'s code at the size
of the demo validation images (128x160), its parity checked, then quantized by
onnxruntime's ``quantize_dynamic`` (int8 weights of the MatMul and Gemm ops, activations
quantized per call). Each case segments one image per step, batch 1, on the CPU with the same thread count:

* PyTorch: the exported module itself (in-graph preprocessing, whole-image inference,
  argmax), eager, ``no_grad``;
* onnxruntime fp32 and int8 on the file.

Accuracy on the demo validation set (``data/demo``, or 4 generated scenes with
``--quick`` or without it): mIoU of each against the labels, and the share of pixels of
the same class as PyTorch's.
"""
import atexit
import os.path as osp
import shutil
import tempfile
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch

from bench_infer import _model as demo_model
from bench_utils import Case

REPO = osp.join(osp.dirname(osp.abspath(__file__)), '..', '..')
DEMO_DATA = osp.join(REPO, 'data', 'demo', 'ADEChallengeData2016')
DEMO_CHECKPOINT = osp.join(REPO, 'work_dirs', 'demo', 'last_checkpoint')
PYTORCH, ORT_FP32, ORT_INT8 = 'PyTorch (eager, no_grad)', 'onnxruntime fp32', \
    'onnxruntime int8 (dynamic)'
#: What int8 quantizes: the ViT's linear layers (as the published ViT-B figure). The
#: default also turns the heads' convolutions into ConvInteger, which onnxruntime's CPU
#: kernels run several times slower than fp32 (docs/benchmark.md).
INT8_OPS = ['MatMul', 'Gemm']


def demo_checkpoint() -> Optional[str]:
    """The checkpoint ``bash tools/run_demo.sh`` trained, if there is one."""
    if osp.isfile(DEMO_CHECKPOINT):
        path = open(DEMO_CHECKPOINT).read().strip()
        return path if osp.isfile(path) else None
    return None


def _load(quick: bool, checkpoint: Optional[str]) -> Tuple[torch.nn.Module, str]:
    """(model, what its weights are) on the CPU."""
    if quick or not checkpoint:
        return demo_model(torch.device('cpu'), quick), 'random weights (timing only)'
    from bench_infer import CONFIG

    from mmseg_expres.apis import init_model
    vit = osp.join(REPO, 'data', 'demo', 'vit_demo.pth')  # the ViT the demo trains on
    return init_model(CONFIG, checkpoint, 'cpu', {'model.backbone.pretrained': vit}), \
        f'trained, {osp.relpath(checkpoint, REPO)}'


def validation_set(quick: bool, folder: str) -> Tuple[List[np.ndarray], List[np.ndarray], str]:
    """RGB images, labels (ADE20K's reduce_zero_label: 0 -> 255, k -> k - 1) and their
    source: the demo's validation set, else generated scenes of the same kind."""
    import glob

    from PIL import Image

    from mmseg_expres.datasets.demo_data.segmentation import make_ade20k
    root, source = DEMO_DATA, 'data/demo validation set'
    if quick or not osp.isdir(osp.join(root, 'images', 'validation')):
        size = (32, 40) if quick else (128, 160)
        root = make_ade20k(folder, num_train=0, num_val=4, size=size, seed=5)
        source = f'4 generated scenes, {size[0]}x{size[1]}'
    images, labels = [], []
    for path in sorted(glob.glob(osp.join(root, 'images', 'validation', '*.jpg'))):
        images.append(np.asarray(Image.open(path).convert('RGB')))
        label = np.asarray(Image.open(path.replace('images', 'annotations')
                                      .replace('.jpg', '.png'))).astype(np.int64) - 1
        labels.append(np.where(label < 0, 255, label))
    return images, labels, f'{source}, {len(images)} images'


def miou(preds: List[np.ndarray], labels: List[np.ndarray], num_classes: int) -> float:
    """mmseg's mIoU: per class over all images, the mean over classes with a union."""
    inter, union = np.zeros(num_classes), np.zeros(num_classes)
    for pred, label in zip(preds, labels):
        valid = label != 255
        p, t = pred[valid], label[valid]
        inter += np.bincount(t[p == t], minlength=num_classes)[:num_classes]
        union += (np.bincount(p, minlength=num_classes)[:num_classes]
                  + np.bincount(t, minlength=num_classes)[:num_classes])
    union -= inter
    present = union > 0
    return float((inter[present] / union[present]).mean()) if present.any() else float('nan')


def deploy_cases(quick: bool, checkpoint: Optional[str]) -> Tuple[List[Case], Dict]:
    """The cases, and what they were run on with their accuracy (:func:`accuracy_table`)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from mmseg_expres.apis import load_checked_config
    from mmseg_expres.deploy import export_onnx
    from mmseg_expres.deploy.graph import StaticSegmentor
    from mmseg_expres.deploy.runtime import CLASSES, open_session, run_image
    from bench_infer import CONFIG
    folder = tempfile.mkdtemp(prefix='bench_deploy_')
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    model, weights = _load(quick, checkpoint)
    model.eval()
    images, labels, source = validation_set(quick, folder)
    shape = images[0].shape[:2]
    fp32, int8 = osp.join(folder, 'fp32.onnx'), osp.join(folder, 'int8.onnx')
    lines: List[str] = []
    parity = export_onnx(model, load_checked_config(CONFIG), fp32, shape, images[:3],
                         log=lines.append)
    quantize_dynamic(fp32, int8, weight_type=QuantType.QInt8, op_types_to_quantize=INT8_OPS)
    threads = torch.get_num_threads()
    # onnxruntime's threads must not spin while the PyTorch case runs
    sessions = {name: open_session(path, threads, spinning=False)
                for name, path in ((ORT_FP32, fp32), (ORT_INT8, int8))}
    static = StaticSegmentor(model, shape, 'RGB', logits=False)

    @torch.no_grad()
    def run_torch(image: np.ndarray) -> np.ndarray:
        return static(torch.from_numpy(image)[None])[0].numpy()

    def run_onnx(name: str, image: np.ndarray) -> np.ndarray:
        session, info = sessions[name]
        return run_image(session, info, image)[CLASSES]

    runners = {PYTORCH: run_torch, ORT_FP32: lambda im: run_onnx(ORT_FP32, im),
               ORT_INT8: lambda im: run_onnx(ORT_INT8, im)}
    preds = {name: [run(image) for image in images] for name, run in runners.items()}
    num_classes = len(model.dataset_meta['classes'])
    accuracy = {name: dict(miou=miou(pred, labels, num_classes),
                           agreement=float(np.mean([(a == b).mean() for a, b in
                                                    zip(pred, preds[PYTORCH])])))
                for name, pred in preds.items()}
    image = images[0]
    cases = [Case(name, lambda run=run: run(image)) for name, run in runners.items()]
    summary = dict(shape=list(shape), weights=weights, data=source, threads=threads,
                   parity=lines[-1] if lines else '', accuracy=accuracy,
                   sizes_mb={n: osp.getsize(p) / 2**20 for n, p in
                             ((ORT_FP32, fp32), (ORT_INT8, int8))})
    return cases, summary


def accuracy_table(summary: Dict) -> str:
    """mIoU and agreement with PyTorch of each case, with what they ran on."""
    lines = ['', f'Model: {summary["weights"]}; input {summary["shape"][0]}x'
             f'{summary["shape"][1]}, batch 1, {summary["threads"]} threads; export '
             f'{summary["parity"]}', '',
             f'| on the {summary["data"]} | mIoU | pixels as PyTorch | file MB |',
             '|---|---|---|---|']
    for name, row in summary['accuracy'].items():
        size = summary['sizes_mb'].get(name)
        lines.append(f'| {name} | {100 * row["miou"]:.2f} | {100 * row["agreement"]:.2f} % | '
                     f'{"-" if size is None else f"{size:.1f}"} |')
    return '\n'.join(lines)
