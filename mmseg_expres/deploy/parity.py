"""Parity of an exported file with the PyTorch model, measured on real images.

Each check image is fitted to the export size as the runtime fits it
(:func:`~.runtime.fit_image`), then run by onnxruntime from the file and by the PyTorch
model through mmseg's own path: the config's ``SegDataPreProcessor`` on the BGR pixels
mmseg's pipelines load, then whole-image inference. So the comparison covers the
in-graph preprocessing as well as the network.
"""
import math
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn

from ..utils.numeric import within
from .runtime import CLASSES, LOGITS, DeployInfo, fit_image, run_image

#: An export passes with at least this share of pixels of the same class.
MIN_AGREEMENT = 0.999


@dataclass
class Parity:
    """How far the file's outputs are from PyTorch's, over all check images.

    Attributes:
        max_abs: the largest absolute logit difference.
        max_rel: ``max_abs`` over the largest absolute PyTorch logit.
        agreement: share of pixels whose class is the same.
        images: how many images were compared.
    """

    max_abs: float
    max_rel: float
    agreement: float
    images: int

    @property
    def passed(self) -> bool:
        """At least :data:`MIN_AGREEMENT` agreement, and no NaN or inf anywhere."""
        return (math.isfinite(self.max_abs) and math.isfinite(self.max_rel)
                and within(1.0 - self.agreement, 1.0 - MIN_AGREEMENT))

    def line(self) -> str:
        return (f'parity on {self.images} image(s): max |logit diff| {self.max_abs:.3g}, '
                f'relative {self.max_rel:.3g}, pixels of the same class '
                f'{100 * self.agreement:.3f} % (pass: >= {100 * MIN_AGREEMENT:.1f} %, '
                'no NaN)')


def compare(pairs: Sequence[Tuple[np.ndarray, np.ndarray, np.ndarray]]) -> Parity:
    """:class:`Parity` of (onnx logits, onnx classes, torch logits) triples; a NaN or inf
    logit on either side makes the differences NaN."""
    max_abs, peak, same, total = 0.0, 0.0, 0, 0
    for onnx_logits, onnx_classes, torch_logits in pairs:
        finite = np.isfinite(onnx_logits).all() and np.isfinite(torch_logits).all()
        diff = float(np.abs(onnx_logits.astype(np.float64) - torch_logits).max())
        max_abs = max(max_abs, diff) if finite else math.nan
        peak = max(peak, float(np.abs(torch_logits).max())) if finite else math.nan
        same += int((onnx_classes == torch_logits.argmax(0)).sum())
        total += onnx_classes.size
        if not finite:
            break
    rel = max_abs / peak if peak else (0.0 if max_abs == 0 else math.nan)
    return Parity(max_abs, rel, same / max(total, 1), len(pairs))


@torch.no_grad()
def torch_logits(model: nn.Module, image_rgb: np.ndarray) -> np.ndarray:
    """(C, H, W) logits of the PyTorch segmentor, whole-image, for one RGB image."""
    bgr = torch.from_numpy(np.ascontiguousarray(image_rgb[..., ::-1])).permute(2, 0, 1)
    device = next(model.parameters()).device
    inputs = model.data_preprocessor(dict(inputs=[bgr.to(device)]), False)['inputs']
    shape = tuple(image_rgb.shape[:2])
    metas = [dict(img_shape=shape, ori_shape=shape, pad_shape=shape)]
    return model.whole_inference(inputs, metas)[0].float().cpu().numpy()


def measure(session, info: DeployInfo, model: nn.Module,
            images_rgb: Sequence[np.ndarray]) -> Parity:
    """Parity of a session (whose graph outputs the logits) with ``model``."""
    if LOGITS not in [o.name for o in session.get_outputs()]:
        raise ValueError('parity needs a graph with the logits output')
    pairs = []
    for image in images_rgb:
        image = fit_image(image, info.shape)
        outputs = run_image(session, info, image)
        pairs.append((outputs[LOGITS], outputs[CLASSES], torch_logits(model, image)))
    return compare(pairs)


def generated_images(shape: Tuple[int, int], count: int = 3,
                     seed: int = 0) -> List[np.ndarray]:
    """Scenes of the demo data sets (sky, buildings, trees, floor; noise), RGB."""
    from ..datasets.demo_data.segmentation import draw_scene
    rng = np.random.default_rng(seed)
    return [draw_scene(rng, tuple(shape))[0] for _ in range(count)]


def read_images(paths: Optional[Sequence[str]]) -> List[np.ndarray]:
    """RGB images from files, read as ``tools/infer.py`` reads them (mmcv, as shown)."""
    from ..apis.media import read_image
    return [read_image(path)[..., ::-1] for path in paths or ()]
