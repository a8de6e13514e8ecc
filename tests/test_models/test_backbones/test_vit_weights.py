"""Pretrained weight loading: every format round-trips, and bad checkpoints fail loudly."""
import importlib.util
import os.path as osp

import numpy as np
import pytest
import torch
from torch.testing import assert_close

from mmseg_expres.models.backbones import CheckpointMismatchError, create_timm_vit

from ...conftest import TINY_VIT, build_tiny


def _source_vit(img_size: int = 32):
    """A randomly initialised tiny ViT standing in for a pretrained one."""
    torch.manual_seed(123)
    return create_timm_vit(TINY_VIT['arch'], img_size, TINY_VIT['vit_cfg'])


def to_google_npz(vit, path: str) -> None:
    """Write a timm ViT in the layout of Google's ``imagenet21k_ViT-B_16.npz``."""
    sd = {k: v.detach().numpy() for k, v in vit.state_dict().items()}
    heads, dim = vit.blocks[0].attn.num_heads, vit.embed_dim
    out = {
        'embedding/kernel': sd['patch_embed.proj.weight'].transpose(2, 3, 1, 0),
        'embedding/bias': sd['patch_embed.proj.bias'],
        'cls': sd['cls_token'],
        'Transformer/posembed_input/pos_embedding': sd['pos_embed'],
        'Transformer/encoder_norm/scale': sd['norm.weight'],
        'Transformer/encoder_norm/bias': sd['norm.bias'],
        # the 21k file's classifier, which the backbone must ignore
        'pre_logits/kernel': np.zeros((dim, dim), np.float32),
        'head/kernel': np.zeros((dim, 7), np.float32),
        'head/bias': np.zeros(7, np.float32),
    }
    for i in range(len(vit.blocks)):
        src, dst = f'blocks.{i}.', f'Transformer/encoderblock_{i}/'
        mha = dst + 'MultiHeadDotProductAttention_1/'
        for name, w, b in zip(('query', 'key', 'value'),
                              np.split(sd[src + 'attn.qkv.weight'], 3),
                              np.split(sd[src + 'attn.qkv.bias'], 3)):
            out[f'{mha}{name}/kernel'] = w.T.reshape(dim, heads, -1)
            out[f'{mha}{name}/bias'] = b.reshape(heads, -1)
        out[mha + 'out/kernel'] = sd[src + 'attn.proj.weight'].reshape(dim, heads, -1).transpose(1, 2, 0)
        out[mha + 'out/bias'] = sd[src + 'attn.proj.bias']
        for ln, norm in (('LayerNorm_0', 'norm1'), ('LayerNorm_2', 'norm2')):
            out[f'{dst}{ln}/scale'] = sd[f'{src}{norm}.weight']
            out[f'{dst}{ln}/bias'] = sd[f'{src}{norm}.bias']
        for j in range(2):
            out[f'{dst}MlpBlock_3/Dense_{j}/kernel'] = sd[f'{src}mlp.fc{j + 1}.weight'].T
            out[f'{dst}MlpBlock_3/Dense_{j}/bias'] = sd[f'{src}mlp.fc{j + 1}.bias']
    np.savez(path, **out)


def _mmseg_converter():
    """mmseg's own ``vit2mmseg.convert_vit``, shipped inside the mmseg package."""
    import mmseg
    path = osp.join(osp.dirname(mmseg.__file__), '.mim', 'tools', 'model_converters',
                    'vit2mmseg.py')
    spec = importlib.util.spec_from_file_location('vit2mmseg', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.convert_vit


def write_checkpoint(vit, fmt: str, directory) -> str:
    """Save ``vit`` in one of the supported formats; returns the path."""
    sd = dict(vit.state_dict())
    if fmt == 'timm_pth':
        path = osp.join(directory, 'vit.pth')
        torch.save(dict(sd, **{'head.weight': torch.zeros(7, 32)}), path)
    elif fmt == 'safetensors':
        from safetensors.torch import save_file
        path = osp.join(directory, 'vit.safetensors')
        save_file({k: v.contiguous() for k, v in sd.items()}, path)
    elif fmt == 'npz':
        path = osp.join(directory, 'vit.npz')
        to_google_npz(vit, path)
    elif fmt == 'mmseg':
        path = osp.join(directory, 'vit_mmseg.pth')
        torch.save({'state_dict': _mmseg_converter()(sd)}, path)
    elif fmt == 'mmseg_segmentor':  # a whole mmseg checkpoint: backbone.* keys + a head
        path = osp.join(directory, 'segmentor.pth')
        converted = {f'backbone.{k}': v for k, v in _mmseg_converter()(sd).items()}
        converted['decode_head.conv_seg.weight'] = torch.zeros(3, 8, 1, 1)
        torch.save({'state_dict': converted, 'meta': {}}, path)
    return path


FORMATS = ['timm_pth', 'safetensors', 'npz', 'mmseg', 'mmseg_segmentor']


@pytest.mark.parametrize('fmt', FORMATS)
def test_each_format_round_trips(tmp_path, fmt):
    source = _source_vit()
    path = write_checkpoint(source, fmt, str(tmp_path))
    model = build_tiny(pretrained=path, num_tokens=2)
    for key, value in source.state_dict().items():
        assert_close(model.vit.state_dict()[key], value, msg=key)


@pytest.mark.parametrize('fmt', ['timm_pth', 'npz'])
def test_position_embeddings_resampled_for_configured_size(tmp_path, fmt):
    source = _source_vit(img_size=32)  # 4x4 grid
    path = write_checkpoint(source, fmt, str(tmp_path))
    model = build_tiny(pretrained=path, img_size=48)  # 6x6 grid
    assert model.vit.pos_embed.shape == (1, 1 + 36, 32)
    assert_close(model.vit.cls_token, source.cls_token)
    assert_close(model.vit.blocks[2].mlp.fc1.weight, source.blocks[2].mlp.fc1.weight)


def test_missing_key_is_named(tmp_path):
    sd = dict(_source_vit().state_dict())
    del sd['blocks.1.attn.qkv.weight']
    torch.save(sd, tmp_path / 'vit.pth')
    with pytest.raises(CheckpointMismatchError, match=r'Missing keys \(1\): blocks.1.attn.qkv.weight'):
        build_tiny(pretrained=str(tmp_path / 'vit.pth'))


def test_unexpected_key_is_named(tmp_path):
    sd = dict(_source_vit().state_dict())
    sd['blocks.1.adapter.weight'] = torch.zeros(3)
    torch.save(sd, tmp_path / 'vit.pth')
    with pytest.raises(CheckpointMismatchError, match='Unexpected keys.*blocks.1.adapter.weight'):
        build_tiny(pretrained=str(tmp_path / 'vit.pth'))


def test_checkpoint_of_deeper_model_fails(tmp_path):
    deeper = create_timm_vit('test_vit', 32, dict(patch_size=8, embed_dim=32, depth=5))
    torch.save(deeper.state_dict(), tmp_path / 'deep.pth')
    with pytest.raises(CheckpointMismatchError, match='blocks.4'):
        build_tiny(pretrained=str(tmp_path / 'deep.pth'))


def test_npz_of_shallower_model_fails(tmp_path):
    shallower = create_timm_vit('test_vit', 32, dict(patch_size=8, embed_dim=32, depth=3))
    to_google_npz(shallower, str(tmp_path / 'vit.npz'))
    with pytest.raises(CheckpointMismatchError, match='encoderblock_3'):
        build_tiny(pretrained=str(tmp_path / 'vit.npz'))
