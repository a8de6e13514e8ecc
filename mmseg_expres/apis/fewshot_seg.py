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
        binary = read_support_mask(mask, image.shape[:2], cls, color, ignore_index,
                                   resize_masks, name)
        images.append(torch.from_numpy(mmcv.imresize(image, (w, h))).permute(2, 0, 1))
        masks.append(torch.from_numpy(mmcv.imresize(binary, (w, h), interpolation='nearest')))
    return Supports(torch.stack(images), torch.stack(masks))


def segment_queries(model: nn.Module, queries: Sequence[np.ndarray],
                    supports: Supports) -> List[np.ndarray]:
    """One batch of episodes: each BGR query with the same supports.

    Returns:
        per query, its (H, W) uint8 mask at its own size, 1 where the class is.
    """
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample  # mmseg checks mmcv on import: only here
    h, w = supports.images.shape[-2:]
    inputs, samples = [], []
    for query in queries:
        resized = torch.from_numpy(mmcv.imresize(query, (w, h))).permute(2, 0, 1)
        inputs.append(torch.cat([resized[None], supports.images]))
        sample = SegDataSample(metainfo=dict(ori_shape=query.shape[:2], img_shape=(h, w)))
        sample.support_masks = PixelData(data=supports.masks)
        samples.append(sample)
    with torch.no_grad():
        results = model.test_step(dict(inputs=inputs, data_samples=samples))
    return [r.pred_sem_seg.data[0].cpu().numpy().astype(np.uint8) for r in results]


def fewshot_segment(model: nn.Module, query: Image, supports: Sequence[Image],
                    support_masks: Sequence[Image], cls: Optional[int] = None,
                    color: Optional[Sequence[int]] = None,
                    ignore_index: Optional[int] = None,
                    resize_masks: bool = False) -> np.ndarray:
    """Segment in ``query`` the class that ``support_masks`` mark in ``supports``.

    Nothing is trained: the prompts and head are those of the meta-trained checkpoint.

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
