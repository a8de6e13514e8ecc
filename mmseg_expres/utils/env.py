"""Checks that the installed OpenMMLab stack is the one mmseg-expres needs."""
import importlib
from importlib import metadata
from typing import Dict, List, Tuple

from ..version import PINNED

FIX = 'Run `bash tools/setup_env.sh` (it builds mmcv 2.1.0 with its ops and caches the wheel).'


def check_mmcv() -> None:
    """Raise one clear ImportError if mmcv is missing, of the wrong version or op-less.

    mmsegmentation 1.2.2 asserts ``mmcv < 2.2.0`` and ``import mmseg.models`` needs the
    compiled ops (``mmcv._ext``), which ``mmcv-lite`` and PyPI's 2.2.0 do not provide.
    """
    try:
        version = metadata.version('mmcv')
    except metadata.PackageNotFoundError:
        lite = _installed('mmcv-lite')
        raise ImportError(
            'mmcv is not installed' + (f' (mmcv-lite {lite} is, but it has no compiled ops '
                                      'that mmseg.models needs)' if lite else '') +
            f'. mmseg-expres needs mmcv=={PINNED["mmcv"]} with ops. {FIX}') from None
    if version != PINNED['mmcv']:
        raise ImportError(f'mmcv {version} is installed, but mmsegmentation 1.2.2 needs '
                          f'mmcv>=2.0.0rc4,<2.2.0 and mmseg-expres is tested with '
                          f'{PINNED["mmcv"]}. {FIX}')
    try:
        importlib.import_module('mmcv._ext')
    except ImportError as err:
        raise ImportError(f'mmcv {version} is installed without its compiled ops ({err}); '
                          f'mmseg.models cannot import. {FIX}') from None


def _installed(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return ''


def collect_env() -> Tuple[Dict[str, str], List[str]]:
    """Installed versions and a list of problems (empty when all is well)."""
    versions = {name: _installed(name) or 'missing' for name in PINNED}
    problems = [f'{name} {have} != pinned {PINNED[name]}'
                for name, have in versions.items()
                if have.split('+')[0] != PINNED[name]]
    try:
        check_mmcv()
    except ImportError as err:
        problems.append(str(err))
    for module in ('mmseg.models', 'mmpretrain.models', 'timm', 'mmseg_expres.models'):
        try:
            importlib.import_module(module)
        except Exception as err:  # report every failure, not only the first
            problems.append(f'import {module} failed: {type(err).__name__}: {err}')
    return versions, problems
