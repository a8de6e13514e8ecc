"""A Runner that points a segmentation config at the user's own data set when built.

MMEngine evaluates a config file before ``--cfg-options`` and before a leaf config's
own lines reach its bases, so the class count cannot be computed in the file from a
``classes`` that the user sets afterwards. With ``runner_type = 'CustomSegRunner'``
(configs/_base_/datasets/expres_custom.py)

    python tools/train.py configs/expres/expres_vit-b16_upernet_8xb2-80k_custom-512x512.py \
        --cfg-options data_root=data/my_set classes=data/my_set/classes.txt

trains with heads of ``len(classes)`` outputs, and the config dumped into the work dir
shows every derived field.
"""
import os.path as osp

from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.registry import RUNNERS

from ...datasets.segmentation.classes import check_palette, read_classes
from ...datasets.segmentation.class_count import check_class_counts, head_configs
from .list_benchmark import LOADER_SPLITS, ListBenchmarkRunner

#: The optional variables of a custom-data config and their values when it sets none:
#: ADE20K's layout (images/ and annotations/, each with training/ and validation/).
CUSTOM_DEFAULTS = dict(palette=None, img_dir='images', ann_dir='annotations',
                       train_split='training', val_split='validation',
                       test_split='validation', img_suffix='.jpg', seg_map_suffix='.png',
                       reduce_zero_label=False)


def apply_custom_dataset(cfg: Config) -> None:
    """Write ``classes`` (names, count), ``palette`` and the folders into the config.

    Reads ``data_root``, ``classes`` and the variables of :data:`CUSTOM_DEFAULTS` (each
    top-level, its default when the config has none). Writes each
    loader's data set (folders, suffixes, metainfo, ``reduce_zero_label``), its checked
    loader's ``num_classes``, every head's ``num_classes`` and the top-level
    ``num_classes`` and ``classes`` (as a list, so the dumped config needs no file).

    Raises:
        FileNotFoundError, ValueError: ``classes`` or ``palette`` cannot be used
            (:mod:`~mmseg_expres.datasets.segmentation.classes`).
    """
    for name, default in CUSTOM_DEFAULTS.items():
        cfg.setdefault(name, default)
    names = read_classes(cfg.classes, cfg.data_root)
    palette = check_palette(cfg.palette, names)
    if not isinstance(cfg.reduce_zero_label, bool):
        raise ValueError(f'reduce_zero_label={cfg.reduce_zero_label!r}: use True (0 marks '
                         'unlabelled pixels, classes are 1..C) or False.')
    cfg.classes, cfg.num_classes = names, len(names)
    metainfo = dict(classes=tuple(names), **({'palette': palette} if palette else {}))
    for loader_key, split_key in LOADER_SPLITS:
        loader = cfg.get(loader_key)
        if not loader:
            continue
        split = cfg[split_key]
        loader.dataset.update(
            data_root=cfg.data_root, metainfo=metainfo, img_suffix=cfg.img_suffix,
            seg_map_suffix=cfg.seg_map_suffix, reduce_zero_label=cfg.reduce_zero_label,
            data_prefix=dict(img_path=osp.join(cfg.img_dir, split),
                             seg_map_path=osp.join(cfg.ann_dir, split)))
        for step in loader.dataset.get('pipeline', []):
            if step.get('type') == 'CheckedLoadAnnotations':
                step.update(num_classes=len(names), reduce_zero_label=cfg.reduce_zero_label)
    for _, head in head_configs(cfg.model):
        head.num_classes = len(names)
    check_class_counts(cfg)
    print_log(f'Custom data set {cfg.data_root}: {len(names)} classes {names}, '
              f'reduce_zero_label={cfg.reduce_zero_label}; splits train={cfg.train_split}, '
              f'val={cfg.val_split}, test={cfg.test_split}', logger='current')


@RUNNERS.register_module()
class CustomSegRunner(ListBenchmarkRunner):
    """MMEngine's Runner, after :func:`apply_custom_dataset` has resolved the data set."""

    resolved_variables = ('data_root', 'classes', *CUSTOM_DEFAULTS)
    resolve = staticmethod(apply_custom_dataset)
