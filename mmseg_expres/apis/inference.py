"""Building a model from one of this project's configs, with the libraries' own APIs."""
import copy
from typing import Optional, Union

from mmengine.config import Config
from torch import nn

from ..utils.checkpoint_files import check_checkpoint_file


def init_model(config: Union[str, Config], checkpoint: Optional[str] = None,
               device: str = 'cpu') -> nn.Module:
    """mmseg's ``init_model`` for segmentation configs, mmpretrain's for classification.

    The config's ``default_scope`` says which library it belongs to. ``config`` is not
    modified (both libraries' functions edit the config they are given). A checkpoint
    that is cut short, or does not fit the model (``models/task_loading.py``), is refused
    with a message that names it.
    """
    if checkpoint is not None:
        check_checkpoint_file(checkpoint)
    cfg = Config.fromfile(config) if isinstance(config, str) else copy.deepcopy(config)
    if cfg.get('default_scope', 'mmseg') == 'mmpretrain':
        from mmpretrain.apis import init_model as init_classifier
        return init_classifier(cfg, checkpoint, device)
    from mmseg.apis import init_model as init_segmentor
    return init_segmentor(cfg, checkpoint, device)
