"""Segment images and videos into an output folder: what ``tools/infer.py`` runs.

Per image ``<name>_pred.png`` (class indices as a palette PNG with the data set's
palette, or the one given) and ``<name>_overlay.png`` (the image tinted by class, with a
legend panel on its right, or at the image's size without it); per
video ``<name>_overlay.mp4`` (``.avi`` for an ``.avi``) at the input's frame rate and,
with ``save_frames``, ``<name>/<frame>_pred.png`` and ``<name>/<frame>_overlay.png``.
A file that cannot be read is recorded and skipped; the rest continue.
"""
import os
import os.path as osp
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image
from torch import nn

from ..visualization import overlay, overlay_with_legend, save_index_png
from ..visualization.drawing import PNG_COMPRESSION
from ..visualization.palettes import PaletteSpec, palette_for
from .fewshot_seg import Supports, encode_supports, segment_queries
from .media import Source, VideoFrames, VideoWriter, read_image

VIDEO_LEGEND_ROWS = 8  # a video's frames share one size, so its legend has fixed room


class Segmenter:
    """A model that maps a batch of BGR images to class-index maps at their own size.

    Ordinary segmentors run through mmseg's ``inference_model`` (the model's test
    pipeline); the few-shot segmentor segments each image as the query of an episode
    with the given supports (class 1 = the supports' object).

    Args:
        model: from :func:`~.inference.init_model`.
        supports: the few-shot segmentor's supports (:func:`~.fewshot_seg.prepare_supports`);
            None for other models.
        class_name: the few-shot class's name in legends.
        palette: the colours to draw in (:func:`~..visualization.palettes.drawing_palette`:
            a file, or colours); None: the config's data set palette if it sets one,
            else the checkpoint's (``dataset_meta``).
    """

    def __init__(self, model: nn.Module, supports: Optional[Supports] = None,
                 class_name: str = 'object', palette: Optional[PaletteSpec] = None) -> None:
        from ..models.fewshot_seg import FewShotSegmentor
        self.model = model
        fewshot = isinstance(model, FewShotSegmentor)
        if fewshot and supports is None:
            raise ValueError('This is a few-shot segmentor: give the object to find as '
                             'support images and masks (--support IMAGE MASK ...).')
        if supports is not None and not fewshot:
            raise ValueError(f'Supports are for the few-shot segmentor; this config builds '
                             f'a {type(model).__name__}: leave out --support.')
        # encoded once: every batch of images and frames reuses the supports' prototypes
        self.supports = None if supports is None else encode_supports(model, supports)
        meta = getattr(model, 'dataset_meta', None)
        if fewshot:
            trained = (meta or {}).get('palette') or [[0, 0, 0], [255, 64, 64]]
            meta = dict(classes=('background', class_name), palette=trained[:2])
        self.classes, self.palette = palette_for(model, meta, palette, config=not fewshot)

    def __call__(self, images: Sequence[np.ndarray]) -> List[np.ndarray]:
        if self.supports is not None:
            return segment_queries(self.model, images, self.supports)
        from mmseg.apis import inference_model

        # mmseg's test-time preprocessor stacks a batch without padding: one forward per
        # image size (a folder's photos, a video's frames share theirs)
        preds: List[Optional[np.ndarray]] = [None] * len(images)
        for shape in dict.fromkeys(image.shape for image in images):
            indices = [i for i, image in enumerate(images) if image.shape == shape]
            results = inference_model(self.model, [images[i] for i in indices])
            for i, result in zip(indices, results):
                preds[i] = result.pred_sem_seg.data[0].cpu().numpy()
        return preds


class Progress:
    """One line on stderr: done/total, images per second, time left."""

    def __init__(self, total: int, stream=sys.stderr) -> None:
        self.total, self.done, self.stream = total, 0, stream
        self.start = time.perf_counter()

    @property
    def rate(self) -> float:
        return self.done / max(time.perf_counter() - self.start, 1e-9)

    def update(self, n: int) -> None:
        self.done += n
        left = (self.total - self.done) / self.rate if self.done else 0.0
        filled = int(20 * self.done / max(self.total, 1))
        self.stream.write(f'\r[{"#" * filled}{"." * (20 - filled)}] {self.done}/{self.total} '
                          f'images, {self.rate:.1f} images/s, {left:.0f} s left ')
        self.stream.flush()

    def close(self) -> None:
        self.stream.write('\n')


@dataclass
class Summary:
    """What a run did: counts, the files it could not read, its speed."""
    images: int = 0
    videos: int = 0
    frames: int = 0
    failed: List[Tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    def report(self) -> str:
        done = self.images + self.frames
        lines = [f'Segmented {self.images} image(s) and {self.frames} frame(s) of '
                 f'{self.videos} video(s): {done / max(self.seconds, 1e-9):.1f} images/s.']
        if self.failed:
            lines.append(f'{len(self.failed)} input(s) failed:')
            lines += [f'  {path}: {reason}' for path, reason in self.failed]
        return '\n'.join(lines)


def _batches(items: Iterable, size: int) -> Iterator[list]:
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _picture(segmenter: Segmenter, image: np.ndarray, pred: np.ndarray, opacity: float,
             legend: bool, legend_rows: Optional[int] = None) -> np.ndarray:
    """The overlay (RGB) of a BGR image: with the legend panel on its right, or at the
    image's size (``legend=False``)."""
    if not legend:
        return overlay(image[..., ::-1], pred, segmenter.palette, opacity)
    return overlay_with_legend(image[..., ::-1], pred, segmenter.classes, segmenter.palette,
                               opacity, legend_rows=legend_rows)


def _write_pair(segmenter: Segmenter, image: np.ndarray, pred: np.ndarray, stem: str,
                opacity: float, legend: bool = True) -> np.ndarray:
    """Write ``<stem>_pred.png`` and ``<stem>_overlay.png``; return the overlay (RGB)."""
    os.makedirs(osp.dirname(stem) or '.', exist_ok=True)
    save_index_png(pred, segmenter.palette, stem + '_pred.png')
    picture = _picture(segmenter, image, pred, opacity, legend)
    Image.fromarray(picture).save(stem + '_overlay.png', compress_level=PNG_COMPRESSION)
    return picture


class BackgroundWriter:
    """Writes files in one thread beside the model, so drawing and PNG compression (which
    release the GIL) overlap the next batch; at most ``limit`` jobs wait, and an error in
    a job is raised in the caller by :meth:`submit` or :meth:`close`."""

    def __init__(self, limit: int) -> None:
        from concurrent.futures import ThreadPoolExecutor
        self.pool, self.limit, self.pending = ThreadPoolExecutor(max_workers=1), limit, []

    def submit(self, fn: Callable, *args) -> None:
        self.pending.append(self.pool.submit(fn, *args))
        while len(self.pending) > self.limit or (self.pending and self.pending[0].done()):
            self.pending.pop(0).result()

    def drain(self) -> None:
        """Wait for every job; raise the first error."""
        pending, self.pending = self.pending, []
        for job in pending:
            job.result()

    def close(self) -> None:
        try:
            self.drain()
        finally:
            self.pool.shutdown()


def _segment_images(segmenter: Segmenter, sources: List[Source], out_dir: str,
                    batch_size: int, opacity: float, legend: bool, summary: Summary,
                    tick: Callable[[int], None], writer: BackgroundWriter) -> None:
    for batch in _batches(sources, batch_size):
        images, kept = [], []
        for source in batch:
            try:
                images.append(read_image(source.path))
                kept.append(source)
            except ValueError as error:
                summary.failed.append((source.path, str(error)))
        if images:
            for source, image, pred in zip(kept, images, segmenter(images)):
                writer.submit(_write_pair, segmenter, image, pred,
                              osp.join(out_dir, source.name), opacity, legend)
        summary.images += len(kept)
        tick(len(batch))


def _segment_video(segmenter: Segmenter, source: Source, out_dir: str, batch_size: int,
                   opacity: float, legend: bool, save_frames: bool, summary: Summary,
                   tick: Callable[[int], None], writer: BackgroundWriter) -> None:
    try:
        frames = VideoFrames(source.path)
    except ValueError as error:
        summary.failed.append((source.path, str(error)))
        return
    suffix = '.avi' if source.path.lower().endswith('.avi') else '.mp4'
    out = osp.join(out_dir, source.name + '_overlay' + suffix)
    os.makedirs(osp.dirname(out), exist_ok=True)
    rows = min(len(segmenter.classes), VIDEO_LEGEND_ROWS)
    video: List[VideoWriter] = []  # opened by the first frame, which gives the size

    def add_frame(frame: np.ndarray, pred: np.ndarray) -> None:
        picture = _picture(segmenter, frame, pred, opacity, legend, legend_rows=rows)
        if not video:
            video.append(VideoWriter(out, frames.fps, picture.shape[:2]))
        video[0].write(picture[..., ::-1])

    count = 0
    try:
        for batch in _batches(frames, batch_size):
            for frame, pred in zip(batch, segmenter(batch)):
                if save_frames:
                    stem = osp.join(out_dir, source.name, f'{count:06d}')
                    writer.submit(_write_pair, segmenter, frame, pred, stem, opacity, legend)
                writer.submit(add_frame, frame, pred)  # one thread: frames stay in order
                count += 1
            tick(len(batch))
    finally:
        writer.drain()
        if video:
            video[0].close()
    if count == 0:
        summary.failed.append((source.path, 'OpenCV could not decode any frame'))
        return
    summary.videos += 1
    summary.frames += count


def segment_files(segmenter: Segmenter, sources: Sequence[Source], out_dir: str,
                  batch_size: int = 1, opacity: float = 0.5, save_frames: bool = False,
                  show_progress: bool = True, legend: bool = True) -> Summary:
    """Segment every source into ``out_dir`` (this module's docstring says what is written).

    Args:
        segmenter: the model.
        sources: from :func:`~.media.expand_inputs`.
        out_dir: the output folder (made if missing).
        batch_size: images (or frames) per forward pass.
        opacity: of the class colours over the image in the overlays.
        save_frames: also write each video frame's index PNG and overlay.
        show_progress: a progress line on stderr.
        legend: overlays (and videos) with the legend panel on the right
            (``LEGEND_WIDTH`` pixels wider than the input); False: at the input's size.
    """
    if batch_size < 1:
        raise ValueError(f'batch_size={batch_size}: use 1 or more.')
    os.makedirs(out_dir, exist_ok=True)
    images = [s for s in sources if not s.is_video]
    videos = [s for s in sources if s.is_video]
    total = len(images) + sum(_frame_count(v.path) for v in videos)
    progress = Progress(total) if show_progress else None
    tick = progress.update if progress else (lambda n: None)
    summary, start = Summary(), time.perf_counter()
    writer = BackgroundWriter(limit=2 * batch_size)
    try:
        _segment_images(segmenter, images, out_dir, batch_size, opacity, legend, summary,
                        tick, writer)
        for video in videos:
            _segment_video(segmenter, video, out_dir, batch_size, opacity, legend,
                           save_frames, summary, tick, writer)
    finally:
        writer.close()
    if progress:
        progress.close()
    summary.seconds = time.perf_counter() - start
    return summary


def _frame_count(path: str) -> int:
    """OpenCV's frame count (for the progress bar; 0 when it cannot open the file)."""
    import cv2
    capture = cv2.VideoCapture(path)
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) if capture.isOpened() else 0
    capture.release()
    return max(count, 0)
