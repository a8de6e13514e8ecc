"""Configs find ExpresViT through custom_imports, as users' configs do."""
from mmengine.config import Config


def test_build_from_config_dict_after_custom_imports(tmp_path):
    from mmseg.registry import MODELS

    from .conftest import tiny_backbone_cfg
    cfg_file = tmp_path / 'cfg.py'
    cfg_file.write_text(
        "custom_imports = dict(imports=['mmseg_expres.models'], allow_failed_imports=False)\n"
        f"backbone = {tiny_backbone_cfg(num_tokens=2)!r}\n")
    cfg = Config.fromfile(str(cfg_file))
    backbone = MODELS.build(cfg.backbone)
    assert type(backbone).__name__ == 'ExpresViT'
    assert backbone.num_tokens == 2
