"""Let ``torch.load(weights_only=True)`` read MMEngine checkpoints.

Since torch 2.6 ``torch.load`` defaults to ``weights_only=True``, and MMEngine's
checkpoints carry a ``message_hub`` whose ``HistoryBuffer`` objects hold numpy arrays,
so ``--resume``, ``tools/test.py``, ``init_model`` and ``MMSegInferencer`` all fail. We
keep ``weights_only`` on and allow-list exactly the few plain-data types involved.

One more obstacle: ``HistoryBuffer.__getstate__`` pickles its statistics functions as
``getattr(HistoryBuffer, 'min')``, and allowing ``getattr`` would open the sandbox. The
functions are class-level and re-registered by ``HistoryBuffer.__init__``, so we pickle a
buffer as a plain constructor call with its arrays instead (a ``copyreg`` reducer, which
also serves ``copy.deepcopy``).
"""
import copyreg
from typing import List, Tuple

import numpy as np
import torch

_NUMERIC_DTYPES = ('bool', 'int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32',
                   'uint64', 'float16', 'float32', 'float64', 'complex64', 'complex128')


def _numpy_globals() -> List[object]:
    multiarray = np._core.multiarray if hasattr(np, '_core') else np.core.multiarray
    globals_ = [np.ndarray, np.dtype]
    globals_ += [type(np.dtype(name)) for name in _NUMERIC_DTYPES]
    # numpy 1.x pickles name ``numpy.core``, numpy 2.x ``numpy._core``: accept both.
    for func in ('_reconstruct', 'scalar'):
        obj = getattr(multiarray, func)
        globals_ += [(obj, f'numpy.core.multiarray.{func}'),
                     (obj, f'numpy._core.multiarray.{func}')]
    return globals_


def _reduce_history_buffer(buffer) -> Tuple[type, tuple]:
    """Pickle a ``HistoryBuffer`` as ``HistoryBuffer(log_history, count_history, max_length)``."""
    return type(buffer), (buffer._log_history.copy(), buffer._count_history.copy(),
                          buffer.max_length)


def allow_mmengine_checkpoints() -> None:
    """Allow-list MMEngine's ``HistoryBuffer`` and numpy arrays/scalars (idempotent)."""
    from mmengine.logging.history_buffer import HistoryBuffer
    copyreg.pickle(HistoryBuffer, _reduce_history_buffer)
    torch.serialization.add_safe_globals([HistoryBuffer] + _numpy_globals())
