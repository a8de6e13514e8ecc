"""Few-shot semantic segmentation (PASCAL-5i, COCO-20i): folds, episodes, the data set."""
from .dataset import EpisodeBinaryMask, FewShotSegDataset

__all__ = ['EpisodeBinaryMask', 'FewShotSegDataset']
