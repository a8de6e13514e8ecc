"""Few-shot segmentation for a user: supports of a new class in, the query's mask out."""
from typing import List, Optional, Sequence, Tuple, Union

import mmcv
import numpy as np
import torch
from torch import nn

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


def binary_mask(mask: Image, cls: Optional[int]) -> np.ndarray:
    """A support mask as 1 (the class), 0 (other), 255 (ignored).

    Args:
        mask: a label map (path or array); with ``cls`` None any value other than 0 and
            255 is the class (e.g. a black-and-white drawing), else only ``cls``.
        cls: the class's value in the label maps.
    """
    label = mmcv.imread(mask, flag='unchanged') if isinstance(mask, str) else np.asarray(mask)
    if label.ndim == 3:
        label = label[..., 0]
    out = ((label != 0) if cls is None else (label == cls)).astype(np.uint8)
    out[label == 255] = 255
    return out


def fewshot_segment(model: nn.Module, query: Image, supports: Sequence[Image],
                    support_masks: Sequence[Image], cls: Optional[int] = None) -> np.ndarray:
    """Segment in ``query`` the class that ``support_masks`` mark in ``supports``.

    Nothing is trained: the prompts and head are those of the meta-trained checkpoint.

    Args:
        model: a few-shot segmentor from :func:`mmseg_expres.apis.init_model`.
        query: image path or (H, W, 3) BGR array (as ``mmcv.imread`` reads it).
        supports: K support images, likewise.
        support_masks: their masks (see :func:`binary_mask`).
        cls: the class's value in ``support_masks``; None when they are binary.

    Returns:
        (H, W) uint8 mask of the query at its own size, 1 where the class is.

    Raises:
        ValueError: no supports, or a different number of masks.
    """
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample  # mmseg checks mmcv on import: only here
    if not supports or len(supports) != len(support_masks):
        raise ValueError(f'Need K >= 1 support images and as many masks; got '
                         f'{len(supports)} images and {len(support_masks)} masks.')
    h, w = episode_size(model)
    query_img = mmcv.imread(query)
    images: List[np.ndarray] = [query_img] + [mmcv.imread(s) for s in supports]
    masks = [mmcv.imresize(binary_mask(m, cls), (w, h), interpolation='nearest')
             for m in support_masks]
    inputs = torch.stack([torch.from_numpy(mmcv.imresize(i, (w, h))).permute(2, 0, 1)
                          for i in images])
    sample = SegDataSample(metainfo=dict(ori_shape=query_img.shape[:2], img_shape=(h, w)))
    sample.support_masks = PixelData(data=torch.from_numpy(np.stack(masks)))
    with torch.no_grad():
        result = model.test_step(dict(inputs=[inputs], data_samples=[sample]))[0]
    return result.pred_sem_seg.data[0].cpu().numpy().astype(np.uint8)
