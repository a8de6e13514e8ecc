"""Few-shot segmentation for a user: supports of a new class in, the query's mask out."""
from typing import List, NamedTuple, Optional, Sequence, Tuple, Union

import mmcv
import numpy as np
import torch
from torch import Tensor, nn

from .media import read_image
from .support_masks import read_support_mask

Image = Union[str, np.ndarray]


def episode_size(model: nn.Module) -> Tuple[int, int]:
    """(H, W) that the model's config resizes episodes to (its test pipeline's Resize)."""
    cfg = getattr(model, 'cfg', None)
    pipeline = cfg.test_dataloader.dataset.pipeline if cfg is not None else []
    for transform in pipeline:
        if transform['type'] == 'Resize':
            w, h = transform['scale']  # mmcv's scale is (w, h)
            return h, w
    raise ValueError('The model has no config with a test pipeline Resize: build it with '
                     'mmseg_expres.apis.init_model(config, checkpoint).')


def as_bgr(image: Image) -> np.ndarray:
    """A BGR uint8 (H, W, 3) image from a path (:func:`~.media.read_image`) or an array."""
    return read_image(image) if isinstance(image, str) else np.asarray(image)


class Supports(NamedTuple):
    """The K supports of a class, resized once for any number of queries.

    Attributes:
        images: (K, 3, H, W) uint8 BGR at the episode size.
        masks: (K, H, W) uint8, 1 the class, 0 other, 255 ignored.
    """
    images: Tensor
    masks: Tensor


def prepare_supports(model: nn.Module, supports: Sequence[Image],
                     support_masks: Sequence[Image], cls: Optional[int] = None,
                     color: Optional[Sequence[int]] = None,
                     ignore_index: Optional[int] = None,
                     resize_masks: bool = False) -> Supports:
    """Read, check and resize the supports (see :func:`fewshot_segment` for the args).

    Raises:
        ValueError: no supports, a different number of masks, an unreadable image.
        SupportMaskError: a mask that is ambiguous, without the class, or of another
            size than its image (:func:`~.support_masks.read_support_mask`).
    """
    if not supports or len(supports) != len(support_masks):
        raise ValueError(f'Need K >= 1 support images and as many masks; got '
                         f'{len(supports)} images and {len(support_masks)} masks.')
    h, w = episode_size(model)
    images, masks = [], []
    for i, (support, mask) in enumerate(zip(supports, support_masks), start=1):
        image = as_bgr(support)
        name = f'support {i}' + (f' ({mask})' if isinstance(mask, str) else '')
        # a photo's EXIF orientation: the mask must match the photo as shown
        binary = read_support_mask(mask, image.shape[:2], cls, color, ignore_index,
                                   resize_masks, name,
                                   image_path=support if isinstance(support, str) else None)
        images.append(torch.from_numpy(mmcv.imresize(image, (w, h))).permute(2, 0, 1))
        masks.append(torch.from_numpy(mmcv.imresize(binary, (w, h), interpolation='nearest')))
    return Supports(torch.stack(images), torch.stack(masks))


class EncodedSupports(NamedTuple):
    """A class's supports as the model's head reads them, computed once for all queries.

    Attributes:
        prototypes: per level the head reads, (1, 2, C)
            (:meth:`~mmseg_expres.models.fewshot_seg.FewShotSegmentor.encode_supports`).
        size: the episode size (H, W) the queries are resized to.
        shots: K, the number of supports.
    """
    prototypes: List[Tensor]
    size: Tuple[int, int]
    shots: int


#: Queries per forward in :func:`segment_queries` (a video's frames, a folder's images).
QUERY_BATCH_SIZE = 8


def _check_fewshot_model(model: nn.Module) -> None:
    if not hasattr(model, 'encode_supports'):
        raise ValueError(f'{type(model).__name__} is not a few-shot segmentor: build the '
                         'model of a few-shot config (configs/fewshot/, configs/demo/*proto*) '
                         'with mmseg_expres.apis.init_model.')


def encode_supports(model: nn.Module, supports: Supports) -> EncodedSupports:
    """The supports through the ViT once (K images), as prototypes for any number of queries.

    A query's features do not depend on its supports inside the ViT (each image is a
    sequence of its own), so this gives :func:`segment_queries` the numbers of whole
    episodes (:func:`segment_as_episodes`) at Q + K images through the ViT, not Q x (1 + K).
    """
    _check_fewshot_model(model)
    inputs = model.data_preprocessor(dict(inputs=[supports.images]), False)['inputs']
    with torch.no_grad():
        prototypes = model.encode_supports(inputs, supports.masks[None].to(inputs.device))
    return EncodedSupports(prototypes, tuple(supports.images.shape[-2:]), len(supports.images))


def _queries(queries: Sequence[np.ndarray], size: Tuple[int, int]) -> Tuple[list, list]:
    """Each BGR query resized to the episode size as a (1, 3, H, W) uint8 tensor, and
    its data sample (its own size, to which the prediction is resized back)."""
    from mmseg.structures import SegDataSample  # mmseg checks mmcv on import: only here
    h, w = size
    inputs, samples = [], []
    for query in queries:
        inputs.append(torch.from_numpy(mmcv.imresize(query, (w, h))).permute(2, 0, 1)[None])
        samples.append(SegDataSample(metainfo=dict(ori_shape=query.shape[:2],
                                                   img_shape=(h, w))))
    return inputs, samples


def _masks(results: list) -> List[np.ndarray]:
    return [r.pred_sem_seg.data[0].cpu().numpy().astype(np.uint8) for r in results]


def segment_queries(model: nn.Module, queries: Sequence[np.ndarray],
                    supports: Union[Supports, EncodedSupports],
                    batch_size: int = QUERY_BATCH_SIZE) -> List[np.ndarray]:
    """Segment BGR queries with one class's supports, encoded once.

    Args:
        model: a few-shot segmentor.
        queries: (H, W, 3) BGR arrays, each of any size.
        supports: from :func:`prepare_supports` (encoded here, once for all the
            queries) or :func:`encode_supports` (to reuse over many calls: a video's
            batches, a page's queries).
        batch_size: queries per forward.

    Returns:
        per query, its (H, W) uint8 mask at its own size, 1 where the class is.
    """
    if batch_size < 1:
        raise ValueError(f'batch_size must be >= 1, got {batch_size}.')
    if isinstance(supports, Supports):
        supports = encode_supports(model, supports)
    _check_fewshot_model(model)
    masks: List[np.ndarray] = []
    for start in range(0, len(queries), batch_size):
        inputs, samples = _queries(queries[start:start + batch_size], supports.size)
        data = model.data_preprocessor(dict(inputs=inputs, data_samples=samples), False)
        with torch.no_grad():
            masks += _masks(model.predict_queries(data['inputs'], supports.prototypes,
                                                  data['data_samples']))
    return masks


def segment_as_episodes(model: nn.Module, queries: Sequence[np.ndarray],
                        supports: Supports) -> List[np.ndarray]:
    """Each query as a whole episode with the supports, in one batch: the model's own
    episode forward, Q x (1 + K) images through the ViT.

    The form of training and ``tools/test.py``, and the reference that
    :func:`segment_queries` equals; use that for inference.
    """
    from mmengine.structures import PixelData
    inputs, samples = _queries(queries, tuple(supports.images.shape[-2:]))
    for sample in samples:
        sample.support_masks = PixelData(data=supports.masks)
    episodes = [torch.cat([query, supports.images]) for query in inputs]
    with torch.no_grad():
        return _masks(model.test_step(dict(inputs=episodes, data_samples=samples)))


def fewshot_segment(model: nn.Module, query: Image, supports: Sequence[Image],
                    support_masks: Sequence[Image], cls: Optional[int] = None,
                    color: Optional[Sequence[int]] = None,
                    ignore_index: Optional[int] = None,
                    resize_masks: bool = False) -> np.ndarray:
    """Segment in ``query`` the class that ``support_masks`` mark in ``supports``.

    Nothing is trained: the prompts and head are those of the meta-trained checkpoint.
    For many queries (a video, a folder) prepare and encode the supports once
    (:func:`prepare_supports`, :func:`encode_supports`) and call :func:`segment_queries`.

    Args:
        model: a few-shot segmentor from :func:`mmseg_expres.apis.init_model`.
        query: image path or (H, W, 3) BGR array (as ``mmcv.imread`` reads it).
        supports: K support images, likewise.
        support_masks: their masks, paths or arrays: index masks (0/1, 0/255 or label
            maps with ``cls``), palette PNGs (read as indices) or colour masks (with
            ``color``); the formats and rules are listed in
            :mod:`mmseg_expres.apis.support_masks`.
        cls: the class's value in label maps; None when each mask holds two values.
        color: the class's (R, G, B) in colour masks.
        ignore_index: a mask value to ignore (e.g. 255 in VOC's masks); none by default.
        resize_masks: resize a mask of another size than its image (nearest, with a
            warning) instead of refusing it.

    Returns:
        (H, W) uint8 mask of the query at its own size, 1 where the class is.

    Raises:
        ValueError: no supports, or a different number of masks, or unreadable images.
        SupportMaskError: see :func:`prepare_supports`.
    """
    prepared = prepare_supports(model, supports, support_masks, cls, color, ignore_index,
                                resize_masks)
    return segment_queries(model, [as_bgr(query)], prepared)[0]
