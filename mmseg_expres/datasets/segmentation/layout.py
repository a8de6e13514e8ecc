"""Check a segmentation data set's folder layout before training starts.

mmseg finds no images in a wrong layout and fails much later (an empty data set, or a
``KeyError`` in a worker); this check names the folder that is missing or unpaired and
shows the layout the config expects.
"""
import inspect
import os
import os.path as osp
from typing import Iterable, List

from mmengine.config import Config


class DatasetLayoutError(FileNotFoundError):
    """The data set on disk does not have the layout its config expects."""


def _suffix_default(dataset_type: str, name: str) -> str:
    from mmseg.registry import DATASETS
    cls = DATASETS.get(dataset_type)
    # a data set may pass the argument on to its base through **kwargs (Cityscapes and
    # reduce_zero_label): the first class in the MRO that names it gives the default
    for klass in (cls.__mro__ if cls else ()):
        parameter = inspect.signature(klass.__init__).parameters.get(name)
        if parameter is not None:
            return parameter.default
    return None


def _files(folder: str, suffix: str) -> List[str]:
    found = []
    for root, _, names in os.walk(folder, followlinks=True):
        found += [osp.relpath(osp.join(root, n), folder) for n in names if n.endswith(suffix)]
    return sorted(found)


def check_seg_layout(dataset: dict) -> None:
    """Raise :class:`DatasetLayoutError` if images or label maps are missing or unpaired.

    Args:
        dataset: a dataset config with ``type``, ``data_root`` and ``data_prefix``
            (``img_path``, ``seg_map_path``), as in mmseg's dataset bases.
    """
    root = dataset.get('data_root', '') or ''
    prefix = dataset.get('data_prefix', {})
    img_suffix = dataset.get('img_suffix') or _suffix_default(dataset['type'], 'img_suffix')
    seg_suffix = (dataset.get('seg_map_suffix') or
                  _suffix_default(dataset['type'], 'seg_map_suffix'))
    img_dir = osp.join(root, prefix.get('img_path', ''))
    seg_dir = osp.join(root, prefix.get('seg_map_path', ''))
    expected = (f'expected layout for {dataset["type"]}:\n'
                f'  {img_dir}/**/<name>{img_suffix}\n  {seg_dir}/**/<name>{seg_suffix}')
    for folder in (img_dir, seg_dir):
        if not osp.isdir(folder):
            raise DatasetLayoutError(f'Data folder {folder!r} does not exist; {expected}\n'
                                     'Set data_root in the config (or --cfg-options '
                                     'train_dataloader.dataset.data_root=...).')
    images = _files(img_dir, img_suffix)
    if not images:
        raise DatasetLayoutError(f'No *{img_suffix} images under {img_dir!r}; {expected}')
    labels = set(_files(seg_dir, seg_suffix))
    unpaired = [img for img in images
                if img[:-len(img_suffix)] + seg_suffix not in labels]
    if unpaired:
        raise DatasetLayoutError(
            f'{len(unpaired)} of {len(images)} images under {img_dir!r} have no label map '
            f'under {seg_dir!r}, e.g. {unpaired[:3]}; {expected}')


def check_config_datasets(cfg: Config, splits: Iterable[str]) -> None:
    """Check the layout of the segmentation data sets a run will read.

    Args:
        cfg: the run's config.
        splits: dataloader names, e.g. ``('train_dataloader', 'val_dataloader')``.
    """
    from mmseg.datasets import BaseSegDataset
    from mmseg.registry import DATASETS
    for split in splits:
        loader = cfg.get(split)
        dataset = loader.get('dataset') if loader else None
        cls = DATASETS.get(dataset['type']) if dataset and 'type' in dataset else None
        if cls is not None and issubclass(cls, BaseSegDataset) and not dataset.get('ann_file'):
            check_seg_layout(dataset)
