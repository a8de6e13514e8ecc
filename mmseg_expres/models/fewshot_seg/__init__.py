"""Few-shot segmentation: a segmentor over episodes, its head and data preprocessor.

Registered in mmseg's ``MODELS`` when imported (the few-shot configs' ``custom_imports``).
"""
from .data_preprocessor import EpisodeDataPreProcessor
from .prototype_head import PrototypeMatchingHead, masked_average_pool
from .segmentor import FewShotSegmentor

__all__ = ['EpisodeDataPreProcessor', 'FewShotSegmentor', 'PrototypeMatchingHead',
           'masked_average_pool']
