"""Mixed-precision training on every device torch autocasts on, CUDA and the CPU."""
from contextlib import contextmanager
from typing import Optional, Union

import torch
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS
from torch import nn


@OPTIM_WRAPPERS.register_module()
class AutocastOptimWrapper(AmpOptimWrapper):
    """MMEngine's ``AmpOptimWrapper`` that also runs where there is no accelerator.

    On CUDA it is ``AmpOptimWrapper``. MMEngine's refuses to start without an accelerator
    and its autocast allows only bf16 on the CPU; torch autocasts to fp16 and bf16 on the
    CPU and scales fp16 losses there too, so this wrapper uses torch's own autocast and
    ``GradScaler`` for the device. That lets CI run the fp16 path (loss scaling, skipped
    steps) that GPU users train with.

    Args:
        loss_scale: ``'dynamic'``, a fixed scale, or ``GradScaler`` keywords.
        dtype: ``'float16'`` or ``'bfloat16'`` (None: the device's autocast default).
        **kwargs: ``OptimWrapper``'s arguments.
    """

    def __init__(self, loss_scale: Union[str, float, dict] = 'dynamic',
                 dtype: Optional[Union[str, torch.dtype]] = None, **kwargs) -> None:
        self.device_type = 'cuda' if torch.cuda.is_available() else 'cpu'
        if self.device_type == 'cuda':
            super().__init__(loss_scale=loss_scale, dtype=dtype, **kwargs)
            return
        OptimWrapper.__init__(self, **kwargs)  # AmpOptimWrapper asserts an accelerator
        self._scale_update_param = None
        if loss_scale == 'dynamic':
            self.loss_scaler = torch.amp.GradScaler('cpu')
        elif isinstance(loss_scale, float):
            self._scale_update_param = loss_scale
            self.loss_scaler = torch.amp.GradScaler('cpu', init_scale=loss_scale)
        elif isinstance(loss_scale, dict):
            self.loss_scaler = torch.amp.GradScaler('cpu', **loss_scale)
        else:
            raise TypeError(f'loss_scale must be "dynamic", a float or a dict of '
                            f'GradScaler keywords, got {loss_scale!r}.')
        if isinstance(dtype, str):
            if dtype not in self.valid_dtypes:
                raise ValueError(f'dtype must be one of {self.valid_dtypes}, got {dtype!r}.')
            dtype = getattr(torch, dtype)
        self.cast_dtype = dtype

    @contextmanager
    def optim_context(self, model: nn.Module):
        """Gradient-accumulation context plus torch's autocast on this device."""
        if self.device_type == 'cuda':
            with super().optim_context(model):
                yield
            return
        with OptimWrapper.optim_context(self, model), \
                torch.autocast('cpu', dtype=self.cast_dtype or torch.bfloat16):
            yield
