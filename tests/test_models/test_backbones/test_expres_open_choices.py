"""The open choices of EXPRES (docs/method_study.md) against a direct computation.

``residual_scope`` ('tokens' / 'all'), ``token_init='patch_mean'`` and ``residual_init``
on the suite's tiny ViT: each is written out here with the timm block's own weights,
independently of ``expres_block``.
"""
import pytest
import torch
import torch.nn.functional as F

from mmseg_expres.models.backbones.arguments import ALL_SITES
from mmseg_expres.models.backbones.expres_prompts import vpt_uniform_bound

from ...conftest import build_tiny

K = 3


def _randomise_residuals(model, scale=0.3):
    with torch.no_grad():
        for residual in model.prompts.residuals.values():
            residual.copy_(scale * torch.randn_like(residual))


def reference_tokens(model, images, all_rows: bool, one_way: bool):
    """The normed mean of the output tokens, computed layer by layer from the weights."""
    vit = model.vit
    z = model.embed(images)
    length = z.shape[1]
    allowed = torch.ones(length, length, dtype=torch.bool)
    if one_way:
        allowed[:length - K, length - K:] = False
    for index, block in enumerate(vit.blocks):
        res = {site: model.prompts.residuals[site][index] for site in model.prompts.sites}

        def add(x, site):
            if site not in res:
                return x
            if all_rows:
                return x + res[site]  # (1, d): every row
            return torch.cat([x[:, :-K], x[:, -K:] + res[site]], dim=1)  # (K, d)

        attn = block.attn
        u = add(block.norm1(z), 'ln')
        w_q, w_k, w_v = attn.qkv.weight.chunk(3)
        b_q, b_k, b_v = attn.qkv.bias.chunk(3)
        q = add(u @ w_q.T + b_q, 'q')
        k = add(u @ w_k.T + b_k, 'k')
        v = add(u @ w_v.T + b_v, 'v')
        heads = attn.num_heads

        def split(x):
            return x.reshape(x.shape[0], length, heads, -1).transpose(1, 2)

        logits = split(q) @ split(k).transpose(-1, -2) * attn.scale
        logits = logits.masked_fill(~allowed, float('-inf'))
        a = (logits.softmax(-1) @ split(v)).transpose(1, 2).reshape(z.shape)
        y = z + add(a @ attn.proj.weight.T + attn.proj.bias, 'proj')
        mlp = block.mlp
        h = mlp.fc2(mlp.act(mlp.fc1(add(block.norm2(y), 'ln2'))))
        z = y + add(h, 'mlp')
    return vit.norm(z[:, -K:]).mean(1)


@pytest.mark.parametrize('visibility', ['full', 'one_way'])
@pytest.mark.parametrize('scope', ['tokens', 'all'])
def test_residual_scope_equals_direct_computation(images, visibility, scope):
    model = build_tiny(num_tokens=K, visibility=visibility, readout='mean', out_indices=(),
                       residual_sites=ALL_SITES, residual_scope=scope)
    model.init_weights()
    _randomise_residuals(model)
    expected = reference_tokens(model, images, scope == 'all', visibility == 'one_way')
    params = list(model.prompts.parameters())
    direction = torch.randn_like(expected)
    expected_grads = torch.autograd.grad((expected * direction).sum(), params)
    model.train()
    ours = model(images)[-1]
    torch.testing.assert_close(ours, expected, rtol=1e-4, atol=1e-5)
    # the in-place adds of the fast paths give the direct computation's gradients too
    for grad, reference in zip(torch.autograd.grad((ours * direction).sum(), params),
                               expected_grads):
        torch.testing.assert_close(grad, reference, rtol=1e-4, atol=1e-5)
    model.eval()
    with torch.no_grad():  # the inference paths too
        torch.testing.assert_close(model(images)[-1], expected, rtol=1e-4, atol=1e-5)


def test_every_row_residuals_are_one_vector_per_layer_and_site_and_all_train(images):
    model = build_tiny(num_tokens=K, visibility='one_way', readout='mean', out_indices=(1,),
                       residual_scope='all')
    prompts = model.prompts
    depth, width = len(model.vit.blocks), model.embed_dim
    assert all(r.shape == (depth, 1, width) for r in prompts.residuals.values())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert trainable == prompts.expected_num_params() == K * width + 5 * depth * width
    # every row changes, so no one-way shortcut that treats the image rows as frozen
    assert model.forward_path(images) == 'joint'
    _randomise_residuals(model)
    maps, feature = model(images)
    # a random direction: the sum of a LayerNorm's output has no gradient
    (feature * torch.randn_like(feature)).sum().backward()
    assert prompts.tokens.grad.abs().sum() > 0
    for site, residual in prompts.residuals.items():
        assert residual.grad.abs().sum(-1).min() > 0, site  # every layer's vector
    # the image rows are no longer the frozen ViT's
    frozen = build_tiny(num_tokens=0, out_indices=(1,))
    frozen.vit.load_state_dict(model.vit.state_dict())
    assert not torch.allclose(maps, frozen(images)[0])


def test_patch_mean_init_is_the_mean_patch_token_of_a_mean_image():
    model = build_tiny(num_tokens=K, token_init='patch_mean', readout='mean')
    model.init_weights()
    vit = model.vit
    expected = vit.patch_embed.proj.bias + vit.pos_embed[0, vit.num_prefix_tokens:].mean(0)
    torch.testing.assert_close(model.patch_mean_token(), expected.detach())
    tokens = model.prompts.tokens.detach()
    assert (tokens - expected).abs().max() < 0.15  # plus noise of std 0.02 ...
    assert not torch.equal(tokens[0], tokens[1])  # ... which makes the tokens differ
    model.prompts.reset_parameters(patch_mean=expected.detach(), noise_std=0.0)
    torch.testing.assert_close(model.prompts.tokens.detach(), expected.detach().expand(K, -1))


@pytest.mark.parametrize('scope', ['tokens', 'all'])
def test_residual_init(scope):
    zeros = build_tiny(num_tokens=K, readout='mean', residual_scope=scope)
    assert all(not r.any() for r in zeros.prompts.residuals.values())
    xavier = build_tiny(num_tokens=K, readout='mean', residual_scope=scope,
                        residual_init='xavier')
    xavier.init_weights()
    bound = vpt_uniform_bound(8, xavier.embed_dim)
    for residual in xavier.prompts.residuals.values():
        assert residual.abs().max() <= bound and residual.abs().min() > 0
        assert residual.std() > bound / 3  # spread over the interval, not a constant


@pytest.mark.parametrize('key, value', [('residual_scope', 'rows'),
                                        ('residual_init', 'normal'),
                                        ('token_init', 'mean')])
def test_bad_choices_are_refused_with_the_choices(key, value):
    with pytest.raises(ValueError, match=f'{key} must be one of'):
        build_tiny(num_tokens=K, readout='mean', **{key: value})


def test_block_refuses_every_row_residuals_without_a_graph_on_the_images():
    from mmseg_expres.models.backbones.expres_block import EveryRowResiduals, expres_block
    model = build_tiny(num_tokens=K, readout='mean')
    z = torch.randn(2, 17 + K, model.embed_dim)
    res = EveryRowResiduals(ln=torch.zeros(1, model.embed_dim))
    with pytest.raises(ValueError, match='every row'):
        expres_block(model.vit.blocks[0], z, res, graph_only_on_tokens=K)
    assert F.mse_loss(expres_block(model.vit.blocks[0], z, res)[0],
                      expres_block(model.vit.blocks[0], z, {})[0]) == 0
