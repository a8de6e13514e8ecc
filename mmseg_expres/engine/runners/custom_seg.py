"""A Runner that points a segmentation config at the user's own data set when built.

MMEngine evaluates a config file before ``--cfg-options`` and before a leaf config's
own lines reach its bases, so the class count cannot be computed in the file from a
``classes`` that the user sets afterwards. With ``runner_type = 'CustomSegRunner'``
(configs/_base_/datasets/expres_custom.py)

    python tools/train.py configs/expres/expres_vit-b16_upernet_8xb2-80k_custom-512x512.py \
        --cfg-options data_root=data/my_set classes=data/my_set/classes.txt

trains with heads of ``len(classes)`` outputs, and the config dumped into the work dir
says what ran: every derived field, without the template's variables that the run never
read (its ``max_iters``, ``dataset_type``, ...), which would contradict them.
"""
import copy
import os.path as osp

from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.dist import master_only
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
    # every checked loader, also in the pipeline variables (mmseg's inference_model
    # reads test_pipeline), so that no field keeps the template's class count
    for step in [step for key in cfg for step in _checked_loaders(cfg[key])]:
        step.update(num_classes=len(names), reduce_zero_label=cfg.reduce_zero_label)
    for _, head in head_configs(cfg.model):
        head.num_classes = len(names)
    check_class_counts(cfg)
    print_log(f'Custom data set {cfg.data_root}: {len(names)} classes {names}, '
              f'reduce_zero_label={cfg.reduce_zero_label}; splits train={cfg.train_split}, '
              f'val={cfg.val_split}, test={cfg.test_split}', logger='current')


def _checked_loaders(node) -> list:
    """Every ``CheckedLoadAnnotations`` step config under ``node``."""
    if isinstance(node, dict):
        found = [node] if node.get('type') == 'CheckedLoadAnnotations' else []
        return found + [step for value in node.values() for step in _checked_loaders(value)]
    if isinstance(node, (list, tuple)):
        return [step for value in node for step in _checked_loaders(value)]
    return []


#: Top-level keys the dump keeps beside those the runner and the tools read: the class
#: count that :func:`apply_custom_dataset` writes, and the pipeline that mmseg's
#: ``inference_model`` reads.
KEPT_IN_DUMP = ('num_classes', 'test_pipeline')


def dump_header(runner: str, num_classes: int, dropped) -> str:
    """The comment that opens the dumped config: what it is, and what it leaves out."""
    import textwrap
    text = (f'The config of this run as it ran ({runner}): the data set, its {num_classes} '
            'classes and every head and loader derived from data_root and classes. '
            'Variables of the config files that the run never read are left out ('
            + (', '.join(dropped) or 'none') + '); their values are in the fields they '
            'were used for (train_cfg, param_scheduler, model, ...).')
    return textwrap.fill(text, 88, initial_indent='# ', subsequent_indent='# ') + '\n'


def config_that_ran(cfg: Config) -> tuple:
    """(a copy of ``cfg`` without the file variables nothing reads, their names).

    MMEngine evaluates a config file's variables (``max_iters``, ``dataset_type``,
    ``load_annotations``, ...) while reading it; the runner reads only its fields. A
    leaf config that sets ``train_cfg.max_iters`` leaves its template's ``max_iters``
    variable as it was, so a dump with the variables would contradict what ran.
    """
    from ...apis.runner_setup import runner_fields
    kept = (runner_fields(cfg) | set(CustomSegRunner.resolved_variables)
            | set(KEPT_IN_DUMP))
    ran = copy.deepcopy(cfg)
    dropped = [key for key in cfg if key not in kept]
    for key in dropped:
        ran.pop(key)
    return ran, dropped


@RUNNERS.register_module()
class CustomSegRunner(ListBenchmarkRunner):
    """MMEngine's Runner, after :func:`apply_custom_dataset` has resolved the data set;
    the config it dumps into the work dir is :func:`config_that_ran`."""

    resolved_variables = ('data_root', 'classes', *CUSTOM_DEFAULTS)
    resolve = staticmethod(apply_custom_dataset)

    @master_only
    def dump_config(self) -> None:
        ran, dropped = config_that_ran(self.cfg)
        name = osp.basename(self.cfg.filename) if self.cfg.filename else f'{self.timestamp}.py'
        with open(osp.join(self.work_dir, name), 'w', encoding='utf-8') as f:
            f.write(dump_header(type(self).__name__, ran.get('num_classes'), dropped))
            f.write(ran.pretty_text)
