"""Loading for inference: task and full checkpoints, another model's checkpoint, devices."""
import pytest
import torch

from mmseg_expres.apis.inference_model import check_device, init_inference_model
from mmseg_expres.models.backbones import CheckpointMismatchError

from ..test_tools.infer_models import DEMO_SEG, ade_meta, write_demo_model


@pytest.fixture(scope='module')
def demo(tmp_path_factory):
    return write_demo_model(tmp_path_factory.mktemp('demo'), DEMO_SEG, ade_meta())


def test_task_and_full_checkpoints_give_the_same_model(demo, tmp_path):
    config, task = demo
    model = init_inference_model(config, task)
    full = str(tmp_path / 'full.pth')
    torch.save(dict(meta=dict(dataset_meta=ade_meta()), state_dict=model.state_dict()), full)
    # the ViT comes with the full checkpoint: the pretrained file is not needed
    other = init_inference_model(config, full, cfg_options={
        'model.backbone.pretrained': str(tmp_path / 'gone.pth')})
    for key, value in model.state_dict().items():
        assert torch.equal(value, other.state_dict()[key]), key
    assert model.dataset_meta['classes'][0] == 'wall'


def test_checkpoint_of_another_head_is_refused(demo, tmp_path):
    """MMEngine only warns about a mis-shaped head, an extra or a missing tensor; each is an
    error naming the tensor (the shapes by the strict task load, models/task_loading.py;
    extra keys by the inference audit)."""
    config, task = demo
    other = str(tmp_path / 'other.pth')

    def refused(change, pattern: str) -> None:
        state = torch.load(task, weights_only=True)
        change(state['state_dict'])
        torch.save(state, other)
        with pytest.raises(CheckpointMismatchError, match=pattern):
            init_inference_model(config, other)

    def cityscapes_head(sd):
        sd['decode_head.conv_seg.weight'] = torch.zeros(19, 64, 1, 1)
        sd['decode_head.conv_seg.bias'] = torch.zeros(19)
    refused(cityscapes_head, r'(?s)decode_head.conv_seg.bias: shape \(19,\) in the checkpoint, '
            r'\(150,\) in the model.*class count')
    refused(lambda sd: sd.update({'decode_head.extra.weight': torch.zeros(1)}),
            r'Unexpected \(1\): decode_head.extra')
    refused(lambda sd: sd.pop('backbone.prompts.tokens'), r'backbone.prompts.tokens')


def test_task_checkpoint_on_another_vit_is_refused(demo, tmp_path):
    config, task = demo
    other_vit = write_demo_model(tmp_path / 'other', DEMO_SEG, ade_meta(), vit_seed=3)[0]
    with pytest.raises(CheckpointMismatchError, match='fingerprint'):
        init_inference_model(other_vit, task)


def test_cuda_without_cuda_and_missing_files(demo, monkeypatch, tmp_path):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    with pytest.raises(ValueError, match='--device cpu'):
        check_device('cuda')
    check_device('cpu')
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        init_inference_model(demo[0], str(tmp_path / 'nope.pth'))
