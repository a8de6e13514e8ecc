"""Evaluators registered in mmseg's ``METRICS`` registry."""
from .fewshot_seg_metric import FewShotSegMetric, episode_areas, fewshot_scores

__all__ = ['FewShotSegMetric', 'episode_areas', 'fewshot_scores']
