"""A wrong or missing mmcv gives one clear message that says how to fix it."""
from importlib import metadata

import pytest

from mmseg_expres.utils import env


def _fake_versions(monkeypatch, versions):
    def version(dist):
        if dist not in versions:
            raise metadata.PackageNotFoundError(dist)
        return versions[dist]
    monkeypatch.setattr(env.metadata, 'version', version)


def test_installed_stack_is_ok():
    versions, problems = env.collect_env()
    assert problems == []
    assert versions['mmcv'] == '2.1.0'


def test_mmcv_220_is_refused_with_fix(monkeypatch):
    _fake_versions(monkeypatch, {'mmcv': '2.2.0'})
    with pytest.raises(ImportError, match=r'mmcv 2.2.0 .*<2.2.0.*tools/setup_env.sh'):
        env.check_mmcv()


def test_mmcv_lite_is_refused_with_fix(monkeypatch):
    _fake_versions(monkeypatch, {'mmcv-lite': '2.1.0'})
    with pytest.raises(ImportError, match=r'mmcv-lite 2.1.0 is, but it has no compiled ops'):
        env.check_mmcv()


def test_missing_ops_are_reported(monkeypatch):
    _fake_versions(monkeypatch, {'mmcv': '2.1.0'})
    real_import = env.importlib.import_module

    def no_ext(name, *args):
        if name == 'mmcv._ext':
            raise ImportError("No module named 'mmcv._ext'")
        return real_import(name, *args)
    monkeypatch.setattr(env.importlib, 'import_module', no_ext)
    with pytest.raises(ImportError, match=r"without its compiled ops .*mmcv._ext"):
        env.check_mmcv()


def test_check_env_command_prints_versions():
    import subprocess
    import sys
    result = subprocess.run([sys.executable, '-m', 'mmseg_expres.check_env'],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'mmsegmentation 1.2.2' in result.stdout and 'environment OK' in result.stdout
