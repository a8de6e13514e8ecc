"""What the page's buttons run: a segmentor on images, a few-shot segmentor on queries.

Both classes hold a model built once; each call writes the masks to download into a new
temporary folder and returns the pictures to show. No Gradio here (see ``page.py``).
"""
import contextlib
import html
import os.path as osp
import shutil
import tempfile
import time
from typing import Iterator, List, NamedTuple, Optional, Sequence, Tuple

import mmcv
import numpy as np
from torch import nn

from ..apis.fewshot_seg import encode_supports, prepare_supports, segment_queries
from ..visualization import OBJECT_RGB, class_shares, overlay, overlay_mask
from ..visualization.palettes import palette_for
from .inputs import (DemoInputError, check_image_file, check_uploaded_mask, editor_picture,
                     painted_mask, read_image)

#: The page's limit on references, like the 5-shot episodes of the benchmarks.
MAX_REFERENCES = 5


class Result(NamedTuple):
    """What a run shows: captioned RGB pictures, files to download, a summary (HTML)."""
    pictures: List[Tuple[np.ndarray, str]]
    files: List[str]
    summary: str


def _stem(path: str) -> str:
    return osp.splitext(osp.basename(path))[0]


def _need_files(paths: Optional[Sequence[str]], what: str) -> List[str]:
    if not paths:
        raise DemoInputError(f'Upload one or more {what} first (or pick an example).')
    return list(paths)


def _timed(fn, *args):
    start = time.perf_counter()
    out = fn(*args)
    return out, 1000 * (time.perf_counter() - start)


@contextlib.contextmanager
def run_folder(prefix: str) -> Iterator[str]:
    """A new folder for one click's downloads, removed again if the click fails (the page
    removes it once it has served the files)."""
    folder = tempfile.mkdtemp(prefix=prefix)
    try:
        yield folder
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


class SegmentDemo:
    """Semantic segmentation with mmseg's ``inference_model``; drawn with ``palette`` (a
    file or colours, as ``tools/infer.py --palette`` takes them), else the config's data
    set palette, else the checkpoint's."""

    def __init__(self, model: nn.Module, palette=None) -> None:
        self.model = model
        classes, self.palette = palette_for(model, getattr(model, 'dataset_meta', None),
                                            palette)
        self.classes = list(classes)

    def predict(self, image: np.ndarray) -> np.ndarray:
        """(H, W) class indices for a BGR image, as ``inference_model`` predicts them."""
        from mmseg.apis import inference_model  # mmseg checks mmcv on import: only here
        result = inference_model(self.model, image)
        return result.pred_sem_seg.data[0].cpu().numpy()

    def __call__(self, paths: Optional[Sequence[str]]) -> Result:
        paths = _need_files(paths, 'images')
        for path in paths:  # every file's refusal before the first model call
            check_image_file(path)
        pictures, files, legends = [], [], []
        with run_folder('segment_') as out_dir:
            for path in paths:  # one decoded image at a time: read, run, drawn, let go
                image = read_image(path)
                label, ms = _timed(self.predict, image)
                pictures.append((overlay(image[..., ::-1], label, self.palette),
                                 osp.basename(path)))
                files.append(osp.join(out_dir, f'{_stem(path)}_mask.png'))
                mmcv.imwrite(label.astype(np.uint8 if label.max() < 256 else np.uint16),
                             files[-1])
                legends.append(self.legend(osp.basename(path), label, ms))
        return Result(pictures, files, '\n'.join(legends))

    def legend(self, name: str, label: np.ndarray, ms: float) -> str:
        """An HTML table: each class present, its colour and its share of the image."""
        rows = ''.join(
            f'<tr><td><span class="swatch" style="background: rgb{row.rgb}"></span></td>'
            f'<td>{html.escape(row.name)}</td><td>{row.index}</td>'
            f'<td>{100 * row.share:.1f}%</td></tr>'
            for row in class_shares(label, self.classes, self.palette))
        return (f'<h4>{html.escape(name)}: model {ms:.0f} ms</h4><table class="legend">'
                f'<tr><th></th><th>class</th><th>index</th><th>share</th></tr>{rows}</table>')


class FewShotDemo:
    """One-shot (up to 5-shot) segmentation, the references encoded once per click
    (:func:`mmseg_expres.apis.fewshot_seg.segment_queries`).

    A reference is the image editor's value (picture + brush layers) and, optionally, an
    uploaded mask that replaces the painting.
    """

    def __init__(self, model: nn.Module) -> None:
        self.model = model

    @staticmethod
    def references(editors: Sequence[Optional[dict]], masks: Sequence[Optional[str]],
                   ) -> List[Tuple[np.ndarray, object]]:
        """(BGR image, 0/1 mask or mask path) for each reference with a picture."""
        refs = []
        for i, (editor, mask_path) in enumerate(zip(editors, masks)):
            which = f'reference {i + 1}'
            image = editor_picture(editor)
            if image is None:
                if mask_path:
                    raise DemoInputError(f'{which.capitalize()} has a mask but no picture: '
                                         'upload the picture in its editor.')
                continue
            if mask_path:
                check_uploaded_mask(mask_path, image.shape[:2], which)
                refs.append((image, mask_path))
            else:
                refs.append((image, painted_mask(editor, which)))
        if not refs:
            raise DemoInputError('Upload a reference picture and paint over the object '
                                 'first (or pick an example).')
        return refs[:MAX_REFERENCES]

    def __call__(self, editors: Sequence[Optional[dict]], masks: Sequence[Optional[str]],
                 queries: Optional[Sequence[str]]) -> Result:
        refs = self.references(editors, masks)
        query_paths = _need_files(queries, 'query images')
        for path in query_paths:  # every file's refusal before the first model call
            check_image_file(path)
        try:  # once per click: each mask file is read once, the supports encoded once
            encoded, encode_ms = _timed(self.encode, refs)
        except ValueError as err:  # e.g. an uploaded mask in a format it refuses
            raise DemoInputError(f'The references cannot be used: {err}') from err
        pictures, files, lines = [], [], []
        with run_folder('fewshot_') as out_dir:
            for i, (image, mask) in enumerate(refs):
                if isinstance(mask, np.ndarray):  # painted: offered for download, to reuse
                    files.append(osp.join(out_dir, f'reference{i + 1}_mask.png'))
                    mmcv.imwrite(mask, files[-1])
            for path in query_paths:  # one decoded query at a time
                image = read_image(path)
                (found,), ms = _timed(segment_queries, self.model, [image], encoded)
                pictures.append((overlay_mask(image[..., ::-1], found, OBJECT_RGB),
                                 osp.basename(path)))
                files.append(osp.join(out_dir, f'{_stem(path)}_mask.png'))
                mmcv.imwrite(found, files[-1])
                lines.append(f'<li>{html.escape(osp.basename(path))}: '
                             f'{100 * found.mean():.1f}% of the image, model {ms:.0f} ms</li>')
        shots = f'{len(refs)} reference{"s" if len(refs) > 1 else ""}'
        return Result(pictures, files, f'<p>From {shots} (encoded in {encode_ms:.0f} ms):'
                                       f'</p><ul>{"".join(lines)}</ul>')

    def encode(self, refs: Sequence[Tuple[np.ndarray, object]]):
        """The references read, checked and through the model once, for every query
        (:func:`~mmseg_expres.apis.fewshot_seg.encode_supports`)."""
        supports = prepare_supports(self.model, [image for image, _ in refs],
                                    [mask for _, mask in refs])
        return encode_supports(self.model, supports)
