"""The few-shot head, segmentor and data preprocessor on the tiny ViT; the user API."""
import numpy as np
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample
from torch.testing import assert_close

from mmseg_expres.apis.fewshot_seg import binary_mask, fewshot_segment
from mmseg_expres.models.fewshot_seg import (EpisodeDataPreProcessor, FewShotSegmentor,
                                             masked_average_pool)

from ..conftest import tiny_backbone_cfg


def test_masked_average_pool_by_hand():
    features = torch.arange(8.).view(1, 2, 1, 2, 2)  # 2 supports, 1 channel, 2x2
    masks = torch.tensor([[[[1, 1], [0, 255]], [[0, 0], [0, 1]]]])
    # fg: support 0 cells 0, 1 -> 0, 1; support 1 cell 3 -> 7. bg: 2 | 4, 5, 6
    assert_close(masked_average_pool(features, masks),
                 torch.tensor([[[(2 + 4 + 5 + 6) / 4], [(0 + 1 + 7) / 3]]]))


def _samples(batch, shot, size=32, with_gt=True):
    samples = []
    for _ in range(batch):
        s = SegDataSample(metainfo=dict(img_shape=(size, size), ori_shape=(20, 24)))
        s.support_masks = PixelData(data=torch.randint(0, 2, (shot, size, size)))
        if with_gt:
            s.gt_sem_seg = PixelData(data=torch.randint(0, 2, (1, size, size)))
        samples.append(s)
    return samples


@pytest.fixture
def segmentor():
    return FewShotSegmentor(
        backbone=tiny_backbone_cfg(out_indices=(2, 3)),
        decode_head=dict(type='PrototypeMatchingHead', in_channels=32, num_levels=2,
                         channels=8))


def test_one_backbone_pass_encodes_queries_and_supports(segmentor):
    batches = []
    segmentor.backbone.register_forward_hook(lambda m, i, o: batches.append(i[0].shape[0]))
    segmentor.eval()
    preds = segmentor.predict(torch.randn(2, 4, 3, 32, 32), _samples(2, 3, with_gt=False))
    assert batches == [2 * (1 + 3)]
    assert preds[0].pred_sem_seg.data.shape == (1, 20, 24)  # back at the original size
    assert set(preds[0].pred_sem_seg.data.unique().tolist()) <= {0, 1}


def test_meta_training_trains_prompts_and_head_only(segmentor):
    segmentor.train()
    losses = segmentor.loss(torch.randn(2, 2, 3, 32, 32), _samples(2, 1))
    losses['loss_ce'].backward()
    grads = {n for n, p in segmentor.named_parameters() if p.grad is not None}
    assert any(n.startswith('backbone.prompts.') for n in grads)
    assert any(n.startswith('decode_head.decoder.') for n in grads)
    assert not any(n.startswith('backbone.vit.') for n in grads)


def test_segmentor_refuses_samples_without_supports(segmentor):
    with pytest.raises(ValueError, match='support_masks'):
        segmentor.predict(torch.randn(1, 2, 3, 32, 32), [SegDataSample()])


def test_preprocessor_normalises_episodes_in_rgb():
    pre = EpisodeDataPreProcessor(mean=[1., 2., 3.], std=[2., 2., 2.], bgr_to_rgb=True)
    episode = torch.zeros(3, 3, 4, 4, dtype=torch.uint8)
    episode[:, 0] = 9  # blue in BGR
    out = pre(dict(inputs=[episode, episode], data_samples=[SegDataSample(), SegDataSample()]))
    assert out['inputs'].shape == (2, 3, 3, 4, 4)
    assert_close(out['inputs'][0, 0, :, 0, 0], torch.tensor([-0.5, -1.0, 3.0]))
    assert out['data_samples'][0].batch_input_shape == (4, 4)
    with pytest.raises(ValueError, match='fixed size'):
        pre(dict(inputs=[episode, episode[:, :, :2]]))


def test_user_masks_become_binary_with_or_without_a_class_id():
    label = np.array([[0, 3, 7], [255, 3, 0]], np.uint8)
    assert binary_mask(label, None).tolist() == [[0, 1, 1], [255, 1, 0]]
    assert binary_mask(label, 3).tolist() == [[0, 1, 0], [255, 1, 0]]


def test_fewshot_segment_needs_one_mask_per_support():
    with pytest.raises(ValueError, match='2 images and 1 masks'):
        fewshot_segment(None, 'q.jpg', ['a.jpg', 'b.jpg'], ['a.png'])
