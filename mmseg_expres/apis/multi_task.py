"""Many task checkpoints on one frozen ViT, and batches that mix their samples.

:func:`init_multi_task` builds the frozen ViT once and every task's model around it: each
task is a whole segmentor (or classifier) as :func:`~.inference.init_model` builds it,
whose backbone holds the shared ViT object (``models.backbones.frozen_vit.sharing_vit``),
so a task costs its checkpoint's tensors (prompts, neck, heads, BN statistics), not a
second ViT. Its ``task(name)`` runs alone as ``init_model``'s model would;
:meth:`MultiTaskModel.predict` answers a batch whose samples belong to different tasks in
one backbone pass (``models/multi_task_batch.py``), then each task's neck and head on its
own samples.

EXPRES, VPT and LoRA (the baseline) task checkpoints load so. A LoRA task's A and B go
into the shared ViT's peft layers as an adapter named after the task (its checkpoint's
``default`` adapter, renamed on loading); mixed batches run through peft's
``adapter_names=``, and ``task(name)`` runs its own adapter alone.
"""
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch
from mmengine.config import Config
from torch import nn

from ..models.backbones.frozen_vit import FrozenViTBackbone, sharing_vit, tuning_method
from ..models.backbones.lora import ADAPTER_NAME, delete_lora_adapter, lora_adapters
from ..models.backbones.vit_weights import CheckpointMismatchError
from ..models.multi_task_batch import check_mixable, mixed_task_forward
from .inference import init_model, read_checkpoint
from .runner_setup import load_checked_config

#: A task: its checkpoint (on the shared config), or (its own config, its checkpoint)
#: for a task trained with another head or class count on the same ViT and method.
TaskSource = Union[str, Tuple[Union[str, Config], str]]
FINGERPRINT_KEY = 'backbone.frozen_fingerprint_buffer'


def task_pairs(tasks: Union[Mapping[str, TaskSource], Sequence[Tuple[str, TaskSource]]]
               ) -> List[Tuple[str, TaskSource]]:
    """``tasks`` as (name, source) pairs; a name given twice or empty is refused."""
    pairs = list(tasks.items()) if isinstance(tasks, Mapping) else list(tasks)
    if not pairs:
        raise ValueError('No tasks given: name at least one, e.g. {"ade": "ade_task.pth"}.')
    seen = set()
    for name, _ in pairs:
        if not isinstance(name, str) or not name or '/' in name:
            raise ValueError(f'Task name {name!r}: give a non-empty name without "/" (it '
                             'names the output folder).')
        if name in seen:
            raise ValueError(f'Task name {name!r} is given twice: give each task checkpoint '
                             'its own name (e.g. ade=A.pth city=B.pth).')
        seen.add(name)
    return pairs


def _backbone_cfg(cfg: Config) -> dict:
    backbone = cfg.model.get('backbone')
    return backbone.to_dict() if hasattr(backbone, 'to_dict') else dict(backbone or {})


def _differences(ours: dict, theirs: dict) -> List[str]:
    keys = sorted(set(ours) | set(theirs))
    return [f'{k}={theirs.get(k)!r} (shared: {ours.get(k)!r})' for k in keys
            if ours.get(k) != theirs.get(k)]


def check_task_checkpoint(name: str, checkpoint: str, host: FrozenViTBackbone,
                          cfg: Config, host_cfg: Config) -> None:
    """Refuse, before any weight is copied, a task that cannot sit on ``host``'s ViT:
    another backbone config, another tuning method, another frozen ViT (fingerprint),
    or a checkpoint that brings its own ViT."""
    differences = _differences(_backbone_cfg(host_cfg), _backbone_cfg(cfg))
    if differences:
        raise CheckpointMismatchError(
            f'Task {name!r}: its config builds another backbone than the shared one: '
            f'{"; ".join(differences)}. Tasks on one ViT need the same backbone config '
            '(ViT, method, prompts, outputs); load this task on its own (init_model).')
    state_dict, _ = read_checkpoint(checkpoint)
    theirs, ours = tuning_method(state_dict, 'backbone.'), tuning_method(host.state_dict(), '')
    if theirs[0] != ours[0]:
        raise CheckpointMismatchError(
            f'Task {name!r} ({checkpoint}) was trained with {theirs[0]} (e.g. '
            f'backbone.{theirs[1]}), the shared backbone is {type(host).__name__} with '
            f'{ours[0]}: every task of one ViT needs the same method; load it with its own '
            'config (init_model).')
    if FINGERPRINT_KEY not in state_dict:
        raise CheckpointMismatchError(
            f'Task {name!r} ({checkpoint}) holds no {FINGERPRINT_KEY}: it is not a task '
            'checkpoint of a frozen-ViT model. Give the checkpoint its training wrote.')
    expected = bytes(state_dict[FINGERPRINT_KEY].tolist()).hex()
    actual = bytes(host.frozen_fingerprint_buffer.tolist()).hex()
    if expected != actual:
        raise CheckpointMismatchError(
            f'Task {name!r} ({checkpoint}) was trained on a frozen ViT with fingerprint '
            f'{expected}, the shared ViT ({host.arch}, pretrained from the config) has '
            f'{actual}: set model.backbone.pretrained to the file the task was trained on, '
            'or load it on its own (init_model).')
    tuned = {f'backbone.vit.{k}' for k in host.trainable_vit_keys()}
    own_vit = [k for k in state_dict if k.startswith('backbone.vit.') and k not in tuned]
    if own_vit:
        raise CheckpointMismatchError(
            f'Task {name!r} ({checkpoint}) brings its own ViT ({len(own_vit)} tensors, e.g. '
            f'{own_vit[0]}): give its task checkpoint (without the frozen ViT), which the '
            'shared ViT serves.')


class MultiTaskModel(nn.Module):
    """Task models (segmentors or classifiers) on one shared frozen ViT.

    Attributes:
        tasks: name -> the task's whole model; ``task(name)`` runs alone as
            ``init_model``'s model would (its ``predict``, ``test_step``, the tools).
    """

    def __init__(self, models: Mapping[str, nn.Module]) -> None:
        super().__init__()
        self.tasks = nn.ModuleDict(models)
        names = list(models)
        check_mixable([m.backbone for m in models.values()], names)

    @property
    def names(self) -> List[str]:
        return list(self.tasks)

    @property
    def vit(self) -> nn.Module:
        """The one frozen ViT that every task's backbone holds."""
        return next(iter(self.tasks.values())).backbone.vit

    def task(self, name: str) -> nn.Module:
        """The model of task ``name``; an unknown name is refused with the known ones."""
        if name not in self.tasks:
            raise ValueError(f'Unknown task {name!r}: the loaded tasks are '
                           f'{", ".join(self.names)}. Load it too '
                           '(init_multi_task(config, {..., name: checkpoint})) or fix the '
                           'name.')
        return self.tasks[name]

    def check_same_input(self, names: Sequence[str]) -> None:
        """Tasks of one batch must prepare their images alike (size, normalisation)."""
        first = names[0]
        for name in names[1:]:
            for part in ('data_preprocessor', 'test_pipeline'):
                ours, theirs = input_setting(self.task(first), part), \
                    input_setting(self.task(name), part)
                if ours != theirs:
                    raise ValueError(
                        f'Tasks {first!r} and {name!r} prepare their inputs differently '
                        f'({part}: {ours} against {theirs}), so their images cannot share '
                        'a batch: give them separate batches (one call per group of tasks '
                        'with the same input size and normalisation).')

    @torch.no_grad()
    def predict(self, inputs: torch.Tensor, tasks: Sequence[str],
                data_samples: Optional[list] = None) -> list:
        """Predictions of a batch whose sample ``i`` belongs to task ``tasks[i]``.

        Args:
            inputs: (B, 3, H, W), prepared as the tasks' data preprocessor prepares them
                (the tasks must agree on it: :meth:`check_same_input`).
            tasks: one task name per sample.
            data_samples: the samples' data samples (image metas), or None.

        Returns:
            One result per sample, in order, as its task's ``predict`` returns it alone
            (``SegDataSample`` with ``pred_sem_seg``, or mmpretrain's ``DataSample``).
        """
        if len(tasks) != inputs.shape[0]:
            raise ValueError(f'{len(tasks)} task names for {inputs.shape[0]} images: give '
                             'one task per image.')
        names = list(dict.fromkeys(tasks))
        models = [self.task(name) for name in names]
        self.check_same_input(names)
        sample_task = torch.tensor([names.index(t) for t in tasks], device=inputs.device)
        feats = mixed_task_forward([m.backbone for m in models], sample_task, inputs, names)
        results: list = [None] * len(tasks)
        for index, model in enumerate(models):
            rows = (sample_task == index).nonzero()[:, 0]
            samples = None if data_samples is None else [data_samples[i] for i in rows]
            out = predict_from_features(model, tuple(f[rows] for f in feats), inputs[rows],
                                        samples)
            for row, result in zip(rows.tolist(), out):
                results[row] = result
        return results


def input_setting(model: nn.Module, part: str):
    """The config of how ``model`` prepares its inputs (its data preprocessor or test
    pipeline), for comparing tasks. The test pipeline's annotation loaders are left out:
    images given to predict have no label map (they pass through), so tasks of data sets
    with other classes or label offsets still share a batch."""
    cfg = getattr(model, 'cfg', None) or getattr(model, '_config', None)
    if cfg is None:
        return None
    value = cfg.model.get('data_preprocessor') if part == 'data_preprocessor' \
        else cfg.get('test_pipeline')
    value = value.to_dict() if hasattr(value, 'to_dict') else value
    if part == 'test_pipeline' and value is not None:
        value = [t for t in value if not str(t.get('type', '')).endswith('LoadAnnotations')]
    return value


def predict_from_features(model: nn.Module, feats: tuple, inputs: torch.Tensor,
                          data_samples: Optional[list]) -> list:
    """What ``model.predict(inputs, data_samples)`` returns, from its backbone's outputs.

    mmseg's ``EncoderDecoder.predict`` in whole mode (neck, decode head, resize), and
    mmpretrain's ``ImageClassifier.predict`` (neck, head).
    """
    x = model.neck(feats) if getattr(model, 'with_neck', False) else feats
    if hasattr(model, 'decode_head'):
        if model.test_cfg.get('mode', 'whole') != 'whole':
            raise ValueError(f"test_cfg mode={model.test_cfg.mode!r}: mixed batches run "
                             "each task's head on the whole image (mode='whole'); run a "
                             'sliding-window task in batches of its own (task(name)).')
        shape = inputs.shape[2:]
        metas = [s.metainfo for s in data_samples] if data_samples is not None else [
            dict(ori_shape=shape, img_shape=shape, pad_shape=shape,
                 padding_size=[0, 0, 0, 0])] * inputs.shape[0]
        logits = model.decode_head.predict(x, metas, model.test_cfg)
        return model.postprocess_result(logits, data_samples)
    return model.head.predict(x, data_samples)


def init_multi_task(config: Union[str, Config],
                    tasks: Union[Mapping[str, TaskSource], Sequence[Tuple[str, TaskSource]]],
                    device: str = 'cpu',
                    cfg_options: Optional[Mapping] = None) -> MultiTaskModel:
    """Build the frozen ViT of ``config`` once and every task's model on it.

    Args:
        config: the config the tasks were trained with (its ``pretrained`` ViT is the
            shared one).
        tasks: name -> task checkpoint, or name -> (config, checkpoint) for a task of
            another head or class count on the same backbone config; pairs are accepted
            too (a name given twice is refused).
        device, cfg_options: as :func:`~.inference.init_model`'s.

    Raises:
        ValueError: a task name given twice or empty; AdaptFormer or SSF tasks (they
            change the ViT's modules: one ViT per task).
        CheckpointMismatchError: a task of another backbone config, tuning method or
            frozen ViT (fingerprint), or a checkpoint with its own ViT, named, before any
            task weight is copied; then each task loads strictly (``task_loading.py``).
    """
    pairs = task_pairs(tasks)
    host_cfg = load_checked_config(config, cfg_options, data=False)
    # the shared ViT, as the config builds it, and what each task must match
    host = init_model(config, None, device, cfg_options)
    if not isinstance(getattr(host, 'backbone', None), FrozenViTBackbone):
        raise ValueError('init_multi_task needs a model whose backbone is a frozen-ViT '
                         f'backbone; the config builds {type(host).__name__}.')
    sources: Dict[str, Tuple[Union[str, Config], str]] = {}
    for name, source in pairs:
        task_config, checkpoint = source if isinstance(source, tuple) else (config, source)
        task_cfg = host_cfg if task_config is config else \
            load_checked_config(task_config, cfg_options, data=False)
        check_task_checkpoint(name, checkpoint, host.backbone, task_cfg, host_cfg)
        sources[name] = (task_config, checkpoint)
    vit = host.backbone.vit
    del host
    if ADAPTER_NAME in lora_adapters(vit):
        delete_lora_adapter(vit, ADAPTER_NAME)  # the config's untrained LoRA; tasks add theirs
    models = {}
    for name, (task_config, checkpoint) in sources.items():
        with sharing_vit(vit, name):
            models[name] = init_model(task_config, checkpoint, device, cfg_options)
    return MultiTaskModel(models)


def inference_multi_task(model: MultiTaskModel, images: Sequence, tasks: Sequence[str]) -> list:
    """Segment images (paths or arrays) whose ``tasks[i]`` says which task answers each,
    in one batch: each image through its task's test pipeline, the batch through the
    tasks' (shared) data preprocessor and :meth:`MultiTaskModel.predict`.

    Returns:
        One ``SegDataSample`` per image, as mmseg's ``inference_model`` gives it.
    """
    from mmseg.apis.utils import _preprare_data
    if len(images) != len(tasks):
        raise ValueError(f'{len(tasks)} task names for {len(images)} images: give one task '
                         'per image.')
    names = list(dict.fromkeys(tasks))
    for name in names:
        model.task(name)  # an unknown name is refused before any image is read
    model.check_same_input(names)
    batch: Dict[str, list] = {'inputs': [], 'data_samples': []}
    for image, name in zip(images, tasks):
        data, _ = _preprare_data([image], model.task(name))
        batch['inputs'] += data['inputs']
        batch['data_samples'] += data['data_samples']
    data = model.task(names[0]).data_preprocessor(batch, False)
    return model.predict(data['inputs'], tasks, data['data_samples'])
