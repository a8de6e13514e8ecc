"""mmseg-expres: EXPRES prompt tuning for frozen ViTs in MMSegmentation 1.x.

Importing the package lets ``torch.load(weights_only=True)`` read MMEngine checkpoints.
Importing ``mmseg_expres.models`` (configs do it through ``custom_imports``) also checks
mmcv and registers the models.
"""
from .utils.safe_load import allow_mmengine_checkpoints
from .version import __version__

allow_mmengine_checkpoints()

__all__ = ['__version__']
