"""A segmentor over episodes: one batched backbone pass, then the few-shot head."""
from typing import List, Optional, Sequence, Tuple, Union

import torch
from mmseg.models.segmentors import BaseSegmentor
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, OptSampleList, SampleList
from torch import Tensor


@MODELS.register_module()
class FewShotSegmentor(BaseSegmentor):
    """Segment each episode's query from its supports' masks.

    The query and the K supports of every episode go through the backbone in one batch
    (B * (1 + K) images), so EXPRES prompts (full visibility) shape the features of all
    of them alike. The head compares query and supports level by level
    (:class:`PrototypeMatchingHead`). The prediction is binary: 1 = the episode's class.

    Each image is a sequence of its own in the ViT: the prompts are parameters shared by
    every image, not tokens of the other images, so a query's features do not depend on
    its supports, which reach it only through the head's prototypes. Many queries with
    one class's supports therefore need the supports encoded once
    (:meth:`encode_supports`, then :meth:`predict_queries`): Q + K images through the
    ViT instead of Q * (1 + K), with the numbers of :meth:`predict` on the episodes.

    Args:
        backbone: the (frozen, prompted) ViT config.
        decode_head: the few-shot head config.
        data_preprocessor: normally ``EpisodeDataPreProcessor``.
        pretrained: must be None; mmseg's ``init_model`` sets it (the backbone has its
            own ``pretrained``).
    """

    def __init__(self, backbone: ConfigType, decode_head: ConfigType,
                 data_preprocessor: Optional[ConfigType] = None,
                 train_cfg: Optional[ConfigType] = None,
                 test_cfg: Optional[ConfigType] = None, pretrained: None = None,
                 init_cfg=None) -> None:
        if pretrained is not None:
            raise ValueError('Set the ViT weights with model.backbone.pretrained.')
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.decode_head = MODELS.build(decode_head)
        self.align_corners = False  # BaseSegmentor.postprocess_result reads it
        self.train_cfg, self.test_cfg = train_cfg, test_cfg

    def extract_feat(self, inputs: Tensor) -> List[Tensor]:
        """Backbone maps of episodes (B, 1 + K, 3, H, W) as (B, 1 + K, C, h, w) each."""
        b, n = inputs.shape[:2]
        maps = self.backbone(inputs.flatten(0, 1))
        return [m.view(b, n, *m.shape[1:]) for m in maps if m.dim() == 4]

    def encode_decode(self, inputs: Tensor, batch_data_samples: SampleList) -> Tensor:
        """2-way logits (B, 2, H, W) at the input size."""
        logits = self.decode_head(self.extract_feat(inputs),
                                  support_masks(batch_data_samples))
        return _at_size(logits, inputs.shape[-2:])

    def encode_supports(self, inputs: Tensor, masks: Tensor) -> List[Tensor]:
        """The head's prototypes of one class's supports, for any number of queries.

        Args:
            inputs: (1, K, 3, H, W) normalised supports (the data preprocessor's output
                for one episode of the K supports alone).
            masks: (1, K, H, W) their masks.

        Returns:
            per level the head reads, (1, 2, C) (:meth:`PrototypeMatchingHead.prototypes`).
        """
        return self.decode_head.prototypes(self.extract_feat(inputs), masks)

    def predict_queries(self, inputs: Tensor, prototypes: Sequence[Tensor],
                        data_samples: SampleList) -> SampleList:
        """:meth:`predict` of queries whose supports :meth:`encode_supports` encoded.

        Args:
            inputs: (B, 1, 3, H, W) normalised queries (episodes without supports).
            prototypes: from :meth:`encode_supports`.
            data_samples: the queries' samples (``ori_shape``, ``img_shape``).
        """
        if inputs.dim() != 5 or inputs.shape[1] != 1:
            raise ValueError(f'predict_queries takes queries as (B, 1, 3, H, W), not '
                             f'{tuple(inputs.shape)}: one image per episode, no supports.')
        maps = [m[:, 0] for m in self.extract_feat(inputs)]
        logits = _at_size(self.decode_head.decode(maps, prototypes), inputs.shape[-2:])
        return self.postprocess_result(logits, data_samples)

    def loss(self, inputs: Tensor, data_samples: SampleList) -> dict:
        logits = self.decode_head(self.extract_feat(inputs), support_masks(data_samples))
        targets = torch.stack([s.gt_sem_seg.data.squeeze(0) for s in data_samples])
        return self.decode_head.loss(logits, targets)

    def predict(self, inputs: Tensor, data_samples: OptSampleList = None) -> SampleList:
        """Binary predictions resized to each query's original size (``ori_shape``)."""
        return self.postprocess_result(self.encode_decode(inputs, data_samples), data_samples)

    def _forward(self, inputs: Tensor,
                 data_samples: OptSampleList = None) -> Union[Tensor, Tuple[Tensor, ...]]:
        """Logits of episodes; for plain images (N, 3, H, W) without supports, the
        backbone maps (what a feature-extraction caller gets)."""
        if inputs.dim() == 4:
            return tuple(self.backbone(inputs))
        return self.encode_decode(inputs, data_samples)


def _at_size(logits: Tensor, size: Sequence[int]) -> Tensor:
    """Logits upsampled (bilinear) to the input size, which postprocessing expects."""
    return torch.nn.functional.interpolate(logits, size=tuple(size), mode='bilinear',
                                           align_corners=False)


def support_masks(data_samples: SampleList) -> Tensor:
    """The supports' binary masks of a batch, (B, K, H, W).

    Raises:
        ValueError: a data sample carries no ``support_masks`` (not an episode).
    """
    if not data_samples or any('support_masks' not in s for s in data_samples):
        raise ValueError('FewShotSegmentor needs episodes: data samples with support_masks, '
                         'as FewShotSegDataset writes them (or mmseg_expres.apis.'
                         'fewshot_segment for single images).')
    return torch.stack([s.support_masks.data for s in data_samples])
