"""Running an exported segmentor: what the file says about itself, and one image through it.

Used by the export's parity check and by ``tools/deploy/infer_onnx.py``, so both feed
the graph the same pixels. This module imports only numpy and OpenCV (and onnxruntime
where a session is opened): the torch-free runtime loads it by its path, because the
package's ``__init__`` sets up torch.

The contract (:class:`DeployInfo`, stored as JSON under :data:`KEY` in the file's
``metadata_props``): input :data:`INPUT`, uint8 (1, H, W, 3) in ``channels`` order;
outputs :data:`CLASSES`, int64 (1, H, W), and, if exported, :data:`LOGITS`, float32
(1, C, H, W). An image of another size is resized to (H, W) (bilinear, aspect ratio not
kept) and its class map back to the image's size (nearest).
"""
import json
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Mapping, Tuple

import cv2
import numpy as np

#: The ``metadata_props`` key holding :class:`DeployInfo` as JSON.
KEY = 'mmseg_expres'
#: The graph's input and outputs.
INPUT, CLASSES, LOGITS = 'image', 'classes', 'logits'


@dataclass
class DeployInfo:
    """An exported segmentor's contract.

    Attributes:
        height, width: the fixed input size (the graph is static: one shape).
        channels: ``'RGB'`` or ``'BGR'``, the order of the input's last axis.
        classes: class names; index = class id in :data:`CLASSES`.
        palette: one [R, G, B] per class, for the palette PNGs and overlays.
        outputs: the graph's outputs, :data:`CLASSES` and maybe :data:`LOGITS`.
        source: the config and checkpoint exported.
        notes: where the graph computes other than ``tools/test.py`` does, by design.
    """

    height: int
    width: int
    channels: str
    classes: List[str]
    palette: List[List[int]]
    outputs: List[str] = field(default_factory=lambda: [CLASSES])
    source: Dict[str, str] = field(default_factory=dict)
    notes: List[str] = field(default_factory=list)

    @property
    def shape(self) -> Tuple[int, int]:
        return self.height, self.width

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_metadata(cls, props: Mapping[str, str], path: str = 'the model') -> 'DeployInfo':
        """From an ONNX file's metadata (onnxruntime's ``custom_metadata_map``)."""
        if KEY not in props:
            raise ValueError(f'{path} carries no {KEY!r} metadata: export it with '
                             'tools/deploy/export_onnx.py, which stores the input size, '
                             'the classes and the palette in the file.')
        return cls(**json.loads(props[KEY]))


def open_session(path, threads: int = 0, spinning: bool = True):
    """An onnxruntime CPU session on ``path`` (a file, or a model's bytes) and the
    model's :class:`DeployInfo`.

    ``threads``: intra-op threads (0: onnxruntime's default, one per core);
    ``spinning=False``: its threads sleep between runs instead of spinning (for
    benchmarks that run other work in between).
    """
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    if not spinning:
        options.add_session_config_entry('session.intra_op.allow_spinning', '0')
    session = ort.InferenceSession(path, options, providers=['CPUExecutionProvider'])
    name = path if isinstance(path, str) else 'the model'
    return session, DeployInfo.from_metadata(session.get_modelmeta().custom_metadata_map,
                                             name)


def fit_image(image_rgb: np.ndarray, shape: Tuple[int, int]) -> np.ndarray:
    """An RGB (h, w, 3) uint8 image at the graph's (H, W): bilinear, as is if it fits."""
    if image_rgb.shape[:2] == tuple(shape):
        return image_rgb
    return cv2.resize(image_rgb, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)


def run_image(session, info: DeployInfo, image_rgb: np.ndarray) -> Dict[str, np.ndarray]:
    """The graph's outputs for one RGB image already at ``info.shape``, batch axis removed."""
    if image_rgb.shape != (info.height, info.width, 3) or image_rgb.dtype != np.uint8:
        raise ValueError(f'the graph takes uint8 ({info.height}, {info.width}, 3) images; got '
                         f'{image_rgb.dtype} {image_rgb.shape} (fit_image resizes).')
    pixels = image_rgb if info.channels == 'RGB' else image_rgb[..., ::-1]
    names = [output.name for output in session.get_outputs()]
    values = session.run(names, {INPUT: np.ascontiguousarray(pixels)[None]})
    return {name: value[0] for name, value in zip(names, values)}


def segment(session, info: DeployInfo, image_rgb: np.ndarray) -> np.ndarray:
    """Class indices (h, w) of an RGB image of any size (see the module docstring)."""
    classes = run_image(session, info, fit_image(image_rgb, info.shape))[CLASSES]
    if classes.shape != image_rgb.shape[:2]:
        classes = cv2.resize(classes.astype(np.int32), (image_rgb.shape[1], image_rgb.shape[0]),
                             interpolation=cv2.INTER_NEAREST)
    return classes
