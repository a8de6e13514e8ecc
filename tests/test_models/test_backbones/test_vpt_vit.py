"""Baselines: VPT-shallow/deep, linear probe and full fine-tuning train exactly what they claim."""
import math

import pytest
import torch
from torch.testing import assert_close

from ...conftest import TINY_VIT, build_tiny

DEPTH, WIDTH = 4, 32


def build_vpt(**overrides):
    from mmseg_expres.models import VPTViT
    cfg = dict(out_indices=(1, 3), **TINY_VIT)
    cfg.update(overrides)
    return VPTViT(**cfg)


def _loss(outs) -> torch.Tensor:
    return sum(out.square().mean() for out in outs)


@pytest.mark.parametrize('mode,layers', [('shallow', 1), ('deep', DEPTH)])
def test_vpt_trainable_count_and_gradients(images, mode, layers):
    model = build_vpt(num_tokens=3, mode=mode, readout='cls')
    trainable, total = model.num_trainable_params()
    assert trainable == 3 * WIDTH * layers  # K*d (shallow), K*d*L (deep)
    assert total == trainable + sum(p.numel() for p in model.vit.parameters())
    model.train()
    assert not any(m.training for m in model.vit.modules())
    _loss(model(images)).backward()
    # every layer's prompt set is reached, the frozen ViT gets nothing
    assert (model.prompts.grad.abs().sum(dim=(1, 2)) > 0).all()
    for name, param in model.vit.named_parameters():
        assert not param.requires_grad and param.grad is None, name


def test_vpt_init_is_xavier_uniform_with_vpt_bound():
    model = build_vpt(num_tokens=8, mode='deep')
    bound = math.sqrt(6.0 / (3 * 8 * 8 + WIDTH))
    prompts = model.prompts.detach()
    assert prompts.abs().max() <= bound and prompts.std() > bound / 4
    before = {k: v.clone() for k, v in model.vit.state_dict().items()}
    model.init_weights()
    assert all(torch.equal(v, before[k]) for k, v in model.vit.state_dict().items())


def test_vpt_deep_replaces_prompts_at_every_layer(images):
    """Prompts of block l > 0 change only the blocks from l on; deep != shallow."""
    deep = build_vpt(num_tokens=2, mode='deep', out_indices=(0, 1, 2, 3))
    outs = deep(images)
    with torch.no_grad():
        deep.prompts[2].normal_()
    changed = deep(images)
    assert_close(changed[0], outs[0]) and assert_close(changed[1], outs[1])
    assert not torch.allclose(changed[2], outs[2])
    shallow = build_vpt(num_tokens=2, mode='shallow', out_indices=(0, 1, 2, 3))
    shallow.vit.load_state_dict(deep.vit.state_dict())
    with torch.no_grad():
        shallow.prompts.copy_(deep.prompts[:1])
    shallow_outs = shallow(images)
    assert_close(shallow_outs[0], changed[0])  # same first-layer prompts
    assert not torch.allclose(shallow_outs[3], changed[3])


def test_vpt_with_prompts_stripped_has_image_shapes(images):
    model = build_vpt(num_tokens=5, mode='deep', readout='mean')
    maps_1, maps_3, feature = model(images)
    assert maps_1.shape == maps_3.shape == (2, WIDTH, 4, 4)
    assert feature.shape == (2, WIDTH)


def test_vpt_builds_from_registry():
    from mmseg.registry import MODELS

    import mmseg_expres.models  # noqa: F401
    model = MODELS.build(dict(type='VPTViT', num_tokens=2, mode='shallow',
                                  out_indices=(3,), **TINY_VIT))
    assert model.num_trainable_params()[0] == 2 * WIDTH


@pytest.mark.parametrize('overrides,message', [
    (dict(mode='medium'), 'mode'), (dict(num_tokens=0), 'num_tokens'),
    (dict(readout='max'), 'readout'), (dict(out_indices=(4,)), 'out_indices'),
    (dict(init_cfg=dict(type='Pretrained')), 'init_cfg')])
def test_vpt_bad_configuration_raises(overrides, message):
    with pytest.raises(ValueError, match=message):
        build_vpt(**overrides)


def test_linear_probe_trains_nothing_in_the_backbone(images):
    model = build_tiny(num_tokens=0, residual_sites=(), readout='cls', out_indices=())
    assert model.num_trainable_params()[0] == 0
    head = torch.nn.Linear(WIDTH, 3)
    feature, = model(images)
    assert not feature.requires_grad  # no autograd graph through the ViT at all
    head(feature).sum().backward()
    assert head.weight.grad is not None
    assert all(p.grad is None for p in model.parameters())


def test_full_fine_tuning_trains_every_vit_parameter(images):
    model = build_tiny(num_tokens=0, residual_sites=(), frozen=False, readout='cls',
                       out_indices=(1, 3), final_norm=True)
    vit_params = dict(model.vit.named_parameters())
    trainable, total = model.num_trainable_params()
    assert trainable == total == sum(p.numel() for p in vit_params.values())
    model.train()
    assert all(m.training for m in model.vit.modules())
    _loss(model(images)).backward()
    for name, param in vit_params.items():
        assert param.grad is not None and param.grad.abs().sum() > 0, name


def test_vpt_token_readouts_and_outputs_come_from_the_shared_assembly(images):
    """VPT reads out like ExpresViT: concat and output_tokens of the final prompts."""
    model = build_vpt(num_tokens=3, mode='deep', readout='concat', output_tokens=True,
                      out_indices=(3,))
    maps, tokens, feature = model(images)
    assert maps.shape == (2, WIDTH, 4, 4) and tokens.shape == (2, 3, WIDTH)
    assert_close(feature, tokens.flatten(1))


def test_every_readout_user_refuses_the_same_value_with_the_same_message():
    from mmseg_expres.models import ExpresTask, MultiTaskExpres
    from mmseg_expres.models.backbones.frozen_vit import readout_feature
    message = r"readout must be one of \('mean', 'concat', 'cls'\), got 'max'"
    builders = [lambda: build_vpt(readout='max'), lambda: build_tiny(readout='max'),
                lambda: readout_feature('max', None, None, torch.nn.Identity()),
                lambda: MultiTaskExpres(build_tiny(num_tokens=2, visibility='one_way'),
                                        [ExpresTask(build_tiny(num_tokens=2).prompts,
                                                    readout='max')])]
    for build in builders:
        with pytest.raises(ValueError, match=message):
            build()


def test_vpt_and_expres_tokens_share_the_init_bound():
    from mmseg_expres.models.backbones.expres_prompts import vpt_uniform_bound
    assert vpt_uniform_bound(8, WIDTH) == math.sqrt(6.0 / (3 * 8 * 8 + WIDTH))
    tokens = build_tiny(num_tokens=64).prompts.tokens.detach()
    assert tokens.abs().max() <= vpt_uniform_bound(8, WIDTH)
