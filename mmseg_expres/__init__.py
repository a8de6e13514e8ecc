"""mmseg-expres: EXPRES prompt tuning for frozen ViTs in MMSegmentation 1.x.

Importing the package lets ``torch.load(weights_only=True)`` read MMEngine checkpoints
and lets configs anywhere inherit ours as ``mmseg_expres::expres/<name>.py``.
Importing ``mmseg_expres.models`` (configs do it through ``custom_imports``) also checks
mmcv and registers the models.
"""
import warnings

# mmengine 0.10.7 imports pkg_resources, which setuptools (< 81, pinned for the mmcv build)
# flags as deprecated on every import; the warning is not actionable for users.
warnings.filterwarnings('ignore', message='pkg_resources is deprecated')

from .utils.config_scope import register_config_scope  # noqa: E402
from .utils.safe_load import allow_mmengine_checkpoints  # noqa: E402
from .version import __version__  # noqa: E402

allow_mmengine_checkpoints()
register_config_scope()

__all__ = ['__version__']
