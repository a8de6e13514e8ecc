"""What the ONNX export refuses, and what it never leaves behind: another model's
checkpoint, a size that is not a multiple of the patch, a part that cannot be traced
(named), an interrupted export and a failed parity check (nothing at --out)."""
import math
import re

import numpy as np
import pytest
import torch
from mmseg.models.decode_heads import UPerHead
from mmseg.registry import MODELS

from mmseg_expres.deploy import parity as parity_module
from mmseg_expres.deploy import export as export_module
from mmseg_expres.deploy.parity import compare

from ..test_apis.test_model_loading import trained_task_checkpoint, write_user_config
from .deploy_runs import export_main


@MODELS.register_module(force=True)
class BranchOnValuesHead(UPerHead):
    """A head whose output depends on a Python branch on its values: not traceable."""

    def forward(self, inputs):
        out = super().forward(inputs)
        return out * 2 if out.mean() > 0 else out


@torch.library.custom_op('mmseg_expres_tests::twice', mutates_args=())
def twice(x: torch.Tensor) -> torch.Tensor:
    """An op torch traces but has no ONNX translation for."""
    return x * 2


@twice.register_fake
def _(x):
    return torch.empty_like(x)


@MODELS.register_module(force=True)
class CustomOpHead(UPerHead):
    def forward(self, inputs):
        return twice(super().forward(inputs))


def user_model(folder, method: str = 'linear', extra: str = ''):
    config = write_user_config(folder, method)
    if extra:
        text = open(config).read().replace("decode_head=dict(", f"decode_head=dict({extra}")
        open(config, 'w').write(text)
    task = str(folder / 'task.pth')
    trained_task_checkpoint(config, task)
    return config, task


@pytest.fixture(scope='module')
def linear(tmp_path_factory):
    return user_model(tmp_path_factory.mktemp('linear'))


def refused(argv, folder, capsys) -> str:
    """The export's stderr, having checked that it exits 1 and writes nothing."""
    out = folder / 'model.onnx'
    assert export_main([*argv, '--out', str(out)]) == 1
    assert not out.exists()
    return capsys.readouterr().err


def test_a_checkpoint_of_another_model_is_refused(tmp_path, capsys):
    lora_config, lora_task = user_model(tmp_path / 'lora', 'lora')
    ssf_config, _ = user_model(tmp_path / 'ssf', 'ssf')
    assert 'trained with LoRA' in refused([ssf_config, lora_task], tmp_path, capsys)


def test_a_shape_off_the_patch_grid_is_refused_with_the_sizes_to_use(linear, tmp_path,
                                                                    capsys):
    err = refused([*linear, '--shape', '30', '32'], tmp_path, capsys)
    assert 'not a multiple of the ViT patch size 8' in err and 'Use 24 / 32' in err


def test_a_part_that_cannot_be_traced_is_named(tmp_path, capsys):
    config, task = user_model(tmp_path, extra="type='BranchOnValuesHead', ")
    err = refused([config, task], tmp_path, capsys)
    assert 'torch.export cannot trace decode_head (BranchOnValuesHead)' in err, err


def test_an_op_without_onnx_translation_is_named_with_its_line(tmp_path, capsys):
    config, task = user_model(tmp_path, extra="type='CustomOpHead', ")
    err = refused([config, task], tmp_path, capsys)
    assert re.search(r'torch.onnx cannot translate mmseg_expres_tests.twice \(File ".*'
                     r'test_export_errors.py", line \d+, in forward\) to ONNX opset 18: '
                     r'DispatchError: No ONNX function found', err), err


def test_an_interrupted_write_leaves_no_file(linear, tmp_path, monkeypatch):
    """Ctrl-C halfway through writing the file: neither the file nor a temporary one."""
    real = export_module.atomic_write

    class HalfWritten:
        def __init__(self, f):
            self.f = f

        def write(self, data):
            self.f.write(data[:len(data) // 2])
            raise KeyboardInterrupt

    def interrupted(path, mode):
        class Context:
            def __enter__(self):
                self.inner = real(path, mode)
                return HalfWritten(self.inner.__enter__())

            def __exit__(self, *exc):
                return self.inner.__exit__(*exc)
        return Context()

    monkeypatch.setattr(export_module, 'atomic_write', interrupted)
    out = tmp_path / 'deep' / 'model.onnx'
    with pytest.raises(KeyboardInterrupt):
        export_main([*linear, '--out', str(out)])
    assert list((tmp_path / 'deep').iterdir()) == []


def test_failed_parity_exits_1_and_writes_nothing(linear, tmp_path, monkeypatch, capsys):
    real = parity_module.torch_logits

    def other_model(model, image):  # PyTorch disagrees with the graph on every pixel
        logits = real(model, image)
        return np.roll(logits, 1, axis=0)
    monkeypatch.setattr(parity_module, 'torch_logits', other_model)
    assert 'nothing was written' in refused(linear, tmp_path, capsys)


def test_parity_fails_on_nan_and_below_the_agreement():
    logits = np.random.default_rng(0).normal(size=(3, 40, 25)).astype(np.float32)
    classes = logits.argmax(0)
    same = compare([(logits, classes, logits)])
    assert same.passed and same.max_abs == 0 and same.agreement == 1
    nan = logits.copy()
    nan[0, 0, 0] = np.nan
    assert math.isnan(compare([(nan, classes, logits)]).max_abs)
    assert not compare([(nan, classes, logits)]).passed
    assert not compare([(logits, classes, nan)]).passed  # a NaN in PyTorch's too
    off = classes.copy()
    off.flat[:2] = (off.flat[:2] + 1) % 3  # 2 of 1000 pixels: 99.8 %
    assert not compare([(logits, off, logits)]).passed
    off.flat[1] = classes.flat[1]  # 1 of 1000: 99.9 %, the limit
    assert compare([(logits, off, logits)]).passed


def test_a_slide_mode_config_is_exported_whole_with_a_warning(linear, tmp_path):
    """The graph runs the whole image; the warning and the file's notes say so."""
    import onnx

    from mmseg_expres.deploy.runtime import DeployInfo
    out = tmp_path / 'model.onnx'
    with pytest.warns(UserWarning, match=r'slide mode \(crop \(16, 16\), stride \(8, 8\)\)'
                      r'.*whole image in one pass'):
        assert export_main([*linear, '--out', str(out), '--cfg-options',
                            'model.test_cfg.mode=slide', 'model.test_cfg.crop_size=(16,16)',
                            'model.test_cfg.stride=(8,8)']) == 0
    props = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert 'slide mode' in DeployInfo.from_metadata(props).notes[0]


def test_what_the_export_does_not_cover_is_refused_by_name(linear):
    from torch import nn

    from mmseg_expres.apis import init_model
    from mmseg_expres.deploy import ExportError
    from mmseg_expres.deploy.export import check_exportable, check_shape
    with pytest.raises(ExportError, match='builds a Linear; the ONNX export covers mmseg '
                       'EncoderDecoder segmentors'):
        check_exportable(nn.Linear(2, 2))
    model = init_model(*linear)
    assert check_shape(model, (40, 48)) == (40, 48)
    with pytest.raises(ExportError, match='33 and 41 are not multiples of the ViT patch '
                       r'size 8 .* Use 32 / 40 or 40 / 48\.'):
        check_shape(model, (33, 41))
