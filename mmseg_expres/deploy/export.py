"""Export a segmentor to ONNX at one input size, with its parity measured on every export.

:func:`export_onnx` checks what can be exported (an mmseg ``EncoderDecoder``, a size
that is a multiple of the patch), traces :class:`~.graph.StaticSegmentor` with
``torch.export`` (naming the model part that cannot be traced), translates it with
torch's ONNX exporter (the dynamo path), stores :class:`~.runtime.DeployInfo` in the
file, runs it with onnxruntime against the PyTorch model (:mod:`.parity`), and only
then writes it to ``out`` (atomically): an interrupted or failed export leaves nothing.
"""
import traceback
import warnings
from typing import List, Optional, Sequence, Tuple

import numpy as np
from torch import nn

from ..utils.checkpoint_files import atomic_write
from .graph import StaticSegmentor, patch_sizes, vit_backbones
from .parity import Parity, measure
from .runtime import CLASSES, INPUT, LOGITS, DeployInfo, open_session

#: The ONNX opset the exporter writes (onnxruntime >= 1.14 runs it).
OPSET = 18


class ExportError(RuntimeError):
    """The model cannot be exported as it is; the message names the part and the fix."""


def check_exportable(model: nn.Module) -> None:
    """Refuse models the export does not cover, saying which."""
    from mmseg.models.segmentors import EncoderDecoder
    if not isinstance(model, EncoderDecoder):
        raise ExportError(
            f'The config builds a {type(model).__name__}; the ONNX export covers mmseg '
            'EncoderDecoder segmentors (EXPRES, VPT, the PEFT baselines, linear probing, '
            'fine-tuning). The few-shot segmentor takes supports with every image and has '
            'no export.')
    if not vit_backbones(model):
        raise ExportError(f'{type(model.backbone).__name__} is not one of this project\'s '
                          'frozen-ViT backbones, whose position embedding the export fixes.')
    if getattr(model.decode_head, 'out_channels', 2) == 1:
        raise ExportError('The decode head has one output channel (a sigmoid with a '
                          'threshold); the export writes argmax class maps of >= 2 classes.')


def check_shape(model: nn.Module, shape: Sequence[int]) -> Tuple[int, int]:
    """``shape`` as (H, W), refused unless positive multiples of every patch size."""
    if len(shape) != 2 or min(shape) <= 0:
        raise ExportError(f'--shape {" ".join(map(str, shape))}: give two positive sides, H W.')
    for patch in patch_sizes(model):
        bad = [side for side in shape if side % patch]
        if bad:
            near = ' or '.join(f'{side // patch * patch or patch} / {(side // patch + 1) * patch}'
                               for side in bad)
            verb = 'is not a multiple' if len(bad) == 1 else 'are not multiples'
            raise ExportError(
                f'--shape {shape[0]} {shape[1]}: {" and ".join(map(str, bad))} {verb} '
                f'of the ViT patch size {patch} (PyTorch would pad the image; the exported '
                f'graph takes exactly H x W). Use {near}.')
    return int(shape[0]), int(shape[1])


def design_notes(cfg) -> List[str]:
    """Where the exported graph computes other than ``tools/test.py`` does, by design."""
    notes = []
    test_cfg = cfg.model.get('test_cfg') or {}
    if test_cfg.get('mode', 'whole') == 'slide':
        notes.append(
            f'the config tests in slide mode (crop {tuple(test_cfg.get("crop_size", ()))}, '
            f'stride {tuple(test_cfg.get("stride", ()))}): the graph runs the whole image '
            'in one pass at the export size, and its mIoU can differ from tools/test.py\'s '
            '(mmdeploy measured Segmenter ViT-S on ADE20K at 45.75 slide, 44.29 whole).')
    return notes


def _module_names(module: nn.Module) -> dict:
    return {id(m): (name or 'the segmentor', type(m).__name__)
            for name, m in module.named_modules()}


def failing_part(error: BaseException, root: nn.Module) -> Optional[Tuple[str, str]]:
    """(name, type) of the innermost part of ``root`` running when ``error`` was raised.

    Read from the tracebacks of the error and its causes: the deepest frame whose
    ``self`` is one of ``root``'s modules, in the first error raised.
    """
    names = _module_names(root)
    for exc in reversed(_error_chain(error)):  # the first raised first
        found = None
        for frame, _ in traceback.walk_tb(exc.__traceback__):
            owner = frame.f_locals.get('self')
            if id(owner) in names:
                found = names[id(owner)]
        if found:
            return found
    return None


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f'{type(error).__name__}: {text[0] if text else ""}'


def trace(module: StaticSegmentor, example):
    """``torch.export`` of the module, or :class:`ExportError` naming what failed."""
    import torch
    try:
        return torch.export.export(module, (example,), strict=False)
    except Exception as error:  # noqa: BLE001 - reworded with the part that failed
        part = failing_part(error, module.segmentor)
        where = f'{part[0]} ({part[1]})' if part else 'the model'
        raise ExportError(
            f'torch.export cannot trace {where}: {_first_line(error)}. The graph must be '
            f'the same for every image of the export size: make {where.split(" ")[0]} '
            'free of Python branches on tensor values and of conversions to numpy or Python '
            'numbers, or export a config without it.'
        ) from error


def _error_chain(error: BaseException) -> List[BaseException]:
    """The error and its causes, the last raised first."""
    chain, seen = [], set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        chain.append(error)
        error = error.__cause__ or error.__context__
    return chain


def failed_op(program, error: BaseException) -> Optional[str]:
    """The traced op a conversion error names, with the part and source line that call it.

    mmseg's heads run ``self.forward`` from ``predict`` (not through ``__call__``), so
    torch's module stack often stops at an outer module; the op's source line is exact.
    """
    text = ' '.join(str(e) for e in _error_chain(error))
    for node in program.graph.nodes:
        if node.op != 'call_function':
            continue
        schema = getattr(node.target, '_schema', None)
        name = schema.name.replace('::', '.') if schema else str(node.target)
        if f"op='{name}'" not in text and f'target={node.target}' not in text:
            continue
        found = name
        stack = [path for path, _ in (node.meta.get('nn_module_stack') or {}).values()]
        part = stack[-1].split('segmentor.', 1)[-1] if stack and stack[-1] else ''
        if part and part != 'segmentor':
            found += f' in {part}'
        lines = [line.strip() for line in (node.meta.get('stack_trace') or '').splitlines()
                 if line.strip().startswith('File ')]
        if lines:
            found += f' ({lines[-1]})'
        return found
    return None


def to_onnx(program, info: DeployInfo):
    """The ONNX ``ModelProto`` of an exported program, with ``info`` in its metadata."""
    import torch
    try:
        onnx_program = torch.onnx.export(program, dynamo=True, opset_version=OPSET,
                                         input_names=[INPUT], output_names=[CLASSES, LOGITS],
                                         verbose=False)
    except Exception as error:  # noqa: BLE001 - reworded with the part that failed
        op = failed_op(program, error)
        raise ExportError(f'torch.onnx cannot translate {op or "an op of the model"} to '
                          f'ONNX opset {OPSET}: {_first_line(_error_chain(error)[-1])}. '
                          'Replace the op by ones torch exports, or register an ONNX '
                          'translation for it (torch.onnx.export(custom_translation_table=))'
                          ) from error
    proto = onnx_program.model_proto
    entry = proto.metadata_props.add()
    entry.key, entry.value = 'mmseg_expres', info.to_json()
    return proto


def cubic_resizes(proto) -> List[str]:
    """Names of the graph's Resize nodes in cubic mode (onnxruntime refuses some)."""
    found = []
    graphs = [proto.graph] + [f for f in proto.functions]
    for graph in graphs:
        for node in graph.node:
            if node.op_type == 'Resize' and any(
                    a.name == 'mode' and a.s == b'cubic' for a in node.attribute):
                found.append(node.name)
    return found


def drop_output(proto, name: str) -> None:
    """Remove a graph output (the value stays computed inside: the classes read it)."""
    kept = [o for o in proto.graph.output if o.name != name]
    del proto.graph.output[:]
    proto.graph.output.extend(kept)


def export_onnx(model: nn.Module, cfg, out: str, shape: Sequence[int],
                check_images: Sequence[np.ndarray], channels: str = 'RGB',
                logits: bool = False, source: Optional[dict] = None,
                log=print) -> Parity:
    """Write ``model`` to ``out`` as ONNX, checked against PyTorch on ``check_images``.

    Args:
        model: an eval-mode segmentor from ``init_model`` (LoRA/SSF merged by the caller).
        cfg: its config, for what the graph does differently (:func:`design_notes`).
        out: the ONNX file; its folder is made if missing.
        shape: (H, W), the graph's one input size.
        check_images: RGB uint8 images of any size, fitted to ``shape``.
        channels: the input's channel order, ``'RGB'`` or ``'BGR'``.
        logits: also output the logits.
        source: what was exported (config, checkpoint), stored in the file.

    Returns:
        the parity, which passed.

    Raises:
        ExportError: a model, size or part that cannot be exported, or parity that
            failed (nothing is written then).
    """
    import torch
    check_exportable(model)
    shape = check_shape(model, shape)
    if channels not in ('RGB', 'BGR'):
        raise ExportError(f'channels {channels!r}: use RGB or BGR.')
    notes = design_notes(cfg)
    for note in notes:
        warnings.warn(f'ONNX export: {note}', stacklevel=2)
    classes, palette = _classes_and_palette(model)
    info = DeployInfo(shape[0], shape[1], channels, list(classes),
                      [list(map(int, c)) for c in palette],
                      [CLASSES, LOGITS] if logits else [CLASSES], dict(source or {}), notes)
    module = StaticSegmentor(model, shape, channels, logits=True)
    example = torch.zeros(1, shape[0], shape[1], 3, dtype=torch.uint8)
    with torch.no_grad():
        program = trace(module, example)
    proto = to_onnx(program, info)
    cubic = cubic_resizes(proto)
    if cubic:
        raise ExportError(f'the graph still resamples bicubically ({", ".join(cubic[:3])}): '
                          'a position embedding that is not fixed at the export size.')
    # checked from memory, written only once it passed: an interrupted or failed
    # export leaves nothing at `out` (atomic_write renames a complete file)
    session, _ = open_session(proto.SerializeToString())
    parity = measure(session, info, model, check_images)
    log(parity.line())
    if not parity.passed:
        raise ExportError(f'{parity.line()}: the exported graph computes something else '
                          f'than the PyTorch model; nothing was written to {out}.')
    if not logits:
        drop_output(proto, LOGITS)
    with atomic_write(out, 'wb') as f:  # makes the folder
        f.write(proto.SerializeToString())
    return parity


def _classes_and_palette(model: nn.Module):
    from ..visualization import class_palette
    return class_palette(getattr(model, 'dataset_meta', None))
