"""The few-shot head, segmentor and data preprocessor on the tiny ViT; the user API."""
import mmcv
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample
from PIL import Image
from torch.testing import assert_close

from mmseg_expres.apis.fewshot_seg import (encode_supports, fewshot_segment, prepare_supports,
                                           segment_as_episodes, segment_queries)
from mmseg_expres.apis.support_masks import SupportMaskError
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


@pytest.fixture
def user_model():
    """A segmentor as init_model returns it: eval mode, its config attached."""
    segmentor = FewShotSegmentor(
        backbone=tiny_backbone_cfg(out_indices=(2, 3)),
        decode_head=dict(type='PrototypeMatchingHead', in_channels=32, num_levels=2,
                         channels=8),
        data_preprocessor=EpisodeDataPreProcessor(mean=[123.7, 116.3, 103.5],
                                                  std=[58.4, 57.1, 57.4], bgr_to_rgb=True))
    segmentor.cfg = Config(dict(test_dataloader=dict(dataset=dict(
        pipeline=[dict(type='Resize', scale=(32, 32), keep_ratio=False)]))))
    return segmentor.eval()


def _scene(seed):
    return np.random.default_rng(seed).integers(0, 256, (20, 24, 3), dtype=np.uint8)


def test_drawn_and_palette_masks_reach_the_model_as_the_object(user_model, tmp_path):
    """A 0/255 drawing and a VOC palette PNG give the supports' masks the 0/1 object."""
    obj = np.zeros((20, 24), np.uint8)
    obj[5:15, 4:16] = 1
    white = str(tmp_path / 'white.png')
    Image.fromarray(obj * 255).save(white)
    palette = Image.fromarray(np.where(obj == 1, 12, 0).astype(np.uint8), mode='P')
    palette.putpalette([0, 0, 0] * 12 + [192, 128, 128] + [0, 0, 0] * 243)
    palette.save(str(tmp_path / 'voc.png'))
    expected = mmcv.imresize(obj, (32, 32), interpolation='nearest')
    for mask, kwargs in ((white, {}), (str(tmp_path / 'voc.png'), dict(cls=12)), (obj, {})):
        supports = prepare_supports(user_model, [_scene(1)], [mask], **kwargs)
        assert np.array_equal(supports.masks[0].numpy(), expected), mask
    pred = fewshot_segment(user_model, _scene(0), [_scene(1)], [white])
    assert pred.shape == (20, 24) and set(np.unique(pred)) <= {0, 1}
    assert np.array_equal(pred, fewshot_segment(user_model, _scene(0), [_scene(1)], [obj]))


def test_a_batch_of_queries_equals_one_at_a_time(user_model):
    obj = np.zeros((20, 24), np.uint8)
    obj[2:12, 3:20] = 1
    supports = prepare_supports(user_model, [_scene(1), _scene(2)], [obj, obj])
    batch = segment_queries(user_model, [_scene(3), _scene(4)], supports)
    single = [segment_queries(user_model, [_scene(s)], supports)[0] for s in (3, 4)]
    assert all(np.array_equal(a, b) for a, b in zip(batch, single))


def _segmentor(backbone: dict) -> FewShotSegmentor:
    return FewShotSegmentor(
        backbone=backbone,
        decode_head=dict(type='PrototypeMatchingHead', in_channels=32, num_levels=2,
                         channels=8)).eval()


@pytest.mark.parametrize('backbone', [
    tiny_backbone_cfg(out_indices=(2, 3)),  # EXPRES, full visibility (the configs')
    dict(tiny_backbone_cfg(out_indices=(2, 3), num_tokens=3), type='VPTViT', mode='deep')],
    ids=['expres', 'vpt-deep'])
@pytest.mark.parametrize('shot', [1, 5])
def test_supports_encoded_once_give_the_logits_of_whole_episodes(backbone, shot):
    """The ViT keeps each image to itself: prototypes of the supports encoded alone,
    then queries in batches of 2 (5 queries: the last batch is short), give the logits
    of the episode forward (each query with its supports in one backbone pass)."""
    segmentor = _segmentor(backbone)
    for name, param in segmentor.backbone.named_parameters():
        if 'prompts' in name:  # prompts that change the features (residuals start at 0)
            torch.nn.init.normal_(param)
    queries, supports = torch.randn(5, 1, 3, 32, 32), torch.randn(1, shot, 3, 32, 32)
    samples = _samples(5, shot, with_gt=False)
    masks = samples[0].support_masks.data
    for sample in samples:
        sample.support_masks = PixelData(data=masks)
    with torch.no_grad():
        episodes = segmentor.predict(torch.cat([queries, supports.expand(5, -1, -1, -1, -1)],
                                               dim=1), samples)
        prototypes = segmentor.encode_supports(supports, masks[None])
        once = [r for start in (0, 2, 4) for r in segmentor.predict_queries(
            queries[start:start + 2], prototypes, samples[start:start + 2])]
    for whole, encoded in zip(episodes, once):
        assert_close(encoded.seg_logits.data, whole.seg_logits.data)
        assert torch.equal(encoded.pred_sem_seg.data, whole.pred_sem_seg.data)


def _annotated_supports(model, shot):
    objects = []
    for i in range(shot):
        obj = np.zeros((20, 24), np.uint8)
        obj[2 + i:12 + i, 3:20 - i] = 1
        objects.append(obj)
    return prepare_supports(model, [_scene(10 + i) for i in range(shot)], objects)


@pytest.mark.parametrize('shot', [1, 5])
def test_segment_queries_equals_one_episode_per_query(user_model, shot):
    """The API's once-encoded path gives the masks of the episode forward, for batches
    that divide the queries and batches that do not."""
    supports = _annotated_supports(user_model, shot)
    queries = [_scene(s) for s in range(7)]
    expected = segment_as_episodes(user_model, queries, supports)
    encoded = encode_supports(user_model, supports)
    for batch_size in (1, 3, 7, 8):
        found = segment_queries(user_model, queries, encoded, batch_size)
        assert len(found) == 7
        for a, b in zip(found, expected):
            np.testing.assert_array_equal(a, b)


def _vit_images(model) -> list:
    """Counts the images the ViT embeds (batch rows through its patch embedding)."""
    counted = []
    model.backbone.vit.patch_embed.register_forward_hook(
        lambda module, args, out: counted.append(args[0].shape[0]))
    return counted


@pytest.mark.parametrize('shot', [1, 5])
def test_q_queries_cost_q_plus_k_images_through_the_vit(user_model, shot):
    """Supports through the ViT once, not once per query: Q + K images, not Q (1 + K)."""
    supports = _annotated_supports(user_model, shot)
    counted = _vit_images(user_model)
    segment_queries(user_model, [_scene(s) for s in range(6)], supports)
    assert sum(counted) == 6 + shot


def test_segment_queries_refuses_a_bad_batch_size_and_other_models(user_model):
    supports = _annotated_supports(user_model, 1)
    with pytest.raises(ValueError, match='batch_size must be >= 1'):
        segment_queries(user_model, [_scene(0)], supports, batch_size=0)
    with pytest.raises(ValueError, match='not a few-shot segmentor'):
        encode_supports(torch.nn.Linear(2, 2), supports)


def test_support_errors_name_the_support(user_model, tmp_path):
    empty = str(tmp_path / 'empty.png')
    Image.fromarray(np.zeros((20, 24), np.uint8)).save(empty)
    obj = np.zeros((20, 24), np.uint8)
    obj[:5] = 1
    with pytest.raises(SupportMaskError, match=r'support 2 \(.*empty.png\) holds 1 value'):
        fewshot_segment(user_model, _scene(0), [_scene(1), _scene(2)], [obj, empty])
    with pytest.raises(SupportMaskError, match=r'support 1 is 10x12 .* image is 20x24'):
        fewshot_segment(user_model, _scene(0), [_scene(1)], [obj[::2, ::2]])


def test_fewshot_segment_needs_one_mask_per_support():
    with pytest.raises(ValueError, match='2 images and 1 masks'):
        fewshot_segment(None, 'q.jpg', ['a.jpg', 'b.jpg'], ['a.png'])
