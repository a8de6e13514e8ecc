"""Which ViT tensors train, and what a task checkpoint holds, are fixed by the method and
the outputs when the backbone is built: only tensors some output reads train (so DDP
sees a gradient for each), and freezing the model later changes nothing saved,
required or fingerprinted."""
import pytest
import torch
from torch.testing import assert_close

from mmseg_expres.engine import strip_frozen
from mmseg_expres.models.task_loading import trained_keys

from ...conftest import TINY_VIT, build_tiny
from .test_peft_vit import build_peft, perturb_


def build_vpt(**overrides):
    from mmseg_expres.models import VPTViT
    return VPTViT(**dict(dict(num_tokens=2, out_indices=(1, 3), **TINY_VIT), **overrides))


#: Every method that trains tensors of the ViT itself.
BUILDERS = {
    'bias': lambda **kw: build_tiny(num_tokens=0, tune_bias=True, **kw),
    'vpt-bias': lambda **kw: build_vpt(tune_bias=True, **kw),
    'finetune': lambda **kw: build_tiny(num_tokens=0, frozen=False, **kw),
    'lora': lambda **kw: build_peft('lora', **kw),
    'adaptformer': lambda **kw: build_peft('adaptformer', **kw),
    'ssf': lambda **kw: build_peft('ssf', **kw),
}


def _backward(model, images) -> None:
    model.train()
    sum(out.square().mean() for out in model(images)).backward()


def _vit_parts(keys) -> set:
    return {'.'.join(k.split('.')[:2]) if k.startswith('blocks.') else k.split('.')[0]
            for k in keys}


@pytest.mark.parametrize('method', BUILDERS)
def test_maps_without_final_norm_train_neither_the_norm_nor_later_blocks(images, method):
    """UperNet-like maps of blocks 0 and 1 on a depth-4 ViT, no final norm, no readout."""
    model = BUILDERS[method](out_indices=(0, 1))
    parts = _vit_parts(model.trainable_vit_keys())
    assert {'blocks.0', 'blocks.1'} <= parts
    assert not parts & {'norm', 'blocks.2', 'blocks.3'}
    _backward(model, images)
    # what DDP needs (find_unused_parameters=False): a gradient for every trainable one
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert missing == []
    assert {n for n, p in model.vit.named_parameters() if p.requires_grad} == \
        model.trainable_vit_keys()


@pytest.mark.parametrize('outputs, norm_trains', [
    (dict(out_indices=(1, 3), final_norm=True), True),  # the last map is normed
    (dict(out_indices=(0, 1), final_norm='all'), True),  # every map is
    (dict(out_indices=(1, 2), final_norm=True), False),  # no map of the last block
    (dict(out_indices=(1,), readout='cls'), True),  # the class token, normed
])
@pytest.mark.parametrize('method', ['bias', 'ssf', 'finetune'])
def test_the_final_norm_trains_where_an_output_applies_it(images, method, outputs,
                                                          norm_trains):
    model = BUILDERS[method](**outputs)
    assert ('norm' in _vit_parts(model.trainable_vit_keys())) == norm_trains
    last_read = 3 if outputs.get('readout') else outputs['out_indices'][-1]
    assert f'blocks.{last_read}' in _vit_parts(model.trainable_vit_keys())
    _backward(model, images)
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


@pytest.mark.parametrize('method', ['lora', 'ssf', 'adaptformer', 'bias'])
def test_freezing_the_model_changes_nothing_saved_required_or_fingerprinted(images, method):
    torch.manual_seed(0)
    trained = BUILDERS[method](readout='cls').eval()
    perturb_(trained)
    keys, fingerprint = trained.trainable_vit_keys(), trained.frozen_fingerprint()
    expected = [out.detach() for out in trained(images)]
    task_when_trainable = strip_frozen(trained.state_dict(), trained)
    assert keys and {f'vit.{k}' for k in keys} <= set(task_when_trainable)

    trained.requires_grad_(False)  # e.g. before an evaluation or an export
    assert trained.trainable_vit_keys() == keys
    assert torch.equal(trained.frozen_fingerprint(), fingerprint)
    task = strip_frozen(trained.state_dict(), trained)
    assert set(task) == set(task_when_trainable)  # the adapters are still saved

    torch.manual_seed(0)  # the same "pretrained" ViT
    fresh = BUILDERS[method](readout='cls').eval().requires_grad_(False)
    assert {f'vit.{k}' for k in keys} <= trained_keys(fresh)  # still required
    assert not fresh.load_state_dict(task, strict=True).missing_keys
    for ours, reference in zip(fresh(images), expected):
        assert_close(ours, reference)


def test_a_tuned_tensor_no_output_reads_is_neither_saved_nor_fingerprinted(images):
    """SSF wraps the final norm; under maps without final_norm its scale and shift stay
    at their random init, so another draw of them must not count as another ViT."""
    torch.manual_seed(0)
    trained = build_peft('ssf', out_indices=(1, 3))
    perturb_(trained)
    task = strip_frozen(trained.state_dict(), trained)
    assert not [k for k in task if k.startswith('vit.norm.')]
    torch.manual_seed(0)
    fresh = build_peft('ssf', out_indices=(1, 3))
    with torch.no_grad():
        fresh.vit.norm.ssf_scale.normal_(1.0, 0.5)
    assert not fresh.load_state_dict(task, strict=True).missing_keys
    for ours, reference in zip(fresh.eval()(images), trained.eval()(images)):
        assert_close(ours, reference)


@pytest.mark.parametrize('method', ['lora', 'ssf'])
def test_a_merged_backbone_tunes_nothing(method):
    model = build_peft(method, readout='cls')
    model.merge_()
    assert model.trainable_vit_keys() == set() and not model.vit_trains
    assert not any(p.requires_grad for p in model.parameters())


@pytest.mark.parametrize('method', ['ssf', 'bias'])
def test_frozen_keys_are_the_pretrained_ones_and_older_task_checkpoints_still_load(images,
                                                                                 method):
    """Before only read tensors trained, the final norm's SSF scale (or bias) of these
    maps-only models was in task checkpoints; such a checkpoint must still load, as a
    task checkpoint (not as a self-contained one), onto the same pretrained ViT."""
    torch.manual_seed(0)
    trained = BUILDERS[method](out_indices=(1, 3))
    perturb_(trained)
    unread = {'norm.bias'} if method == 'bias' else {'norm.ssf_scale', 'norm.ssf_shift'}
    frozen, trainable = trained.frozen_vit_keys(), trained.trainable_vit_keys()
    assert unread and not unread & (frozen | trainable) and not frozen & trainable
    assert frozen | trainable | unread == set(trained.vit.state_dict())
    task = strip_frozen(trained.state_dict(), trained)
    assert not {f'vit.{k}' for k in frozen | unread} & set(task)
    older = dict(task, **{f'vit.{k}': trained.vit.state_dict()[k] for k in unread})
    torch.manual_seed(0)
    fresh = BUILDERS[method](out_indices=(1, 3))
    assert not fresh.load_state_dict(older, strict=False).missing_keys
    for ours, reference in zip(fresh.eval()(images), trained.eval()(images)):
        assert_close(ours, reference)


def test_the_loader_counts_an_older_task_checkpoint_as_one(tmp_path):
    """The tools' loader decides "self-contained" from the frozen ViT tensors: the final
    norm's SSF scale of an UperNet config, which older task checkpoints held, is none of
    them, so such a checkpoint still keeps the config's pretrained ViT."""
    from mmengine.config import Config

    from mmseg_expres.apis.inference import fit_config_to_checkpoint, pretrained_keys

    from ...test_configs import REPO, tiny_model_cfg
    shipped = Config.fromfile(
        f'{REPO}/configs/baselines/ssf_vit-b16_upernet_8xb2-80k_ade20k-512x512.py')
    cfg = Config(dict(model=tiny_model_cfg(shipped), default_scope='mmseg'))
    frozen = pretrained_keys(cfg)['backbone.vit.']
    assert 'backbone.vit.norm.base_layer.weight' in frozen
    assert not {'backbone.vit.norm.ssf_scale', 'backbone.vit.norm.ssf_shift'} & frozen
    older = {'backbone.vit.norm.ssf_scale': torch.ones(32),
             'backbone.vit.norm.ssf_shift': torch.zeros(32)}
    torch.save(dict(state_dict=older, meta=dict(task_checkpoint=True)), tmp_path / 'old.pth')
    cfg.model.backbone.pretrained = 'vit.pth'
    fit_config_to_checkpoint(cfg, str(tmp_path / 'old.pth'), 'the config')
    assert cfg.model.backbone.pretrained == 'vit.pth'
