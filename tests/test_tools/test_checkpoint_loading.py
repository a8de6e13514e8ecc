"""Task checkpoints load strictly everywhere, and are never used half-written.

A head of another class count, a missing tuned tensor or a truncated file stops
tools/test.py, --resume, init_model and the inferencers with one message that names the
tensor (or the file); a run never scores a random head.
"""
import os.path as osp
import shutil

import pytest
import torch

from mmseg_expres.apis import init_model
from mmseg_expres.datasets import ClassCountError
from mmseg_expres.models.backbones import CheckpointMismatchError
from mmseg_expres.utils.checkpoint_files import atomic_write, check_checkpoint_file

from .seg_runs import ADE_CONFIG, run_tool, tool, write_tiny_config

FOUR_CLASSES = '''
model['decode_head']['num_classes'] = model['auxiliary_head']['num_classes'] = 4
'''
CLASS_COUNT = (r'decode_head.conv_seg.weight: shape \(150, 16, 1, 1\) in the checkpoint, '
               r'\(4, 16, 1, 1\) in the model; likely cause: the class count')


@pytest.fixture(scope='module')
def four_class_cfg(tmp_path_factory, ade_root, vit_ckpt):
    """The trained config, but with 4-class heads (as another data set would have)."""
    path = tmp_path_factory.mktemp('four') / 'cfg4.py'
    return write_tiny_config(str(path), ADE_CONFIG, ade_root, vit_ckpt, extra=FOUR_CLASSES)


def test_a_head_of_another_class_count_stops_init_model_and_the_inferencer(
        trained_ade, four_class_cfg):
    from mmseg.apis import MMSegInferencer
    from mmseg.apis import init_model as mmseg_init_model
    _, work, _ = trained_ade
    checkpoint = osp.join(work, 'iter_4.pth')
    # this project's loader checks the config first, as tools/train.py and test.py do:
    # its data set has 150 classes, its heads 4
    with pytest.raises(ClassCountError, match='num_classes=150'):
        init_model(four_class_cfg, checkpoint)
    # the stock APIs build it, and the strict task load refuses the checkpoint
    with pytest.raises(CheckpointMismatchError, match=CLASS_COUNT):
        mmseg_init_model(four_class_cfg, checkpoint)
    with pytest.raises(CheckpointMismatchError, match=CLASS_COUNT):
        MMSegInferencer(model=four_class_cfg, weights=checkpoint, device='cpu')


def test_a_head_of_another_class_count_stops_test_and_resume(trained_ade, four_class_cfg,
                                                             tmp_path):
    _, work, _ = trained_ade
    checkpoint = osp.join(work, 'iter_4.pth')
    tested = run_tool([tool('test.py'), four_class_cfg, checkpoint, '--work-dir',
                       str(tmp_path / 'test')], check=False)
    assert tested.returncode != 0 and 'mIoU: ' not in tested.stdout + tested.stderr  # no score
    # the config's own head (4) and data set (150) disagree: the class-count check of the
    # run's config stops it before the checkpoint is read; a consistent config would get
    # the strict load's message (test above)
    assert ('likely cause: the class count' in tested.stderr
            or 'num_classes=150' in tested.stderr), tested.stderr[-2000:]
    resumed = run_tool([tool('train.py'), four_class_cfg, '--resume', checkpoint,
                        '--work-dir', str(tmp_path / 'resume')], check=False)
    assert resumed.returncode != 0
    assert ('decode_head.conv_seg.weight: shape (150, 16, 1, 1)' in resumed.stderr
            or 'num_classes=150' in resumed.stderr), resumed.stderr[-2000:]


def test_a_missing_tuned_tensor_is_named(trained_ade, tmp_path):
    cfg, work, _ = trained_ade
    state = torch.load(osp.join(work, 'iter_4.pth'), map_location='cpu', weights_only=True)
    del state['state_dict']['backbone.prompts.tokens']
    torch.save(state, tmp_path / 'no_tokens.pth')
    with pytest.raises(CheckpointMismatchError,
                       match=r'backbone.prompts.tokens: missing from the checkpoint, the '
                             r'model has \(5, 32\)'):
        init_model(cfg, str(tmp_path / 'no_tokens.pth'))


def test_a_truncated_checkpoint_is_refused_naming_the_file(trained_ade, tmp_path):
    cfg, work, _ = trained_ade
    data = open(osp.join(work, 'iter_4.pth'), 'rb').read()
    cut = tmp_path / 'iter_6.pth'
    cut.write_bytes(data[:len(data) // 2])  # what a killed write used to leave
    shutil.copy(osp.join(work, 'iter_2.pth'), tmp_path / 'iter_2.pth')
    message = f'{cut} is not a complete checkpoint'
    with pytest.raises(ValueError, match='iter_2.pth in the same folder'):
        check_checkpoint_file(str(cut))
    with pytest.raises(ValueError, match=message):
        init_model(cfg, str(cut))
    tested = run_tool([tool('test.py'), cfg, str(cut), '--work-dir', str(tmp_path / 't')],
                      check=False)
    assert tested.returncode != 0 and message in tested.stderr
    resumed = run_tool([tool('train.py'), cfg, '--resume', str(cut), '--work-dir',
                        str(tmp_path / 'r')], check=False)
    assert resumed.returncode != 0 and message in resumed.stderr
    # --resume without a path: the work dir's last_checkpoint names the cut file
    (tmp_path / 'last_checkpoint').write_text(str(cut))
    resumed = run_tool([tool('train.py'), cfg, '--resume', '--work-dir', str(tmp_path)],
                       check=False)
    assert resumed.returncode != 0 and message in resumed.stderr


def test_an_interrupted_write_leaves_the_previous_file(tmp_path):
    path = tmp_path / 'results.json'
    path.write_text('{"complete": true}')
    with pytest.raises(KeyboardInterrupt):
        with atomic_write(str(path)) as f:
            f.write('{"half": ')
            raise KeyboardInterrupt
    assert path.read_text() == '{"complete": true}'
    assert [p.name for p in tmp_path.iterdir()] == ['results.json']  # no temporary left


def test_task_checkpoint_hook_makes_checkpoint_hooks_write_atomically(tmp_path):
    from types import SimpleNamespace

    from mmengine.fileio import get_file_backend
    from mmengine.hooks import CheckpointHook

    from mmseg_expres.engine import TaskCheckpointHook
    from mmseg_expres.utils.checkpoint_files import AtomicLocalBackend
    default, remote = CheckpointHook(), CheckpointHook(backend_args=dict(backend='petrel'))
    TaskCheckpointHook().before_run(SimpleNamespace(hooks=[default, remote]))
    assert remote.backend_args == dict(backend='petrel')  # a user's choice stays
    backend = get_file_backend(str(tmp_path), backend_args=default.backend_args)
    assert isinstance(backend, AtomicLocalBackend)
    backend.put(b'checkpoint bytes', tmp_path / 'iter_2.pth')
    assert (tmp_path / 'iter_2.pth').read_bytes() == b'checkpoint bytes'
    assert [p.name for p in tmp_path.iterdir()] == ['iter_2.pth']



def test_a_classification_head_of_another_class_count_stops_init_model_and_test(tmp_path):
    """tools/test.py used to score a random 4-class head at top-1 0 and exit 0."""
    from mmengine.config import Config

    from mmseg_expres.engine import strip_frozen

    from ..test_fewshot.fewshot_data import DEMO_CONFIG, make_folder
    make_folder(str(tmp_path / 'data'), 'toy', dict(train=2, test=1), (1, ), (0, ),
                custom_num_classes=4)
    six = Config.fromfile(DEMO_CONFIG)
    six.custom_num_classes = 6  # trained on a data set of 6 classes
    model = init_model(six)
    checkpoint = str(tmp_path / 'six.pth')
    torch.save(dict(meta={}, state_dict=strip_frozen(model.state_dict(), model)), checkpoint)
    four = Config.fromfile(DEMO_CONFIG)
    four.custom_num_classes = 4
    message = (r'head.fc.weight: shape \(6, 64\) in the checkpoint, \(4, 64\) in the model; '
               r'likely cause: the class count')
    with pytest.raises(CheckpointMismatchError, match=message):
        init_model(four, checkpoint)
    tested = run_tool([tool('test.py'), DEMO_CONFIG, checkpoint, '--work-dir',
                       str(tmp_path / 'test'), '--cfg-options',
                       f'fewshot_root={tmp_path / "data"}', 'dataset=toy', 'shot=1',
                       'custom_num_classes=4', 'test_dataloader.num_workers=0'], check=False)
    assert tested.returncode != 0, tested.stdout[-2000:]
    assert "head.fc.weight: shape (6, 64) in the checkpoint" in tested.stderr
    assert 'accuracy/top1: ' not in tested.stdout + tested.stderr  # no score


def test_an_atomic_write_gets_the_permissions_of_a_plain_open(tmp_path):
    """mkstemp's temporary file is private (0600); the renamed file must not stay so."""
    import os
    mask = os.umask(0o022)
    try:
        with atomic_write(str(tmp_path / 'model.pth'), 'wb') as f:
            f.write(b'x')
        with open(tmp_path / 'plain.pth', 'wb') as f:
            f.write(b'x')
    finally:
        os.umask(mask)
    mode = os.stat(tmp_path / 'model.pth').st_mode & 0o777
    assert mode == os.stat(tmp_path / 'plain.pth').st_mode & 0o777 == 0o644
