"""A Runner that sets the fold and shot of a few-shot segmentation config when it is built.

MMEngine applies ``--cfg-options`` after the config file has been evaluated, so
``fold=2`` alone would change a variable nothing reads any more. With
``runner_type = 'FewShotSegRunner'``

    python tools/test.py configs/fewshot/expres_vit-b_pascal5i.py CKPT --cfg-options fold=2 shot=5

tests fold 2 with 5 supports, and the dumped config in the work dir shows it.
"""
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.registry import RUNNERS

from ...datasets.fewshot_seg.splits import get_benchmark, novel_classes
from .list_benchmark import ListBenchmarkRunner

#: variable -> the dataset field it sets in every loader.
SHARED_FIELDS = (('benchmark', 'benchmark'), ('data_root', 'data_root'), ('fold', 'fold'),
                 ('coco_split', 'coco_split'), ('min_pixels', 'min_pixels'))
#: ... in the val and test loaders only: meta-training keeps ``train_shot``, so one
#: trained model per fold is tested with 1 and 5 shots.
TEST_FIELDS = (('shot', 'shot'), ('num_episodes', 'num_episodes'), ('episode_seed', 'seed'))


def apply_fold_and_shot(cfg: Config) -> None:
    """Write the data set's folders and the episode settings into the loaders.

    Every loader gets ``benchmark``, ``data_root``, ``fold``, ``coco_split`` and
    ``min_pixels``; the training loader ``train_data`` (``ann_file``, ``data_prefix``),
    the val and test loaders ``test_data``, ``shot``, ``num_episodes`` and
    ``episode_seed`` (as ``seed``).

    Raises:
        ValueError: fold out of range, or a shot that is not a positive integer.
    """
    novel = novel_classes(cfg.benchmark, cfg.fold, cfg.coco_split)  # checks the fold
    if not isinstance(cfg.shot, int) or cfg.shot < 1:
        raise ValueError(f'shot={cfg.shot!r}: use a positive integer, e.g. '
                         '--cfg-options shot=5.')
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(key)
        if not loader:
            continue
        fields = SHARED_FIELDS if key == 'train_dataloader' else SHARED_FIELDS + TEST_FIELDS
        loader.dataset.update({field: cfg[var] for var, field in fields})
        loader.dataset.update(cfg.train_data if key == 'train_dataloader' else cfg.test_data)
    names = get_benchmark(cfg.benchmark).classes
    print_log(f'{cfg.benchmark} fold {cfg.fold}, {cfg.shot}-shot test episodes; novel '
              f'classes {[names[c - 1] for c in novel]}', logger='current')


@RUNNERS.register_module()
class FewShotSegRunner(ListBenchmarkRunner):
    """MMEngine's Runner, after :func:`apply_fold_and_shot` has set fold and shot."""

    resolved_variables = ('fold', 'shot', 'data_root', 'coco_split', 'min_pixels',
                          'num_episodes', 'episode_seed', 'train_data', 'test_data')
    resolve = staticmethod(apply_fold_and_shot)
