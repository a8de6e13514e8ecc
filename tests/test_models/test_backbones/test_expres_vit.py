"""ExpresViT: parity with timm, one-way equivalence, gradients, freezing, validation."""
import re

import pytest
import torch
from torch.testing import assert_close

from mmseg_expres.models.backbones.expres_block import output_token_rows
from mmseg_expres.models.backbones.expres_prompts import ALL_SITES, DEFAULT_SITES
from mmseg_expres.models.backbones.expres_vit import FORWARD_PATHS, choose_forward_path

from ...conftest import build_tiny

DEPTH = 4


def _randomise_prompts(model, scale: float = 0.5) -> None:
    """Non-zero residuals, so that tests see them act (they start at zero)."""
    with torch.no_grad():
        for param in model.prompts.parameters():
            param.normal_(0, scale)


def test_plain_frozen_vit_equals_timm_forward_intermediates(images):
    model = build_tiny(num_tokens=0, residual_sites=(), out_indices=(0, 1, 2, 3))
    expected = model.vit.forward_intermediates(
        images, indices=[0, 1, 2, 3], intermediates_only=True)
    outs = model(images)
    assert len(outs) == 4
    for out, ref in zip(outs, expected):
        assert out.shape == (2, 32, 4, 4)
        assert_close(out, ref)


@pytest.mark.parametrize('grad', [True, False])
@pytest.mark.parametrize('impl', ['split', 'masked'])
def test_one_way_image_features_equal_frozen_vit(images, impl, grad):
    model = build_tiny(num_tokens=3, visibility='one_way', one_way_impl=impl,
                       residual_sites=ALL_SITES, out_indices=(0, 3), output_tokens=True)
    _randomise_prompts(model)
    expected = model.vit.forward_intermediates(images, indices=[0, 3], intermediates_only=True)
    with torch.set_grad_enabled(grad):
        outs = model(images)
    for out, ref in zip(outs, expected):
        assert_close(out, ref)


def test_full_visibility_prompts_change_image_features(images):
    model = build_tiny(num_tokens=3, visibility='full', out_indices=(3,))
    _randomise_prompts(model)
    expected = model.vit.forward_intermediates(images, indices=[3], intermediates_only=True)
    out = model(images)[0]
    assert torch.isfinite(out).all() and not torch.allclose(out, expected[0])


# out_indices (1,) leaves the last block's image rows unread: the split path skips them
@pytest.mark.parametrize('out_indices', [(0, 1, 2, 3), (1,)])
@pytest.mark.parametrize('sites', [DEFAULT_SITES, ALL_SITES])
def test_split_one_way_equals_masked_joint_computation(images, sites, out_indices):
    split = build_tiny(num_tokens=3, visibility='one_way', one_way_impl='split',
                       residual_sites=sites, residual_layers=(0, 2, 3),
                       output_tokens=True, readout='mean', out_indices=out_indices)
    masked = build_tiny(num_tokens=3, visibility='one_way', one_way_impl='masked',
                        residual_sites=sites, residual_layers=(0, 2, 3),
                        output_tokens=True, readout='mean', out_indices=out_indices)
    _randomise_prompts(split)
    masked.load_state_dict(split.state_dict())
    outs_split, outs_masked = split(images), masked(images)
    for a, b in zip(outs_split, outs_masked):
        assert_close(a, b)
    (outs_split[-1].square().sum() + outs_split[-2].sum()).backward()
    (outs_masked[-1].square().sum() + outs_masked[-2].sum()).backward()
    grads_split = dict(split.prompts.named_parameters())
    for name, param in masked.prompts.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name
        assert_close(grads_split[name].grad, param.grad, msg=name)


@pytest.mark.parametrize('out_indices,readout', [((0, 3), 'concat'), ((), 'mean'),
                                                 ((1,), 'cls')])
@pytest.mark.parametrize('sites', [DEFAULT_SITES, ALL_SITES, ('k', 'mlp')])
def test_one_way_inference_equals_masked_and_training_paths(images, sites, out_indices,
                                                            readout):
    # without autograd the split impl runs all rows together; with it, image and tokens
    # apart; the masked joint computation is the reference for both
    split = build_tiny(num_tokens=3, visibility='one_way', residual_sites=sites,
                       residual_layers=(0, 2, 3), output_tokens=True, readout=readout,
                       out_indices=out_indices)
    masked = build_tiny(num_tokens=3, visibility='one_way', one_way_impl='masked',
                        residual_sites=sites, residual_layers=(0, 2, 3),
                        output_tokens=True, readout=readout, out_indices=out_indices)
    _randomise_prompts(split)
    masked.load_state_dict(split.state_dict())
    training = split(images)
    with torch.no_grad():
        together, reference = split(images), masked(images)
    for a, b, c in zip(together, reference, training):
        assert_close(a, b)
        assert_close(a, c.detach())


@pytest.mark.parametrize('grad', [True, False])
@pytest.mark.parametrize('out_indices,outputs,skipped', [
    ((), dict(readout='mean'), True), ((1,), dict(readout='concat'), True),
    ((3,), dict(readout='mean'), False), ((), dict(readout='cls', output_tokens=True), False)])
def test_one_way_skips_last_block_image_rows_only_when_unread(images, grad, out_indices,
                                                              outputs, skipped):
    model = build_tiny(num_tokens=3, visibility='one_way', out_indices=out_indices,
                       **outputs)
    rows_into_last_mlp = []
    model.vit.blocks[-1].mlp.register_forward_hook(
        lambda module, args, out: rows_into_last_mlp.append(args[0].shape[1]))
    with torch.set_grad_enabled(grad):
        model(images)
    image_rows = 1 + 16  # class token + 4x4 patches
    run_rows = [3] if skipped else ([image_rows, 3] if grad else [image_rows + 3])
    assert rows_into_last_mlp == run_rows


@pytest.mark.parametrize('visibility', ['full', 'one_way'])
def test_activation_checkpointing_gives_same_outputs_and_gradients(images, visibility):
    impl = dict(one_way_impl='masked') if visibility == 'one_way' else {}
    plain = build_tiny(num_tokens=3, visibility=visibility, residual_sites=ALL_SITES,
                       out_indices=(1, 3), readout='mean', **impl)
    checkpointed = build_tiny(num_tokens=3, visibility=visibility, residual_sites=ALL_SITES,
                              out_indices=(1, 3), readout='mean', with_cp=True, **impl)
    _randomise_prompts(plain, 0.2)
    checkpointed.load_state_dict(plain.state_dict())
    grads = []
    for model in (plain, checkpointed):
        model.train()
        outs = model(images)
        sum(out.square().sum() for out in outs).backward()
        grads.append({name: p.grad for name, p in model.prompts.named_parameters()})
        assert all(p.grad is None for p in model.vit.parameters())
    for out_a, out_b in zip(plain(images), checkpointed(images)):
        assert_close(out_a, out_b)
    for name, grad in grads[0].items():
        assert grad.abs().sum() > 0, name
        assert_close(grads[1][name], grad, msg=name)


def test_one_way_gives_images_their_gradient(images):
    # the split path runs the image rows without autograd; images that require grad
    # (saliency maps) must still get the masked reference's gradient
    split = build_tiny(num_tokens=3, visibility='one_way', out_indices=(), readout='mean')
    masked = build_tiny(num_tokens=3, visibility='one_way', one_way_impl='masked',
                        out_indices=(), readout='mean')
    _randomise_prompts(split)
    masked.load_state_dict(split.state_dict())
    grads = []
    for model in (split, masked):
        pixels = images.clone().requires_grad_()
        model(pixels)[-1].square().sum().backward()
        grads.append(pixels.grad)
    assert grads[1].abs().sum() > 0
    assert_close(grads[0], grads[1])


def _timm_reference_forward(model, images):
    """Full-visibility EXPRES through timm's own ``Block.forward``.

    Forward hooks add each site's residual to the output-token rows of the module whose
    output the site names (out of place), so the blocks and the attention are timm's code.
    """
    rows = output_token_rows(model.num_tokens)
    handles = []

    def add(residual):
        def hook(module, args, out):
            return torch.cat([out[:, :rows.start], out[:, rows] + residual], dim=1)
        return hook

    for index, block in enumerate(model.vit.blocks):
        res = model.prompts.residuals_at(index)
        qkv = [res.get(site, torch.zeros_like(model.prompts.tokens)) for site in 'qkv']
        targets = dict(ln=block.norm1, proj=block.attn.proj, ln2=block.norm2, mlp=block.mlp)
        for site, module in targets.items():
            if site in res:
                handles.append(module.register_forward_hook(add(res[site])))
        handles.append(block.attn.qkv.register_forward_hook(add(torch.cat(qkv, dim=1))))
    try:
        z = model.embed(images)
        states = []
        for block in model.vit.blocks:
            z = block(z)
            states.append(z)
    finally:
        for handle in handles:
            handle.remove()
    return states


# images with requires_grad (saliency maps, attacks) must get their gradient through
# block 1, where otherwise only the token rows carry a graph
@pytest.mark.parametrize('image_grad', [False, True])
@pytest.mark.parametrize('residual_layers', [(0, 1, 3), (2,)])
def test_full_visibility_equals_timm_blocks_with_hooked_residuals(images, image_grad,
                                                                 residual_layers):
    model = build_tiny(num_tokens=3, visibility='full', residual_sites=ALL_SITES,
                       residual_layers=residual_layers, out_indices=(1, 3),
                       output_tokens=True)
    _randomise_prompts(model, 0.2)
    images = images.clone().requires_grad_(image_grad)
    params = list(model.prompts.parameters()) + ([images] if image_grad else [])
    outs = model(images)
    states = _timm_reference_forward(model, images)
    rows = output_token_rows(3)
    for out, state in zip(outs[:2], (states[1], states[3])):
        image = state[:, 1:rows.start]  # patch rows, without the class token
        assert_close(out, image.transpose(1, 2).reshape(out.shape))
    assert_close(outs[2], model.vit.norm(states[3][:, rows]))
    loss_ours = sum(out.square().sum() for out in outs)
    grads_ours = torch.autograd.grad(loss_ours, params)
    loss_ref = sum(state.square().sum() for state in (states[1][:, 1:rows.start],
                                                       states[3][:, 1:rows.start]))
    loss_ref = loss_ref + model.vit.norm(states[3][:, rows]).square().sum()
    grads_ref = torch.autograd.grad(loss_ref, params)
    for ours, ref in zip(grads_ours, grads_ref):
        assert ref.abs().sum() > 0
        assert_close(ours, ref)


@pytest.mark.parametrize('visibility', ['full', 'one_way'])
def test_bf16_autocast_trains_fp32_prompts(images, visibility):
    model = build_tiny(num_tokens=2, residual_sites=ALL_SITES, visibility=visibility,
                       out_indices=(3,), readout='mean')
    _randomise_prompts(model, 0.1)
    reference = model(images)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        outs = model(images)
    for out, ref in zip(outs, reference):  # bf16 GEMMs: about 3 significant digits
        assert not torch.equal(out.float(), ref)
        assert_close(out.float(), ref, atol=0.1, rtol=0.05)
    sum(out.float().square().mean() for out in outs).backward()
    for name, param in model.prompts.named_parameters():
        assert param.dtype == torch.float32 and param.grad.abs().sum() > 0, name


@pytest.mark.parametrize('visibility', ['full', 'one_way'])
@pytest.mark.parametrize('site', ALL_SITES)
def test_each_site_gets_gradient_and_frozen_vit_none(images, site, visibility):
    model = build_tiny(num_tokens=2, residual_sites=(site,), visibility=visibility,
                       output_tokens=True)
    _randomise_prompts(model, 0.1)
    model.train()
    outs = model(images)
    loss = sum(out.square().mean() for out in outs)
    loss.backward()
    residual = model.prompts.residuals[site]
    # every residual layer and every token row is reached
    assert (residual.grad.abs().sum(dim=-1) > 0).all(), site
    assert model.prompts.tokens.grad.abs().sum() > 0
    for name, param in model.vit.named_parameters():
        assert not param.requires_grad and param.grad is None, name


@pytest.mark.parametrize('num_tokens,sites,layers', [
    (5, DEFAULT_SITES, None), (1, ('q',), (0,)), (4, ALL_SITES, (1, 3)), (0, (), None)])
def test_trainable_count_matches_closed_form(num_tokens, sites, layers):
    model = build_tiny(num_tokens=num_tokens, residual_sites=sites, residual_layers=layers)
    num_layers = DEPTH if layers is None else len(layers)
    expected = num_tokens * 32 * (1 + len(sites) * num_layers) if num_tokens else 0
    trainable, total = model.num_trainable_params()
    assert trainable == expected == (model.prompts.expected_num_params() if num_tokens else 0)
    assert total == trainable + sum(p.numel() for p in model.vit.parameters())


def test_vit_b16_defaults_have_paper_parameter_count():
    """ViT-B/16, K=5, 5 sites, 12 layers: 234,240 trainable (method section 2)."""
    from mmseg_expres.models import ExpresViT
    with torch.device('meta'):  # no memory, no init cost; counts only
        model = ExpresViT(arch='vit_base_patch16_224', num_tokens=5)
    assert model.num_trainable_params()[0] == 234_240


@pytest.mark.parametrize('arch,width,depth', [
    ('vit_tiny_patch16_224', 192, 12), ('vit_small_patch16_384', 384, 12),
    ('vit_large_patch16_224', 1024, 24)])
def test_other_timm_vits_build_with_closed_form_count(arch, width, depth):
    from mmseg_expres.models import ExpresViT
    with torch.device('meta'):
        model = ExpresViT(arch=arch, img_size=512, num_tokens=5, out_indices=(depth - 1,))
    assert model.embed_dim == width and model.depth == depth
    assert model.num_trainable_params()[0] == 5 * width * (1 + 5 * depth)
    assert model.vit.pos_embed.shape[1] == 1 + (512 // 16) ** 2  # laid out for img_size


def test_init_weights_keeps_frozen_vit_and_train_keeps_eval():
    model = build_tiny(num_tokens=2)
    before = {k: v.clone() for k, v in model.vit.state_dict().items()}
    _randomise_prompts(model)
    model.init_weights()
    for key, value in model.vit.state_dict().items():
        assert torch.equal(value, before[key]), key
    for residual in model.prompts.residuals.values():
        assert not residual.any()  # zero-initialised
    model.train()
    assert model.training and model.prompts.training
    assert not any(m.training for m in model.vit.modules())


def test_segmentor_init_weights_does_not_reinitialise_vit():
    """MMEngine's runner calls init_weights() on the whole model; the ViT must survive."""
    from mmseg.registry import MODELS

    from ...conftest import tiny_backbone_cfg
    segmentor = MODELS.build(dict(
        type='EncoderDecoder',
        backbone=tiny_backbone_cfg(out_indices=(3,)),
        decode_head=dict(type='FCNHead', in_channels=32, channels=16, num_convs=1,
                         num_classes=3, norm_cfg=dict(type='BN'))))
    before = {k: v.clone() for k, v in segmentor.backbone.vit.state_dict().items()}
    segmentor.init_weights()
    for key, value in segmentor.backbone.vit.state_dict().items():
        assert torch.equal(value, before[key]), key


@pytest.mark.parametrize('init', ['xavier', 'cls'])
def test_token_init(init):
    model = build_tiny(num_tokens=4, token_init=init)
    tokens = model.prompts.tokens.detach()
    if init == 'xavier':
        bound = (6.0 / (3 * 8 * 8 + 32)) ** 0.5
        assert tokens.abs().max() <= bound and tokens.std() > bound / 4
    else:
        cls = model.vit.cls_token.detach().reshape(1, -1)
        assert (tokens - cls).abs().max() < 0.2 and not torch.equal(tokens[0], tokens[1])


def test_outputs_shapes_and_readouts(images):
    model = build_tiny(num_tokens=3, output_tokens=True, readout='concat', out_indices=(2,))
    maps, tokens, feature = model(images)
    assert maps.shape == (2, 32, 4, 4)
    assert tokens.shape == (2, 3, 32)
    assert feature.shape == (2, 96)
    assert_close(feature, tokens.flatten(1))
    model.readout = 'cls'
    assert model(images)[-1].shape == (2, 32)


def test_any_input_size_is_resampled_and_padded():
    model = build_tiny(num_tokens=2, out_indices=(3,))
    out = model(torch.randn(1, 3, 48, 44))  # 6 x 5.5 patches: padded to 6 x 6
    assert out[0].shape == (1, 32, 6, 6)


def test_output_token_rows_name_the_last_k_rows():
    x = torch.arange(10).reshape(1, 10, 1)
    assert x[:, output_token_rows(3)].flatten().tolist() == [7, 8, 9]
    assert x[:, output_token_rows(0)].numel() == 0


@pytest.mark.parametrize('overrides,message', [
    (dict(num_tokens=-1), 'num_tokens'),
    (dict(residual_sites=('ln', 'qq')), 'unknown'),
    (dict(residual_layers=(0, 4)), 'residual_layers'),
    (dict(out_indices=(5,)), 'out_indices'),
    (dict(arch='vit_nonexistent_patch3'), 'timm does not know'),
    (dict(pretrained='/no/such/file.pth'), 'not found'),
    (dict(visibility='two_way'), 'visibility'),
    (dict(token_init='zeros'), 'token_init'),
    (dict(frozen=False, visibility='one_way', readout='mean'), 'masked'),
    (dict(init_cfg=dict(type='Pretrained', checkpoint='x')), 'init_cfg'),
])
def test_bad_configuration_raises_clear_error(overrides, message):
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        build_tiny(**overrides)


@pytest.mark.parametrize('outputs,what', [
    (dict(readout='cls'), "readout='cls'"),
    (dict(out_indices=(1, 3)), 'no readout and no output_tokens'),
    (dict(out_indices=(3,), final_norm=True, one_way_impl='masked'),
     'no readout and no output_tokens')])
def test_one_way_prompts_no_output_reads_are_refused(outputs, what):
    """In one-way visibility only the token rows see the prompts: maps and the class
    token would come out the same with any prompts, which would train for nothing."""
    with pytest.raises(ValueError, match=rf"visibility='one_way'.*{re.escape(what)}.*never "
                                         r"change an output.*visibility='full'.*"
                                         r"readout in \('mean', 'concat'\) or output_tokens"):
        build_tiny(num_tokens=3, visibility='one_way', **outputs)
    # the same outputs are accepted when something reads the tokens, or with no prompts
    build_tiny(num_tokens=3, visibility='one_way', output_tokens=True, **outputs)
    build_tiny(num_tokens=0, visibility='one_way', **outputs)
    build_tiny(num_tokens=3, visibility='full', **outputs)


def test_trainable_parameters_are_logged(capsys):
    from mmengine.logging import MMLogger
    MMLogger.get_instance('test_expres_log')
    build_tiny(num_tokens=2, residual_sites=('q',), residual_layers=(0,))
    assert '128 trainable of' in capsys.readouterr().out


@pytest.mark.parametrize('visibility,impl,num_tokens,constant,grad,path', [
    ('one_way', 'split', 3, True, True, 'one_way_split'),
    ('one_way', 'split', 3, True, False, 'one_way_together'),
    ('one_way', 'split', 3, False, True, 'joint'),  # images want their gradient
    ('one_way', 'split', 0, True, True, 'joint'),  # nothing to split off
    ('one_way', 'masked', 3, True, True, 'joint'),
    ('full', 'split', 3, True, False, 'joint')])
def test_forward_path_choice(visibility, impl, num_tokens, constant, grad, path):
    assert choose_forward_path(visibility, impl, num_tokens, constant, grad) == path


@pytest.mark.parametrize('grad,pixels_grad,frozen,expected', [
    (True, False, True, 'one_way_split'), (False, False, True, 'one_way_together'),
    (True, True, True, 'joint'), (True, False, False, 'joint')])
def test_forward_runs_the_path_it_chooses(images, monkeypatch, grad, pixels_grad, frozen,
                                          expected):
    model = build_tiny(num_tokens=3, visibility='one_way', out_indices=(), readout='mean',
                       frozen=frozen, one_way_impl='split' if frozen else 'masked')
    taken = []
    for path in FORWARD_PATHS:
        method = '_forward_' + path
        original = getattr(model, method)
        monkeypatch.setattr(model, method, lambda *a, _o=original, _p=path: (
            taken.append(_p), _o(*a))[1])
    pixels = images.clone().requires_grad_(pixels_grad)
    with torch.set_grad_enabled(grad):
        assert model.forward_path(pixels) == expected
        model(pixels)
    assert taken == [expected]
