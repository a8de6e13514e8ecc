"""The ``mmseg_expres`` registry scope, so that configs inherited as ``mmseg_expres::...``
build.

MMEngine tags every dict with a ``type`` that a config inherits through ``pkg::`` with
``_scope_='pkg'`` and then looks for registries of that scope. This package registers
its modules in mmseg's registries (and mmpretrain's), so each scope registry here is an
empty child of mmseg's that finds everything through its parent. A type that mmseg does
not know (a classification config's ``ImageClassifier``) is looked up in mmpretrain's
registry of the same kind.
"""
from typing import Optional

from mmengine.registry import Registry
from mmseg import registry as mmseg_registry

SCOPE = 'mmseg_expres'
#: Where this package registers its modules; importing them fills mmseg's registries.
OWN_LOCATIONS = ['mmseg_expres.models', 'mmseg_expres.engine', 'mmseg_expres.datasets',
                 'mmseg_expres.evaluation']


class ScopeRegistry(Registry):
    """A child of an mmseg registry that falls back to mmpretrain's registry of its kind."""

    def get(self, key: str) -> Optional[type]:
        found = super().get(key)
        if found is None and '.' not in key:
            other = getattr(__import__('mmpretrain.registry', fromlist=['x']),
                            self._mmseg_name, None)
            found = other.get(key) if other is not None else None
        return found


def _scope_children() -> dict:
    children = {}
    for name, parent in vars(mmseg_registry).items():
        if isinstance(parent, Registry) and parent.scope == 'mmseg':
            child = ScopeRegistry(parent.name, parent=parent, scope=SCOPE,
                                  locations=[*parent._locations, *OWN_LOCATIONS])
            child._mmseg_name = name
            children[name] = child
    return children


globals().update(_scope_children())
