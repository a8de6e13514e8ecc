"""The shipped configs, as MMEngine finds them for ``_base_ = ['mmseg_expres::...']``.

``.mim/configs`` is the repository's ``configs/`` (a link here, copied into wheels by
``setup.py``), where MMEngine looks for a package's configs as it does for mmseg's.
MMEngine resolves the scope ``mmseg_expres`` to this module (``utils/config_scope.py``),
so the configs found are always those of the code that is imported.
"""
