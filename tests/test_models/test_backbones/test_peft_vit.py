"""PEFT baselines (LoRA through peft, AdaptFormer, SSF): each equals its direct computation,
trains exactly its tensors, merges to the same outputs, and keeps small task checkpoints."""
import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close

from ...conftest import TINY_VIT, build_tiny

DEPTH, WIDTH, HIDDEN = 4, 32, 96  # timm's test_vit has mlp_ratio 3
#: tuned numbers on the tiny ViT: LoRA r=4 on qkv, AdaptFormer r=8, SSF's 11d per block
#: norm1, qkv, proj, norm2, fc1, fc2 per block, the patch projection and the final norm
#: (a scale and a shift each)
TINY_COUNTS = {
    'lora': DEPTH * (4 * WIDTH + 3 * WIDTH * 4),
    'adaptformer': DEPTH * (2 * WIDTH * 8 + 8 + WIDTH),
    'ssf': 2 * (DEPTH * (7 * WIDTH + HIDDEN) + 2 * WIDTH),
}
METHOD_ARGS = {'lora': dict(lora_rank=4), 'adaptformer': dict(adapter_dim=8), 'ssf': {}}


def build_peft(method: str, **overrides):
    from mmseg_expres.models import PeftViT
    cfg = dict(out_indices=(1, 3), method=method, **TINY_VIT, **METHOD_ARGS[method])
    cfg.update(overrides)
    return PeftViT(**cfg)


def perturb_(model) -> None:
    """Move every tuned tensor away from its init (LoRA's B and AdaptFormer's up start at 0)."""
    with torch.no_grad():
        for param in model.parameters():
            if param.requires_grad:
                param.add_(0.05 * torch.randn_like(param))


def _loss(outs) -> torch.Tensor:
    return sum(out.square().mean() for out in outs)


@pytest.mark.parametrize('method', TINY_COUNTS)
def test_count_gradients_and_frozen_rest(images, method):
    model = build_peft(method, readout='cls')
    trainable, _ = model.num_trainable_params()
    assert trainable == TINY_COUNTS[method]
    perturb_(model)
    model.train()
    _loss(model(images)).backward()
    tuned = model.trainable_vit_keys()
    assert tuned and all(k in dict(model.vit.named_parameters()) for k in tuned)
    for name, param in model.vit.named_parameters():
        if name in tuned:
            assert param.grad is not None and param.grad.abs().sum() > 0, name
        else:
            assert not param.requires_grad and param.grad is None, name


@pytest.mark.parametrize('method', ['lora', 'adaptformer'])
def test_starts_as_the_frozen_vit(images, method):
    torch.manual_seed(0)
    plain = build_tiny(num_tokens=0, readout='cls')
    torch.manual_seed(0)  # the same random "pretrained" ViT
    model = build_peft(method, readout='cls')
    for ours, reference in zip(model(images), plain(images)):
        assert_close(ours, reference)


def test_lora_is_peft_and_equals_the_direct_computation():
    from peft.tuners.lora import LoraLayer
    model = build_peft('lora', lora_rank=4, lora_alpha=8.0)
    perturb_(model)
    qkv = model.vit.blocks[2].attn.qkv
    assert isinstance(qkv, LoraLayer)
    x = torch.randn(2, 5, WIDTH)
    a, b = qkv.lora_A['default'].weight, qkv.lora_B['default'].weight  # (r, d), (3d, r)
    base = qkv.get_base_layer()
    expected = F.linear(x, base.weight, base.bias) + (8.0 / 4) * x @ a.T @ b.T
    assert_close(qkv(x), expected)


def test_lora_targets_proj_and_mlp_by_option():
    model = build_peft('lora', lora_rank=2, lora_targets=('qkv', 'proj', 'fc1', 'fc2'))
    per_block = 2 * (WIDTH + 3 * WIDTH) + 2 * (WIDTH + WIDTH) + 2 * (WIDTH + HIDDEN) * 2
    assert model.num_trainable_params()[0] == DEPTH * per_block
    assert not any('patch_embed' in k for k in model.trainable_vit_keys())  # its proj too


def test_ssf_equals_the_direct_computation_at_each_kind_of_site():
    model = build_peft('ssf').eval()
    vit = model.vit
    x = torch.randn(2, 5, WIDTH)
    for site, reference in (('blocks.0.attn.qkv', lambda m, t: F.linear(t, m.weight, m.bias)),
                            ('blocks.0.norm1', lambda m, t: F.layer_norm(
                                t, (WIDTH,), m.weight, m.bias, m.eps))):
        ssf = vit.get_submodule(site)
        assert_close(ssf(x), reference(ssf.base_layer, x) * ssf.ssf_scale + ssf.ssf_shift)
    conv = vit.patch_embed.proj
    image = torch.randn(2, 3, 32, 32)
    expected = F.conv2d(image, conv.base_layer.weight, conv.base_layer.bias, stride=8)
    assert_close(conv(image), expected * conv.ssf_scale[:, None, None]
                 + conv.ssf_shift[:, None, None])
    # every site of SSF's code: 6 per block, the patch projection and the final norm,
    # which trains only where an output applies it (not these maps without final_norm)
    scales = [k for k, _ in model.vit.named_parameters() if k.endswith('ssf_scale')]
    assert len(scales) == 6 * DEPTH + 2
    assert set(scales) - model.trainable_vit_keys() == {'norm.ssf_scale'}
    assert len(build_peft('ssf', final_norm=True).trainable_vit_keys()) == 2 * len(scales)


@pytest.mark.parametrize('method', ['lora', 'ssf'])
def test_merged_weights_give_the_unmerged_outputs(images, method):
    model = build_peft(method, readout='cls').eval()
    perturb_(model)
    unmerged = [out.detach() for out in model(images)]
    model.merge_()
    assert model.num_trainable_params()[0] == 0
    keys = set(model.vit.state_dict())
    plain = set(build_tiny(num_tokens=0).vit.state_dict())
    assert keys == plain  # the plain timm ViT, nothing left of the method
    for merged, reference in zip(model(images), unmerged):
        assert_close(merged, reference, rtol=1e-5, atol=1e-5)


def test_adaptformer_cannot_merge():
    model = build_peft('adaptformer')
    with pytest.raises(ValueError, match=r"one of \('lora', 'ssf'\)"):
        model.merge_()


def test_train_mode_reaches_the_added_dropout_only():
    model = build_peft('adaptformer', adapter_dropout=0.5).train()
    trained = {name for name, m in model.vit.named_modules() if m.training}
    assert trained and all('.adaptformer' in name for name in trained)
    assert model.vit.blocks[0].adaptformer.dropout.training
    model = build_peft('lora', lora_dropout=0.5).train()
    assert all('lora_' in name for name, m in model.vit.named_modules() if m.training)


@pytest.mark.parametrize('method', TINY_COUNTS)
def test_task_checkpoint_keeps_the_tuned_tensors_and_checks_the_vit(images, method):
    from mmseg_expres.engine import strip_frozen
    from mmseg_expres.models.backbones import CheckpointMismatchError
    trained = build_peft(method, readout='cls').eval()
    perturb_(trained)
    task = strip_frozen(trained.state_dict(), trained)
    kept = {k[len('vit.'):] for k in task if k.startswith('vit.')}
    assert kept == trained.trainable_vit_keys() and 'frozen_fingerprint_buffer' in task
    torch.manual_seed(0)  # the same "pretrained" ViT
    fresh = build_peft(method, readout='cls').eval()
    assert not fresh.load_state_dict(task, strict=True).missing_keys
    assert_close(fresh(images)[-1], trained(images)[-1])
    torch.manual_seed(1)
    other = build_peft(method, readout='cls')
    with pytest.raises(CheckpointMismatchError, match='fingerprint'):
        other.load_state_dict(task, strict=True)


def test_the_fingerprint_names_the_vit_not_the_method():
    torch.manual_seed(0)
    lora = build_peft('lora')
    torch.manual_seed(0)
    plain = build_tiny(num_tokens=0)
    assert torch.equal(lora.frozen_fingerprint(), plain.frozen_fingerprint())


def test_lora_and_expres_checkpoints_refuse_each_other():
    from mmseg_expres.models.backbones import CheckpointMismatchError
    torch.manual_seed(0)
    lora = build_peft('lora')
    torch.manual_seed(0)
    expres = build_tiny(num_tokens=2)
    with pytest.raises(CheckpointMismatchError,
                       match=r'trained with LoRA.*builds ExpresViT with EXPRES prompts'):
        expres.load_state_dict(lora.state_dict(), strict=False)
    with pytest.raises(CheckpointMismatchError,
                       match=r'trained with EXPRES prompts.*builds PeftViT with LoRA'):
        lora.load_state_dict(expres.state_dict(), strict=False)
    torch.manual_seed(0)
    ssf = build_peft('ssf')
    with pytest.raises(CheckpointMismatchError, match='trained with SSF.*with LoRA'):
        lora.load_state_dict(ssf.state_dict(), strict=False)


@pytest.mark.parametrize('overrides,message', [
    (dict(method='loha'), r"method must be one of \('lora', 'adaptformer', 'ssf'\)"),
    (dict(method='lora', lora_targets=('query',)),
     r"\['query'\] match no module.*Choose from \('fc1', 'fc2', 'proj', 'qkv'\)"),
    (dict(method='lora', lora_rank=0), r'lora_rank must be an integer in \[1, 32\]'),
    (dict(method='lora', lora_rank=33), r'lora_rank must be an integer in \[1, 32\]'),
    (dict(method='lora', lora_alpha=0), 'lora_alpha must be > 0'),
    (dict(method='adaptformer', adapter_dim=0), 'adapter_dim must be an integer >= 1'),
    (dict(method='ssf', num_tokens=5), 'num_tokens must be 0'),
    (dict(method='ssf', readout='mean'), 'need num_tokens > 0'),
    (dict(method='adaptformer', merged=True), 'merged=True needs'),
])
def test_bad_arguments_name_the_choices(overrides, message):
    from mmseg_expres.models import PeftViT
    with pytest.raises(ValueError, match=message):
        PeftViT(out_indices=(1, 3), **TINY_VIT, **overrides)
