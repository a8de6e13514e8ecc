"""DINOv2 as the frozen ViT: LayerScale, register tokens (prefix rows that are neither
patches nor output tokens), patch 14, and Meta's released checkpoint layout, on tiny
DINOv2-shaped models against timm's own forward."""
import pytest
import torch
from torch.testing import assert_close

from mmseg_expres.models import ExpresViT, VPTViT
from mmseg_expres.models.backbones.expres_prompts import ALL_SITES

from .test_expres_vit import _randomise_prompts, _timm_reference_forward

#: 42 px = 3 x 3 patches of 14; width 32, depth 4; 1 class + 4 register tokens
TINY_DINOV2 = dict(arch='vit_small_patch14_reg4_dinov2', img_size=42,
                   vit_cfg=dict(embed_dim=32, depth=4, num_heads=2))
PREFIX = 5


def build(cls=ExpresViT, **overrides):
    kwargs = dict(TINY_DINOV2, out_indices=(1, 3))
    kwargs.update(overrides)
    torch.manual_seed(0)
    model = cls(**kwargs)
    with torch.no_grad():  # DINOv2's LayerScale starts at 1e-5; make it matter
        for block in model.vit.blocks:
            block.ls1.gamma.uniform_(0.5, 1.5)
            block.ls2.gamma.uniform_(0.5, 1.5)
        model.vit.reg_token.normal_()
    model.frozen_fingerprint_buffer.copy_(model.frozen_fingerprint())
    return model


@pytest.fixture
def images():
    return torch.randn(2, 3, 42, 42, generator=torch.Generator().manual_seed(0))


def test_prefix_tokens_and_layer_scale_are_dinov2s():
    model = build(num_tokens=2)
    assert model.num_prefix_tokens == PREFIX and model.vit.patch_embed.patch_size == (14, 14)
    assert type(model.vit.blocks[0].ls1).__name__ == 'LayerScale'


def test_plain_frozen_dinov2_equals_timm_forward_intermediates(images):
    model = build(num_tokens=0, out_indices=(0, 1, 2, 3), final_norm='all')
    expected = model.vit.forward_intermediates(images, indices=[0, 1, 2, 3], norm=True,
                                               intermediates_only=True)
    for ours, theirs in zip(model(images), expected):
        assert_close(ours, theirs)


def test_full_visibility_equals_timm_blocks_with_hooked_residuals(images):
    model = build(num_tokens=3, residual_sites=ALL_SITES, out_indices=(1, 3),
                  output_tokens=True)
    _randomise_prompts(model, 0.2)
    outs = model(images)
    states = _timm_reference_forward(model, images)
    for out, state in zip(outs[:2], (states[1], states[3])):
        patches = state[:, PREFIX:-3]  # neither the class token nor the registers
        assert_close(out, patches.transpose(1, 2).reshape(out.shape))
    assert_close(outs[2], model.vit.norm(states[3][:, -3:]))


@pytest.mark.parametrize('readout', ['mean', 'cls'])
def test_one_way_split_equals_masked_with_registers(images, readout):
    # output_tokens: one-way needs an output that reads the tokens, 'cls' does not
    split = build(num_tokens=3, visibility='one_way', readout=readout, output_tokens=True,
                  out_indices=(1,))
    masked = build(num_tokens=3, visibility='one_way', one_way_impl='masked',
                   readout=readout, output_tokens=True, out_indices=(1,))
    _randomise_prompts(split, 0.2)
    masked.load_state_dict(split.state_dict())
    outs = [model(images) for model in (split, masked)]
    for a, b in zip(*outs):
        assert_close(a, b)
    if readout == 'mean':  # in one-way visibility only the token readout sees prompts
        outs[0][-1].square().sum().backward()
        outs[1][-1].square().sum().backward()
        for (name, a), b in zip(split.prompts.named_parameters(),
                                masked.prompts.parameters()):
            assert a.grad.abs().sum() > 0
            assert_close(a.grad, b.grad, msg=name)
    with torch.no_grad():
        for a, b in zip(split(images), masked(images)):
            assert_close(a, b)
    if readout == 'cls':  # row 0 is the class token, not a register
        vit = split.vit
        plain = vit.forward_features(images)
        assert_close(outs[0][-1], plain[:, 0])


def test_position_embeddings_are_laid_out_for_the_crop():
    model = ExpresViT(**dict(TINY_DINOV2, img_size=56), num_tokens=2, out_indices=(3,))
    assert model.vit.pos_embed.shape[1] == (56 // 14) ** 2  # registers carry none
    assert model(torch.randn(1, 3, 70, 84))[0].shape == (1, 32, 5, 6)


@pytest.mark.parametrize('cls,extra,trainable', [
    (VPTViT, dict(num_tokens=2, mode='deep'), 2 * 32 * 4),
    (ExpresViT, dict(num_tokens=0, tune_bias=True, final_norm=True), 4 * 11 * 32 + 2 * 32),
    (ExpresViT, dict(num_tokens=0), 0)])
def test_baselines_on_dinov2(images, cls, extra, trainable):
    model = build(cls, **extra)
    assert model.num_trainable_params()[0] == trainable
    if trainable:
        sum(o.square().sum() for o in model(images)).backward()
        assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
        assert all(p.grad is None for p in model.vit.parameters() if not p.requires_grad)


def _meta_layout(vit) -> dict:
    """A timm DINOv2-with-registers state dict in Meta's released key layout.

    Meta's checkpoints keep the class token's position in ``pos_embed`` (timm adds it to
    ``cls_token``), call the registers ``register_tokens`` and carry a ``mask_token``.
    """
    state = dict(vit.state_dict())
    class_position = torch.randn(1, 1, state['cls_token'].shape[-1])
    meta = {k: v for k, v in state.items() if k not in ('cls_token', 'reg_token', 'pos_embed')}
    meta['cls_token'] = state['cls_token'] - class_position
    meta['pos_embed'] = torch.cat([class_position, state['pos_embed']], dim=1)
    meta['register_tokens'] = state['reg_token']
    meta['mask_token'] = torch.zeros(1, state['cls_token'].shape[-1])
    return meta


@pytest.mark.parametrize('layout', ['meta', 'timm'])
def test_dinov2_weights_load_in_meta_and_timm_layouts(tmp_path, images, layout):
    source = build(num_tokens=0, out_indices=(3,))
    state = _meta_layout(source.vit) if layout == 'meta' else source.vit.state_dict()
    path = tmp_path / f'dinov2_{layout}.pth'
    torch.save(state, path)
    loaded = ExpresViT(**TINY_DINOV2, num_tokens=0, out_indices=(3,), pretrained=str(path))
    assert_close(loaded(images)[0], source(images)[0])
    # Meta's class token comes back as (cls - position) + position: equal to rounding
    for key, value in source.vit.state_dict().items():
        assert_close(loaded.vit.state_dict()[key], value, msg=key)


def test_meta_layout_without_registers_names_the_missing_key(tmp_path):
    from mmseg_expres.models.backbones import CheckpointMismatchError
    meta = _meta_layout(build(num_tokens=0, out_indices=(3,)).vit)
    del meta['register_tokens']
    torch.save(meta, tmp_path / 'no_registers.pth')
    with pytest.raises(CheckpointMismatchError, match='without register tokens.*reg_token'):
        ExpresViT(**TINY_DINOV2, num_tokens=0, out_indices=(3,),
                  pretrained=str(tmp_path / 'no_registers.pth'))
