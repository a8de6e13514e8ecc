"""A Runner that fills the task-dependent fields of a VTAB-1k config from ``task``.

MMEngine applies ``--cfg-options`` after the config file has been evaluated, so a plain
``task = 'dtd'`` override could not change the class count or the list files derived
from it. ``runner_type = 'VtabRunner'`` re-derives them when the runner is built, so

    python tools/train.py configs/expres/expres_vit-b16_1xb128-100e_vtab1k.py --cfg-options task=dtd

trains on DTD with a 47-way head, and the dumped config in the work dir shows it.
``batch_size`` likewise sets the batch size of every dataloader that does not set its
own (``--cfg-options train_dataloader.batch_size=...`` still wins).
"""
import os.path as osp

from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.registry import RUNNERS

from .list_benchmark import ListBenchmarkRunner, point_loaders, set_num_classes
from ...datasets.vtab.benchmark import SPLITS, get_task, list_file


def apply_vtab_task(cfg: Config) -> None:
    """Set head classes and each dataloader's folder and list file from ``cfg.task``.

    Reads ``task``, ``vtab_root``, ``train_split``/``val_split``/``test_split`` and
    ``batch_size`` from the top level of ``cfg`` and writes ``model.head.num_classes``
    (and ``num_classes``, ``model.data_preprocessor.num_classes``) and, per dataloader,
    ``dataset.data_root = <vtab_root>/<task>``, ``dataset.ann_file = <split>.txt`` and,
    unless the dataloader sets its own, ``batch_size``.

    Raises:
        KeyError: unknown task.
        ValueError: unknown split name.
        FileNotFoundError: a list file the config needs is missing, or an image it lists.
    """
    task = get_task(cfg.task)
    set_num_classes(cfg, task.num_classes)

    def split_list(split_key: str, split: str) -> str:
        if split not in SPLITS:
            raise ValueError(f'{split_key}={split!r} is not a VTAB-1k split; use one of '
                             f'{SPLITS}.')
        path = list_file(cfg.vtab_root, task.name, split)
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'{path} does not exist. Point vtab_root at the VTAB-1k folder that holds '
                f'one sub-folder per task (--cfg-options vtab_root=/path/to/vtab-1k) and '
                f'check it with `python tools/vtab/check_vtab.py /path/to/vtab-1k`.')
        return path

    data_root = osp.join(cfg.vtab_root, task.name)
    point_loaders(cfg, data_root, split_list, check_hint=(
        f'`python tools/vtab/check_vtab.py {cfg.vtab_root} --tasks {task.name}`.'))
    print_log(f'VTAB-1k task {task.name} ({task.group}, {task.num_classes} classes) from '
              f'{data_root}: train={cfg.train_split}, val={cfg.val_split}, '
              f'test={cfg.test_split}', logger='current')


def apply_vtab_class_count(cfg: Config) -> None:
    """The model's part of :func:`apply_vtab_task`: the head's classes from ``cfg.task``
    (no data set needed, for a model loaded to predict)."""
    set_num_classes(cfg, get_task(cfg.task).num_classes)


@RUNNERS.register_module()
class VtabRunner(ListBenchmarkRunner):
    """MMEngine's Runner, after :func:`apply_vtab_task` has resolved the task."""

    resolved_variables = ('task', 'vtab_root', 'train_split', 'val_split', 'test_split',
                          'batch_size')
    resolve = staticmethod(apply_vtab_task)
    resolve_model = staticmethod(apply_vtab_class_count)
