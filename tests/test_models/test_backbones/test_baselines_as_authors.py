"""The baselines as their authors' code runs them, each test written against that code's
formula (repository, commit, file and function in each docstring), not against ours:
AdaptFormer's adapter input, VPT's prompt dropout, NOAH's LoRA dropout and drop-path, and
SSF's weight decay in the optimiser every SSF config builds."""
import glob
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import MODELS, DefaultScope
from torch.testing import assert_close

from ...conftest import TINY_VIT, build_tiny
from ...test_configs import REPO, tiny_model_cfg
from .test_peft_vit import WIDTH, build_peft, perturb_

BASELINES = osp.join(REPO, 'configs', 'baselines')


def _attention(attn, x):
    """timm's ``Attention`` written out: fused qkv, softmax(q k^T / sqrt(d_h)) v, proj."""
    batch, rows, width = x.shape
    heads = attn.num_heads
    qkv = F.linear(x, attn.qkv.weight, attn.qkv.bias)
    q, k, v = qkv.reshape(batch, rows, 3, heads, width // heads).permute(2, 0, 3, 1, 4)
    weights = (q @ k.transpose(-2, -1) * (width // heads) ** -0.5).softmax(-1)
    out = (weights @ v).transpose(1, 2).reshape(batch, rows, width)
    return F.linear(out, attn.proj.weight, attn.proj.bias)


def _mlp(mlp, x):
    return F.linear(F.gelu(F.linear(x, mlp.fc1.weight, mlp.fc1.bias)), mlp.fc2.weight,
                    mlp.fc2.bias)


def _layer_norm(norm, x):
    return F.layer_norm(x, (WIDTH,), norm.weight, norm.bias, norm.eps)


def _adaptformer_reference(block, x, adapter_reads_norm2=False):
    """ShoufaChen/AdaptFormer 6967d67, ``models/custom_modules.py`` ``Block.forward``
    (``ffn_option='parallel'``, ``ffn_adapter_layernorm_option='none'``) with
    ``models/adapter.py`` ``Adapter.forward`` in eval mode (no dropout)::

        x' = x + attn(norm1(x))
        x  = x' + fc2(act(fc1(norm2(x')))) + 0.1 * up(relu(down(x')))

    ``adapter_reads_norm2``: the paper's figure instead (the adapter on ``norm2(x')``).
    """
    x1 = x + _attention(block.attn, _layer_norm(block.norm1, x))
    u = _layer_norm(block.norm2, x1) if adapter_reads_norm2 else x1
    down, up = block.adaptformer.down, block.adaptformer.up
    adapter = F.linear(F.relu(F.linear(u, down.weight, down.bias)), up.weight, up.bias)
    return x1 + _mlp(block.mlp, _layer_norm(block.norm2, x1)) + 0.1 * adapter


def test_adaptformer_block_is_the_authors_formula_on_the_residual_stream():
    model = build_peft('adaptformer', adapter_dim=8, adapter_scale=0.1).eval()
    perturb_(model)
    # a residual stream of growing scale, as in a pre-norm ViT: LN(x') differs from x'
    x = 3.0 * torch.randn(2, 17, WIDTH) + 1.0
    for block in model.vit.blocks:
        assert_close(block(x), _adaptformer_reference(block, x))
        # the adapter fed norm2(x') (the paper's figure; this project before) is another
        # function, which the authors' formula tells apart
        variant = _adaptformer_reference(block, x, adapter_reads_norm2=True)
        assert not torch.allclose(block(x), variant, atol=1e-3)


def test_adaptformer_keeps_timms_keys_and_is_recognised_as_adaptformer(images):
    """The frozen tensors load as the plain ViT's; the adapters are what trains, what a
    task checkpoint holds, and what names the method of a checkpoint."""
    from mmseg_expres.models.backbones.frozen_vit import tuning_method
    model = build_peft('adaptformer', readout='cls')
    plain = set(build_tiny(num_tokens=0).vit.state_dict())
    keys = set(model.vit.state_dict())
    adapters = {k for k in keys if '.adaptformer.' in k}
    assert keys - adapters == plain
    assert model.trainable_vit_keys() == adapters
    assert len(adapters) == 4 * TINY_VIT['vit_cfg']['depth']  # down, up: weight, bias
    assert tuning_method(model.state_dict(), '')[0] == 'AdaptFormer'
    with pytest.raises(ValueError, match='merged=True needs'):
        model.merge_()


def _block_inputs(model, images):
    """The sequence entering each block, recorded by forward pre-hooks."""
    seen = []
    hooks = [b.register_forward_pre_hook(lambda m, args: seen.append(args[0].detach()))
             for b in model.vit.blocks]
    model(images)
    for hook in hooks:
        hook.remove()
    return seen


@pytest.mark.parametrize('mode', ['deep', 'shallow'])
def test_vpt_prompt_dropout_acts_on_every_prompt_set_in_train_mode_only(images, mode):
    """KMnP/vpt 4410440, ``src/models/vit_prompt/vit.py``: ``incorporate_prompt`` and
    ``forward_deep_prompt`` put ``prompt_dropout(prompts.expand(B, -1, -1))`` into the
    sequence, for the input set and every deep set; ``Dropout`` scales kept entries by
    1 / (1 - p) and acts in train mode only."""
    from mmseg_expres.models import VPTViT
    p, k = 0.5, 6
    model = VPTViT(num_tokens=k, mode=mode, prompt_dropout=p, out_indices=(1, 3),
                   **TINY_VIT)
    sets = range(len(model.vit.blocks)) if mode == 'deep' else [0]
    model.eval()
    for index in sets:
        entered = _block_inputs(model, images)[index][:, -k:]
        assert_close(entered, model.prompts[index].expand_as(entered))
    model.train()
    inputs = _block_inputs(model, images)
    for index in sets:
        entered, prompts = inputs[index][:, -k:], model.prompts[index].detach()
        dropped = entered == 0
        assert 0.2 < dropped.float().mean() < 0.8  # p = 0.5, 2 x 6 x 32 draws
        assert_close(entered[~dropped], (prompts / (1 - p)).expand_as(entered)[~dropped])
        assert not torch.equal(dropped[0], dropped[1])  # a mask per image, as VPT draws


def _configs(prefix: str, folders=('baselines',)):
    return sorted(p for folder in folders
                  for p in glob.glob(osp.join(REPO, 'configs', folder, f'{prefix}_*.py')))


def test_vpt_configs_have_vpts_prompt_dropout():
    """VPT's VTAB-1k runs (KMnP/vpt ``demo.ipynb``, "the hyperparameters are the same
    from our paper"): ``MODEL.PROMPT.DROPOUT 0.1`` for deep; the default 0.0
    (``src/configs/config.py``) for shallow."""
    deep, shallow = _configs('vpt-deep'), _configs('vpt-shallow')
    assert len(deep) == 10 and len(shallow) == 8
    for path, expected in [(p, 0.1) for p in deep] + [(p, 0.0) for p in shallow]:
        assert Config.fromfile(path).model.backbone.prompt_dropout == expected, path


def test_lora_is_noahs_with_dropout_on_its_input_in_train_mode():
    """ZhangYuanhan-AI/NOAH e9c55f3: ``supernet_train_prompt.py`` ``--drop_rate_LoRA``
    default 0.1 (kept by ``configs/LoRA/VTAB/slurm_train_lora_vtab.sh``), and
    ``model/supernet_vision_transformer_timm.py`` ``Attention.forward``:
    ``qkv + LoRA_b(LoRA_a(LoRA_drop(x)))`` (rank 8, no scaling: alpha = r)."""
    cfg = Config.fromfile(osp.join(BASELINES, 'lora_vit-b16_1xb128-100e_vtab1k.py'))
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        model = MODELS.build(tiny_model_cfg(cfg)).backbone
    perturb_(model)
    qkv = model.vit.blocks[1].attn.qkv
    a, b = qkv.lora_A['default'].weight, qkv.lora_B['default'].weight
    assert a.shape[0] == 8 and qkv.scaling['default'] == 1.0
    base = qkv.get_base_layer()
    x = torch.randn(2, 5, WIDTH)
    for train in (True, False):
        model.train(train)
        torch.manual_seed(3)
        out = qkv(x)
        torch.manual_seed(3)  # the same dropout mask, drawn once per forward
        expected = F.linear(x, base.weight, base.bias) + \
            F.dropout(x, 0.1, training=train) @ a.T @ b.T
        assert_close(out, expected)
    model.train()
    assert not torch.allclose(qkv(x), F.linear(x, base.weight, base.bias) + x @ a.T @ b.T)


@pytest.mark.parametrize('method', ['lora', 'adaptformer'])
def test_drop_path_in_vit_cfg_acts_in_train_mode_only(images, method):
    """NOAH trains the frozen ViT with drop-path 0.1 (``--drop-path`` default, timm's
    linearly rising rate per block): ``vit_cfg=dict(drop_path_rate=...)`` acts in train
    mode in the backbones that run timm's blocks, and changes nothing in eval mode."""
    torch.manual_seed(0)
    reference = build_peft(method, readout='cls').eval()
    torch.manual_seed(0)
    model = build_peft(method, readout='cls',
                       vit_cfg=dict(TINY_VIT['vit_cfg'], drop_path_rate=0.5)).eval()
    assert_close(model(images)[-1], reference(images)[-1])
    model.train()
    assert all(m.training for m in model.vit.modules()
               if type(m).__name__ == 'DropPath')
    assert not torch.allclose(model(images)[-1], reference(images)[-1])


def test_drop_path_is_refused_where_the_blocks_would_not_apply_it():
    with pytest.raises(ValueError, match='apply no drop-path'):
        build_tiny(num_tokens=2, vit_cfg=dict(TINY_VIT['vit_cfg'], drop_path_rate=0.1))


@pytest.mark.parametrize('path', _configs('ssf', ('baselines', 'setr')), ids=osp.basename)
def test_ssf_configs_decay_no_scale_shift_or_other_1d_tensor(path):
    """dongzelian/SSF e94e0e7, ``optim_factory.py`` ``param_groups_weight_decay``
    (``create_optimizer_v2``'s default ``filter_bias_and_bn``): no weight decay on
    every parameter with ``ndim <= 1`` or named ``.bias``, ``ssf_scale`` and
    ``ssf_shift`` among them; the rest decays. Built by MMEngine's optimiser wrapper
    constructor in the config's scope, as the runner builds it."""
    from mmengine.optim import build_optim_wrapper
    cfg = Config.fromfile(path)
    scope = cfg.get('default_scope', 'mmseg')
    with DefaultScope.overwrite_default_scope(scope):
        model = MODELS.build(tiny_model_cfg(cfg))
        wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    # VPT's SETR schedule decays nothing (weight decay 0), which keeps SSF's rule too
    base_wd = cfg.optim_wrapper.optimizer.weight_decay
    decay = {id(p): group['weight_decay'] for group in wrapper.optimizer.param_groups
             for p in group['params']}
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    ssf = [n for n, _ in named if '.ssf_' in n]
    assert ssf and len(decay) == len(named)
    for name, param in named:
        expected = 0.0 if param.ndim <= 1 or name.endswith('.bias') else base_wd
        assert base_wd or 'setr' in path  # a decay to withhold everywhere else
        assert decay[id(param)] == expected, name
