"""The one model loader (apis.init_model): task and self-contained checkpoints of every
tuning method, on shipped and on users' custom-data configs; another model's checkpoint;
devices; the same config checks as tools/train.py and tools/test.py."""
import pytest
import torch

from mmseg_expres.apis.inference import check_device, init_model
from mmseg_expres.models.backbones import CheckpointMismatchError

from ..test_tools.infer_models import DEMO_SEG, ade_meta, write_demo_model


@pytest.fixture(scope='module')
def demo(tmp_path_factory):
    return write_demo_model(tmp_path_factory.mktemp('demo'), DEMO_SEG, ade_meta())


def test_task_and_full_checkpoints_give_the_same_model(demo, tmp_path):
    config, task = demo
    model = init_model(config, task)
    full = str(tmp_path / 'full.pth')
    torch.save(dict(meta=dict(dataset_meta=ade_meta()), state_dict=model.state_dict()), full)
    # the ViT comes with the full checkpoint: the pretrained file is not needed
    other = init_model(config, full, cfg_options={
        'model.backbone.pretrained': str(tmp_path / 'gone.pth')})
    for key, value in model.state_dict().items():
        assert torch.equal(value, other.state_dict()[key]), key
    assert model.dataset_meta['classes'][0] == 'wall'


def test_checkpoint_of_another_head_is_refused(demo, tmp_path):
    """MMEngine only warns about a mis-shaped head, an extra or a missing tensor; each is an
    error naming the tensor, by the one strict task load (models/task_loading.py)."""
    config, task = demo
    other = str(tmp_path / 'other.pth')

    def refused(change, pattern: str) -> None:
        state = torch.load(task, weights_only=True)
        change(state['state_dict'])
        torch.save(state, other)
        with pytest.raises(CheckpointMismatchError, match=pattern):
            init_model(config, other)

    def cityscapes_head(sd):
        sd['decode_head.conv_seg.weight'] = torch.zeros(19, 64, 1, 1)
        sd['decode_head.conv_seg.bias'] = torch.zeros(19)
    refused(cityscapes_head, r'(?s)decode_head.conv_seg.bias: shape \(19,\) in the checkpoint, '
            r'\(150,\) in the model.*class count')
    refused(lambda sd: sd.update({'decode_head.extra.weight': torch.zeros(1)}),
            r'decode_head.extra.weight: in the checkpoint, not in the model')
    refused(lambda sd: sd.pop('backbone.prompts.tokens'), r'backbone.prompts.tokens')


def test_task_checkpoint_on_another_vit_is_refused(demo, tmp_path):
    config, task = demo
    other_vit = write_demo_model(tmp_path / 'other', DEMO_SEG, ade_meta(), vit_seed=3)[0]
    with pytest.raises(CheckpointMismatchError, match='fingerprint'):
        init_model(other_vit, task)


def test_cuda_without_cuda_and_missing_files(demo, monkeypatch, tmp_path):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    with pytest.raises(ValueError, match='--device cpu'):
        check_device('cuda')
    check_device('cpu')
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        init_model(demo[0], str(tmp_path / 'nope.pth'))


# ---------------------------------------------------------------- every tuning method
#: One shipped custom-data UperNet config per tuning method.
METHODS = dict(
    expres='expres/expres_vit-b16_upernet_8xb2-80k_custom-512x512.py',
    vpt='baselines/vpt-deep_vit-b16_upernet_8xb2-80k_custom-512x512.py',
    lora='baselines/lora_vit-b16_upernet_8xb2-80k_custom-512x512.py',
    adaptformer='baselines/adaptformer_vit-b16_upernet_8xb2-80k_custom-512x512.py',
    ssf='baselines/ssf_vit-b16_upernet_8xb2-80k_custom-512x512.py',
    bias='baselines/bias_vit-b16_upernet_8xb2-80k_custom-512x512.py',
    linear='baselines/linear-probe_vit-b16_upernet_8xb2-80k_custom-512x512.py',
    finetune='baselines/finetune_vit-b16_upernet_8xb2-80k_custom-512x512.py')
#: A user's own config outside the clone: the shipped template, four classes, the
#: tiny ViT (as docs/custom_data.md has users write it).
USER_CONFIG = '''_base_ = [{base!r}]
data_root = {root!r}
classes = ['sky', 'tree', 'road', 'car']
crop_size = (32, 32)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(arch='test_vit', img_size=crop_size, pretrained={vit!r},
                  vit_cfg=dict(patch_size=8, embed_dim=32, depth=4, num_heads=2),
                  out_indices=(0, 1, 2, 3)),
    neck=dict(in_channels=[32] * 4, out_channels=32),
    decode_head=dict(in_channels=[32] * 4, channels=16, pool_scales=(1, 2)),
    auxiliary_head=dict(in_channels=32, channels=8))
'''


def write_user_config(folder, method: str) -> str:
    from ..test_tools.seg_runs import REPO, write_tiny_vit
    folder.mkdir(parents=True, exist_ok=True)
    vit = write_tiny_vit(str(folder / 'vit.pth'))
    config = folder / f'my_{method}.py'
    config.write_text(USER_CONFIG.format(base=str(REPO / 'configs' / METHODS[method]),
                                         root=str(folder / 'data'), vit=vit))
    return str(config)


def trained_task_checkpoint(config: str, path: str) -> torch.nn.Module:
    """The config's model with every trained tensor moved off its initial value, saved as
    TaskCheckpointHook saves it."""
    from mmseg_expres.engine.task_checkpoint_hook import strip_frozen
    model = init_model(config)
    generator = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for param in model.parameters():
            if param.requires_grad:
                param.add_(torch.randn(param.shape, generator=generator) * 0.01)
    torch.save(dict(meta=dict(task_checkpoint=True),
                    state_dict=strip_frozen(model.state_dict(), model)), path)
    return model


@pytest.mark.parametrize('method', sorted(METHODS))
def test_every_methods_task_checkpoint_loads_on_a_users_config(method, tmp_path):
    """A custom-data leaf config resolves its four classes (the template's placeholder
    would build two-class heads), and each method's task checkpoint loads with the ViT
    from `pretrained`: LoRA, SSF, AdaptFormer and tuned biases live under backbone.vit.
    and are no sign of a self-contained checkpoint."""
    config = write_user_config(tmp_path, method)
    trained = trained_task_checkpoint(config, str(tmp_path / 'task.pth'))
    assert trained.decode_head.conv_seg.out_channels == 4
    loaded = init_model(config, str(tmp_path / 'task.pth'))
    saved = torch.load(tmp_path / 'task.pth', weights_only=True)['state_dict']
    assert any(k.startswith('backbone.vit.') for k in saved) == (
        method in ('lora', 'adaptformer', 'ssf', 'bias', 'finetune'))
    for key, value in saved.items():
        assert torch.equal(value, loaded.state_dict()[key]), key
    # the frozen ViT came from `pretrained`: the same as the trained model's
    assert torch.equal(loaded.backbone.frozen_fingerprint(),
                       trained.backbone.frozen_fingerprint()) or method == 'finetune'
    images = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(loaded.extract_feat(images), trained.extract_feat(images))


@pytest.mark.parametrize('method', ['lora', 'finetune'])
def test_a_self_contained_checkpoint_needs_no_pretrained_file(method, tmp_path):
    """Fine-tuning's checkpoint holds its whole ViT; an exported one holds the frozen
    ViT: either runs with the pretrained file gone."""
    config = write_user_config(tmp_path, method)
    trained = init_model(config)
    torch.save(dict(meta=dict(task_checkpoint=False), state_dict=trained.state_dict()),
               tmp_path / 'full.pth')
    (tmp_path / 'vit.pth').unlink()
    loaded = init_model(config, str(tmp_path / 'full.pth'))
    for key, value in trained.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[key]), key
    images = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(loaded.extract_feat(images), trained.extract_feat(images))


def test_a_task_checkpoint_without_pretrained_or_with_part_of_a_vit_is_refused(tmp_path):
    config = write_user_config(tmp_path, 'lora')
    model = trained_task_checkpoint(config, str(tmp_path / 'task.pth'))
    # the ViT is then random: the fingerprint check names the fix
    with pytest.raises(CheckpointMismatchError, match='fingerprint.*'
                       'Set model.backbone.pretrained'):
        init_model(config, str(tmp_path / 'task.pth'),
                   cfg_options={'model.backbone.pretrained': None})
    partial = model.state_dict()
    partial.pop('backbone.vit.pos_embed')
    torch.save(dict(state_dict=partial), tmp_path / 'partial.pth')
    with pytest.raises(CheckpointMismatchError, match=r"missing e.g. \['backbone.vit."
                       r"pos_embed'\]\): it is neither a task checkpoint nor a self-contained"):
        init_model(config, str(tmp_path / 'partial.pth'))
    torch.save(dict(meta=dict(task_checkpoint=False),
                    state_dict=torch.load(tmp_path / 'task.pth')['state_dict']),
               tmp_path / 'says_full.pth')
    with pytest.raises(CheckpointMismatchError, match='says it is self-contained'):
        init_model(config, str(tmp_path / 'says_full.pth'))


def test_the_loader_refuses_options_that_would_do_nothing(tmp_path):
    """--cfg-options crop_size=... changes no field once the file is read: tools/train.py
    and tools/test.py refuse it, and so does every tool that loads a model."""
    config = write_user_config(tmp_path, 'expres')
    with pytest.raises(ValueError, match="'crop_size' is a variable of the config file"):
        init_model(config, cfg_options={'crop_size': (64, 64)})
    four = init_model(config, cfg_options={'classes': ['a', 'b', 'c', 'd', 'e']})
    assert four.decode_head.conv_seg.out_channels == 5  # a resolved variable may change


def test_a_classification_model_loads_without_its_data_set():
    """A VTAB config's head follows `task`, and predicting needs no VTAB-1k folder: the
    loader resolves the model's fields only (train and test also point the loaders)."""
    from mmengine.config import Config

    from ..test_configs import REPO, tiny_model_cfg
    cfg = Config.fromfile(f'{REPO}/configs/expres_vit-b_vtab.py')
    cfg.model = tiny_model_cfg(cfg)
    assert init_model(cfg, cfg_options={'task': 'dtd'}).head.fc.out_features == 47
