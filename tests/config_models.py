"""What a config builds, as a small comparable record, for the before/after config test.

``tests/data/config_models.json`` holds the record of every shipped config as built
before the configs were restructured; ``test_configs.py`` rebuilds each config and
compares. The models are built at full size on the meta device (no memory, no weights),
so channel counts, depths and image sizes are compared as the user gets them.

Add the records of new configs (existing records are kept):

    python -m tests.config_models

``--all`` rewrites every record: only when a config's model is meant to change.
"""
import hashlib
import json
import os.path as osp
from collections import defaultdict
from typing import Dict

import torch
from mmengine.config import Config
from mmengine.registry import MODELS, DefaultScope

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
REFERENCE = osp.join(REPO, 'tests', 'data', 'config_models.json')


def build_on_meta(cfg: Config) -> torch.nn.Module:
    """The config's model, full size, on the meta device, without its pretrained file."""
    model_cfg = cfg.model.to_dict()
    model_cfg['backbone']['pretrained'] = None
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'mmseg')), \
            torch.device('meta'):
        return MODELS.build(model_cfg)


def model_record(model: torch.nn.Module) -> Dict[str, object]:
    """Parameter count, sizes and a digest of every (name, shape, trainable) triple.

    ``modules`` gives the numbers per top-level part (backbone, neck, heads), so a
    mismatch says where it is.
    """
    rows = sorted(f'{name}:{tuple(p.shape)}:{int(p.requires_grad)}'
                  for name, p in model.named_parameters())
    modules: Dict[str, Dict[str, int]] = defaultdict(lambda: dict(numel=0, trainable=0))
    for name, p in model.named_parameters():
        part = modules[name.split('.')[0]]
        part['numel'] += p.numel()
        part['trainable'] += p.numel() if p.requires_grad else 0
    return dict(
        type=type(model).__name__,
        backbone=type(getattr(model, 'backbone', None)).__name__,
        params=len(rows),
        numel=sum(m['numel'] for m in modules.values()),
        trainable=sum(m['trainable'] for m in modules.values()),
        modules=dict(sorted(modules.items())),
        digest=hashlib.sha256('\n'.join(rows).encode()).hexdigest()[:16])


def config_record(path: str) -> Dict[str, object]:
    return model_record(build_on_meta(Config.fromfile(path)))


def load_reference() -> Dict[str, Dict[str, object]]:
    with open(REFERENCE) as f:
        return json.load(f)


if __name__ == '__main__':
    import glob
    import sys
    records = {} if '--all' in sys.argv else load_reference()
    for path in sorted(glob.glob(osp.join(REPO, 'configs', '**', '*.py'), recursive=True)):
        name = osp.relpath(path, osp.join(REPO, 'configs'))
        if '_base_' not in path and name not in records:
            records[name] = config_record(path)
    with open(REFERENCE, 'w') as f:
        json.dump(records, f, indent=1, sort_keys=True)
        f.write('\n')
