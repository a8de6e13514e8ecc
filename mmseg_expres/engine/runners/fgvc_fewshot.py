"""A Runner that fills a few-shot config's data fields from ``dataset``, ``shot``, ``seed``.

``runner_type = 'FewShotRunner'`` re-derives, when the runner is built, what
``--cfg-options`` could not change after the file was read (list_benchmark.py), so

    python tools/train.py configs/expres/expres_vit-b16_1xb64-100e_fgvc-fewshot.py \
        --cfg-options dataset=oxford-pets shot=4 seed=1

trains on the 4-shot list of seed 1 of Oxford-IIIT Pets with a 37-way head. ``seed``
picks the list; the training seed is ``randomness.seed``.
"""
import os.path as osp

from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.registry import RUNNERS

from ...datasets.fgvc_fewshot.benchmark import SPLITS, get_dataset, list_file, missing_list_message
from .list_benchmark import (ListBenchmarkRunner, check_batch_fits, point_loaders,
                             set_num_classes)


def apply_fewshot_split(cfg: Config) -> None:
    """Set head classes and each dataloader's folder and list file from the variables.

    Reads ``dataset``, ``custom_num_classes``, ``fewshot_root``, ``shot``, ``seed``, the
    three ``*_split`` variables and ``batch_size``; writes the class count (as
    :func:`~.list_benchmark.set_num_classes`) and, per dataloader, ``data_root =
    <fewshot_root>/<dataset>``, its list under ``annotations/``, the image folder and,
    unless the loader sets its own, ``batch_size``.

    Raises:
        KeyError: unknown data set (without ``custom_num_classes``).
        ValueError: unknown split; a training list smaller than one batch.
        FileNotFoundError: a list file is missing (the message names the shots and seeds
            that are there), or an image that a list names.
    """
    info = get_dataset(cfg.dataset, cfg.get('custom_num_classes'))
    set_num_classes(cfg, info.num_classes)

    def split_list(split_key: str, split: str) -> str:
        if split not in SPLITS:
            raise ValueError(f'{split_key}={split!r} is not a split of the few-shot '
                             f'benchmark; use one of {SPLITS} ("shots" is the K-shot list '
                             'of `shot` and `seed`).')
        path = list_file(cfg.fewshot_root, info.name, split, cfg.shot, cfg.seed)
        if not osp.isfile(path):
            raise FileNotFoundError(missing_list_message(
                cfg.fewshot_root, info.name, split, cfg.shot, cfg.seed))
        return path

    data_root = osp.join(cfg.fewshot_root, info.name)
    point_loaders(cfg, data_root, split_list, image_dir=info.image_dir, check_hint=(
        f'`python tools/fewshot/check_fewshot.py {cfg.fewshot_root} --datasets '
        f'{info.name}`.'))
    lines, batch = check_batch_fits(cfg)
    print_log(f'Few-shot data set {info.name} ({info.num_classes} classes) from {data_root}: '
              f'train={cfg.train_split} ({lines} images; shot {cfg.shot}, list seed '
              f'{cfg.seed}), val={cfg.val_split}, test={cfg.test_split}, batch {batch}',
              logger='current')


def apply_fewshot_class_count(cfg: Config) -> None:
    """The model's part of :func:`apply_fewshot_split`: the head's classes from
    ``dataset`` (or ``custom_num_classes``), no data set needed."""
    set_num_classes(cfg, get_dataset(cfg.dataset, cfg.get('custom_num_classes')).num_classes)


@RUNNERS.register_module()
class FewShotRunner(ListBenchmarkRunner):
    """MMEngine's Runner, after :func:`apply_fewshot_split` has resolved the data set."""

    resolved_variables = ('dataset', 'custom_num_classes', 'fewshot_root', 'shot', 'seed',
                          'train_split', 'val_split', 'test_split', 'batch_size')
    resolve = staticmethod(apply_fewshot_split)
    resolve_model = staticmethod(apply_fewshot_class_count)
