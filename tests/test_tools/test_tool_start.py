"""The tools answer --help and argument errors before importing torch, mmengine or mmseg
(seconds of a user's every call); the benchmark's ``tool_start`` section times it."""
import json
import subprocess
import sys

import pytest

from .seg_runs import REPO, tool

PROBE = """
import runpy, sys
sys.argv = [{script!r}, *{args!r}]
try:
    runpy.run_path({script!r}, run_name='__main__')
except SystemExit as exit_:
    code = exit_.code
print(sorted(m for m in ('torch', 'mmengine', 'mmseg', 'mmseg_expres') if m in sys.modules))
print(code)
"""


@pytest.mark.parametrize('name,wrong', [
    ('infer.py', ['missing.py', 'missing.pth', 'x.jpg', '--out-dir', 'out']),
    ('infer.py', ['c.py', 'k.pth', 'x.jpg', '--out-dir', 'o', '--opacity', '3']),
    ('infer.py', [str(REPO / 'configs' / 'demo' / 'expres_vit-demo_ade20k.py'), '--tasks',
                  'a=missing.pth', 'x.jpg', '--out-dir', 'o']),
    ('check_seg_data.py', ['missing.py']),
    ('export_full_checkpoint.py', ['missing.py', 'missing.pth', 'out.pth'])])
def test_help_and_argument_errors_import_nothing_heavy(name, wrong, tmp_path):
    for args, code in ((['--help'], '0'), (wrong, '2')):
        result = subprocess.run([sys.executable, '-c', PROBE.format(script=tool(name),
                                                                   args=args)],
                                cwd=tmp_path, capture_output=True, text=True, timeout=120)
        imported, status = result.stdout.strip().splitlines()[-2:]
        assert (imported, status) == ('[]', code), result.stdout + result.stderr


def test_quick_tool_start_section_reports_each_tool(tmp_path):
    out = tmp_path / 'bench.json'
    result = subprocess.run(
        [sys.executable, str(REPO / 'tools' / 'analysis' / 'benchmark.py'), '--quick',
         '--device', 'cpu', '--sections', 'tool_start', '--json', str(out)],
        cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(out.read_text())['tool_start']
    assert set(report['tools']) == {'infer.py'} and report['help_limit_s'] == 1.0
    times = report['tools']['infer.py']
    assert times['help_s'] > 0 and times['argument_error_s'] > 0 and report['import_s'] > 0
    assert '| tools/infer.py |' in result.stdout
