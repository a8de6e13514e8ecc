"""Make ``mmseg_expres::<path>`` a config scope that MMEngine resolves from any folder."""
import os.path as osp

SCOPE = 'mmseg_expres'
#: The module whose ``.mim/configs`` holds the configs. MMEngine asks pip's metadata for
#: a distribution of this name first and, finding none, imports it: the configs are then
#: those of the imported code, also for an editable install or a clone on PYTHONPATH
#: (a distribution name would point into site-packages there).
CONFIGS_MODULE = 'mmseg_expres.configs'


def register_config_scope() -> None:
    """Map the ``mmseg_expres`` config scope to this package's shipped configs."""
    from mmengine.config.utils import MODULE2PACKAGE
    MODULE2PACKAGE.setdefault(SCOPE, CONFIGS_MODULE)


def shipped_configs_dir() -> str:
    """The folder that ``mmseg_expres::<path>`` reads (``<path>`` is relative to it)."""
    from .. import configs
    return osp.join(osp.dirname(configs.__file__), '.mim', 'configs')
