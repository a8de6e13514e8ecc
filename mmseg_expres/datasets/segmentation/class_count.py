"""One class count per segmentation config: data sets, checked loaders and heads agree.

mmseg trains a head of 5 outputs on a 4-class data set without a word (the extra class
is never a target and its IoU is NaN); a loader that checks labels against another
count than the head lets bad labels through. :func:`check_class_counts` stops such a
config before anything is built, naming both numbers and the field to change.
"""
from typing import Iterable, List, Optional, Tuple

from mmengine.config import Config, ConfigDict

LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


class ClassCountError(ValueError):
    """Parts of a segmentation config disagree on the number of classes."""


def head_configs(model: ConfigDict) -> List[Tuple[str, ConfigDict]]:
    """``(field, head config)`` for the decode head and every auxiliary head."""
    heads = []
    for key in ('decode_head', 'auxiliary_head'):
        value = model.get(key)
        if isinstance(value, dict):
            heads.append((f'model.{key}', value))
        elif isinstance(value, (list, tuple)):
            heads += [(f'model.{key}[{i}]', h) for i, h in enumerate(value)]
    return heads


def dataset_class_count(dataset: dict) -> Optional[int]:
    """The classes a data set config names (its ``metainfo``, else its type's), or None."""
    classes = (dataset.get('metainfo') or {}).get('classes')
    if classes is None:
        from mmseg.registry import DATASETS
        cls = DATASETS.get(dataset.get('type', ''))
        classes = getattr(cls, 'METAINFO', {}).get('classes')
    return len(classes) if classes else None


def _counts(cfg: Config, loaders: Iterable[str]) -> Tuple[list, list]:
    data, others = [], []
    for key in loaders:
        dataset = (cfg.get(key) or {}).get('dataset')
        if not isinstance(dataset, dict):
            continue
        count = dataset_class_count(dataset)
        if count is not None:
            data.append((f'{key}.dataset.metainfo.classes', count))
        for i, step in enumerate(dataset.get('pipeline') or []):
            if step.get('type') == 'CheckedLoadAnnotations':
                others.append((f'{key}.dataset.pipeline[{i}].num_classes',
                               step.get('num_classes')))
    others += [(f'{name}.num_classes', head.get('num_classes'))
               for name, head in head_configs(cfg.get('model') or {})]
    return data, others


def check_class_counts(cfg: Config, loaders: Iterable[str] = LOADERS) -> None:
    """Raise :class:`ClassCountError` unless data sets, loaders and heads agree.

    The data set's classes are the reference: a head or checked loader that differs is
    the field to change; data sets that differ among themselves are named together.
    Configs without a segmentation head (classification, few-shot) pass.
    """
    if not head_configs(cfg.get('model') or {}):
        return
    data, others = _counts(cfg, loaders)
    if len({n for _, n in data}) > 1:
        raise ClassCountError(
            'The data sets disagree on the number of classes: '
            + ', '.join(f'{f} has {n}' for f, n in data)
            + '. Give every loader the same metainfo classes (or, for the custom-data '
            'configs, one `classes`).')
    if not data:
        return
    reference_field, reference = data[0]
    wrong = [(f, n) for f, n in others if n != reference]
    if wrong:
        raise ClassCountError(
            f'The data set has {reference} classes ({reference_field}), but '
            + ', '.join(f'{f} is {n}' for f, n in wrong)
            + f'. Set {" and ".join(f"{f}={reference}" for f, _ in wrong)}'
            + ', or change the data set\'s classes if they are what is wrong.')
