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
    assert torch.isfinite(changed[2]).all() and not torch.allclose(changed[2], outs[2])
    shallow = build_vpt(num_tokens=2, mode='shallow', out_indices=(0, 1, 2, 3))
    shallow.vit.load_state_dict(deep.vit.state_dict())
    with torch.no_grad():
        shallow.prompts.copy_(deep.prompts[:1])
    shallow_outs = shallow(images)
    assert_close(shallow_outs[0], changed[0])  # same first-layer prompts
    assert torch.isfinite(shallow_outs[3]).all()  # a NaN is never allclose either
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
                lambda: MultiTaskExpres(build_tiny(num_tokens=2, visibility='one_way',
                                                   readout='mean'),
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


def _bias_count(width: int, depth: int, mlp_ratio: int = 4) -> int:
    """BitFit's closed form for a timm ViT: per block norm1 d, qkv 3d, proj d, norm2 d,
    fc1 mlp_ratio*d, fc2 d; plus the patch embedding's and the final norm's d."""
    return depth * (7 + mlp_ratio) * width + 2 * width


@pytest.mark.parametrize('build,prompts', [
    # the final norm in use (final_norm, a readout), so that every bias gets a gradient
    (lambda: build_tiny(num_tokens=0, tune_bias=True, out_indices=(1, 3), final_norm=True),
     0),
    (lambda: build_vpt(num_tokens=3, mode='deep', tune_bias=True, readout='cls'),
     3 * WIDTH * DEPTH)])
def test_bias_tuning_trains_exactly_the_vit_biases(images, build, prompts):
    model = build()
    # timm's test_vit has mlp_ratio 3
    assert model.num_trainable_params()[0] == _bias_count(WIDTH, DEPTH, 3) + prompts
    model.train()
    assert not any(m.training for m in model.vit.modules())  # still no dropout
    _loss(model(images)).backward()
    for name, param in model.vit.named_parameters():
        if name.endswith('bias'):
            assert param.grad is not None and param.grad.abs().sum() > 0, name
        else:
            assert not param.requires_grad and param.grad is None, name


def test_vit_l16_bias_count_is_bitfits_closed_form():
    from mmseg_expres.models import ExpresViT
    with torch.device('meta'):
        model = ExpresViT(arch='vit_large_patch16_224', num_tokens=0, tune_bias=True,
                          out_indices=(23,), final_norm=True)  # the final norm's bias too
    assert model.num_trainable_params()[0] == _bias_count(1024, 24) == 272_384


def test_one_way_with_tuned_biases_takes_the_joint_path_and_matches_masked(images):
    split = build_tiny(num_tokens=3, visibility='one_way', tune_bias=True, out_indices=(),
                       readout='mean')
    masked = build_tiny(num_tokens=3, visibility='one_way', one_way_impl='masked',
                        tune_bias=True, out_indices=(), readout='mean')
    masked.load_state_dict(split.state_dict())
    assert split.forward_path(images) == 'joint'  # the image rows need their gradient
    for model in (split, masked):
        model(images)[-1].square().sum().backward()
    assert_close(split(images)[-1], masked(images)[-1])
    bias = 'blocks.1.attn.qkv.bias'
    assert_close(split.vit.get_parameter(bias).grad, masked.vit.get_parameter(bias).grad)


def test_task_checkpoint_keeps_tuned_biases_and_checks_the_frozen_rest(images):
    from mmseg_expres.engine import strip_frozen
    from mmseg_expres.models.backbones import CheckpointMismatchError
    trained = build_tiny(num_tokens=2, tune_bias=True, out_indices=(3,), final_norm=True)
    with torch.no_grad():
        for name, param in trained.named_parameters():
            if param.requires_grad:
                param.add_(0.1)
    task = strip_frozen(trained.state_dict(), trained)
    assert 'vit.blocks.0.attn.qkv.bias' in task and 'vit.blocks.0.attn.qkv.weight' not in task
    torch.manual_seed(0)  # the same "pretrained" ViT as `trained` was built with
    fresh = build_tiny(num_tokens=2, tune_bias=True, out_indices=(3,), final_norm=True)
    assert not fresh.load_state_dict(task, strict=True).missing_keys
    assert_close(fresh(images)[0], trained(images)[0])
    incomplete = {k: v for k, v in task.items() if k != 'vit.norm.bias'}
    with pytest.raises(RuntimeError, match='vit.norm.bias'):
        fresh.load_state_dict(incomplete, strict=True)
    torch.manual_seed(1)
    other = build_tiny(num_tokens=2, tune_bias=True, out_indices=(3,), final_norm=True)
    with pytest.raises(CheckpointMismatchError):
        other.load_state_dict(task, strict=True)


def test_bias_tuning_needs_a_frozen_vit():
    with pytest.raises(ValueError, match='tune_bias'):
        build_tiny(num_tokens=0, frozen=False, tune_bias=True)
