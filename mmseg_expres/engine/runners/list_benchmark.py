"""What the VTAB-1k and few-shot runners share: pointing a classification config at lists.

MMEngine applies ``--cfg-options`` after the config file has been evaluated, so an
override of a benchmark variable (``task=dtd``, ``dataset=food101 shot=4``) could not
change the class count or the list files derived from it. A :class:`ListBenchmarkRunner`
re-derives them when it is built; the config dumped into the work dir shows the result.
"""
import os
import os.path as osp
from typing import Callable, Optional, Tuple

from mmengine.config import Config
from mmengine.runner import Runner

from ...datasets.lists.checks import examples, labels_outside, missing_images
from ...datasets.lists.files import read_list_file

#: dataloader key -> config key naming the split it reads.
LOADER_SPLITS = (('train_dataloader', 'train_split'), ('val_dataloader', 'val_split'),
                 ('test_dataloader', 'test_split'))


def set_num_classes(cfg: Config, num_classes: int) -> None:
    """Set the head's class count (and the top-level variable, and the preprocessor's).

    The top-level variable too, so the config dumped into the work dir is consistent; the
    data preprocessor's because batch augments (Mixup, CutMix) use it.
    """
    cfg.num_classes = cfg.model.head.num_classes = num_classes
    if cfg.model.get('data_preprocessor', {}).get('num_classes') is not None:
        cfg.model.data_preprocessor.num_classes = num_classes


def point_loaders(cfg: Config, data_root: str, list_path: Callable[[str, str], str],
                  image_dir: Optional[str] = None, check_hint: str = '') -> None:
    """Point every dataloader of ``cfg`` at its list file and check the images exist.

    For each dataloader, ``list_path(split_key, split)`` gives the list file of the split
    that ``cfg[split_key]`` names (it raises on a bad split or a missing file). The loader
    then reads ``data_root`` with that ``ann_file``; ``batch_size`` comes from
    ``cfg.batch_size`` unless the loader sets its own. Every list must be well formed,
    with labels in ``[0, model.head.num_classes)``: mmpretrain would otherwise fail at
    the first step, or, with a label that fits a larger head, train on it silently.

    Args:
        cfg: the config, changed in place.
        data_root: the data set's folder.
        list_path: ``(split_key, split) -> path of the list file``.
        image_dir: the folder inside ``data_root`` that list paths are relative to (the
            dataset's ``data_prefix``); None leaves the config's.
        check_hint: the checker command to name when images are missing.

    Raises:
        FileNotFoundError: a listed image is missing.
        ValueError: a malformed line, or a label outside the head's classes.
    """
    for loader_key, split_key in LOADER_SPLITS:
        loader = cfg.get(loader_key)
        if not loader:
            continue  # e.g. test-only configs
        path = list_path(split_key, cfg[split_key])
        loader.dataset.data_root = data_root
        loader.dataset.ann_file = osp.relpath(path, data_root)
        if image_dir is not None:
            loader.dataset.data_prefix = image_dir
        loader.setdefault('batch_size', cfg.batch_size)
        # A missing image would otherwise stop the run at its first epoch or evaluation.
        prefix = loader.dataset.get('data_prefix', '')
        prefix = prefix.get('img_path', '') if isinstance(prefix, dict) else prefix
        folder = osp.join(data_root, prefix) if prefix else data_root
        entries, malformed = read_list_file(path)
        classes = cfg.model.head.num_classes
        bad = malformed + labels_outside(path, entries, classes, f'a {classes}-class head')
        if bad:
            raise ValueError('; '.join(bad) + '. Is the class count right (for a data set '
                             f'of your own, custom_num_classes)? Check the folder: {check_hint}')
        missing = missing_images(folder, (e.path for e in entries))
        if missing:
            raise FileNotFoundError(
                f'{path} lists {len(missing)} image(s) missing under {folder}: '
                f'{examples(missing)}. Check the folder: {check_hint}')


def check_batch_fits(cfg: Config) -> Tuple[int, int]:
    """Refuse a training list smaller than one batch when the loader drops the last batch.

    With ``drop_last`` such a list gives epochs without a single step, and the run would
    "train" without changing anything.

    Returns:
        The training list's lines and the per-GPU batch size.
    """
    loader = cfg.train_dataloader
    path = osp.join(loader.dataset.data_root, loader.dataset.ann_file)
    lines = len(read_list_file(path)[0])
    world = int(os.environ.get('WORLD_SIZE', 1))
    if loader.get('drop_last') and lines < loader.batch_size * world:
        raise ValueError(
            f'{path} has {lines} images, fewer than one batch ({loader.batch_size} per GPU x '
            f'{world} GPU(s)), and the training loader drops incomplete batches, so no step '
            f'would ever run. Set a smaller batch (--cfg-options batch_size=N) or '
            'train_dataloader.drop_last=False.')
    return lines, loader.batch_size


class ListBenchmarkRunner(Runner):
    """MMEngine's Runner, after the benchmark's :meth:`resolve` has filled the config."""

    #: The config variables ``resolve`` reads (``--cfg-options`` may set them).
    resolved_variables: Tuple[str, ...] = ()

    @staticmethod
    def resolve(cfg: Config) -> None:
        """Fill the task-dependent fields of ``cfg`` from its variables."""
        raise NotImplementedError

    #: The part of :meth:`resolve` that the model needs (class counts), without reading
    #: the data set: what ``mmseg_expres.apis.init_model`` runs. None: all of ``resolve``.
    resolve_model: Optional[Callable[[Config], None]] = None

    @classmethod
    def from_cfg(cls, cfg: Config) -> Runner:
        """Resolve the benchmark's fields of ``cfg``, then build as ``Runner`` does."""
        cls.resolve(cfg)
        return super().from_cfg(cfg)
