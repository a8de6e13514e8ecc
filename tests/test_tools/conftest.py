"""Fixtures shared by the tool tests: one generated ADE20K folder and one training run."""
import pytest

from mmseg_expres.datasets.demo_data.segmentation import make_ade20k

from .seg_runs import ADE_CONFIG, run_tool, tool, write_tiny_config, write_tiny_vit


@pytest.fixture(scope='session')
def ade_root(tmp_path_factory) -> str:
    return make_ade20k(str(tmp_path_factory.mktemp('ade')), num_train=8, num_val=2,
                       size=(48, 64))


@pytest.fixture(scope='session')
def vit_ckpt(tmp_path_factory) -> str:
    return write_tiny_vit(str(tmp_path_factory.mktemp('vit') / 'tiny_vit.pth'))


@pytest.fixture(scope='session')
def trained_ade(tmp_path_factory, ade_root, vit_ckpt):
    """One tools/train.py run on the shipped ADE20K UperNet config, shared by tests."""
    work = tmp_path_factory.mktemp('ade_run')
    cfg = write_tiny_config(str(work / 'cfg.py'), ADE_CONFIG, ade_root,
                            vit_ckpt)
    result = run_tool([tool('train.py'), cfg, '--work-dir', str(work)])
    return cfg, str(work), result
