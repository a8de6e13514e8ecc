"""MMEngine checkpoints load with torch.load(weights_only=True) once mmseg_expres is imported."""
import subprocess
import sys

import numpy as np
import torch


def _write_mmengine_like_checkpoint(path) -> None:
    from mmengine.logging import MessageHub
    hub = MessageHub.get_instance('test_safe_load')
    for step in range(3):
        hub.update_scalar('train/loss', float(step) * 0.5)
        hub.update_scalar('train/lr', np.float64(0.01))
    hub.update_info('iter', 3)
    checkpoint = {
        'meta': {'iter': 3, 'dataset_meta': {'classes': ('a', 'b'), 'palette': [[0, 0, 0]]}},
        'state_dict': {'w': torch.ones(2)},
        'message_hub': hub.state_dict(),
        'optimizer': {'state': {}, 'param_groups': [{'lr': 0.01, 'params': [0]}]},
    }
    torch.save(checkpoint, path)


def test_mmengine_checkpoint_loads_with_weights_only(tmp_path):
    import mmseg_expres  # noqa: F401  (installs the allow-list)
    from mmengine.logging.history_buffer import HistoryBuffer
    path = tmp_path / 'iter_3.pth'
    _write_mmengine_like_checkpoint(path)
    loaded = torch.load(path, weights_only=True)
    buffer = loaded['message_hub']['log_scalars']['train/loss']
    assert isinstance(buffer, HistoryBuffer)
    assert buffer.current() == 1.0 and buffer.mean() == 0.5
    assert loaded['meta']['dataset_meta']['classes'] == ('a', 'b')


def test_without_allow_list_torch_refuses(tmp_path):
    """The failure users hit with torch >= 2.6, reproduced in a clean interpreter."""
    path = tmp_path / 'iter_3.pth'
    _write_mmengine_like_checkpoint(path)
    code = f'import torch; torch.load({str(path)!r})'
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert result.returncode != 0
    assert 'HistoryBuffer' in result.stderr


def test_arbitrary_code_is_still_refused(tmp_path):
    import pickle

    import mmseg_expres  # noqa: F401
    import pytest

    class Evil:
        def __reduce__(self):
            return (print, ('pwned',))

    path = tmp_path / 'evil.pth'
    torch.save({'x': Evil()}, path, pickle_module=pickle)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, weights_only=True)
