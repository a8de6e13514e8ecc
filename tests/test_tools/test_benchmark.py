"""tools/analysis/benchmark.py runs end to end in --quick mode and reports every row."""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

ROWS = {
    'cls': ['frozen forward, no grad (floor)', 'EXPRES one-way', 'EXPRES full',
            'EXPRES full, every-row residuals', 'VPT-deep (K=4)', 'linear probe', 'full fine-tuning', 'LoRA (r=8, qkv)',
            'AdaptFormer (r=8)', 'SSF'],
    'infer': ['plain ViT forward', 'EXPRES one-way, K=5', 'EXPRES full, K=5',
              'EXPRES full, every-row residuals, K=5',
              '10 tasks, one-way (MultiTaskExpres)', 'LoRA (r=8, qkv)',
              'LoRA (r=8, qkv), merged', 'AdaptFormer (r=8)', 'SSF', 'SSF, merged'],
    'seg': ['mmseg ViT fine-tuning', 'mmseg ViT fine-tuning + AMP', 'EXPRES full',
            'EXPRES full + AMP', 'EXPRES full + checkpointing'],
}


def run_quick(tmp_path, *args: str):
    """Run the tool with --quick on the CPU; return its stdout and its JSON report."""
    out = tmp_path / 'bench.json'
    result = subprocess.run(
        [sys.executable, str(ROOT / 'tools' / 'analysis' / 'benchmark.py'), '--quick',
         '--device', 'cpu', *args, '--json', str(out)],
        cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout, json.loads(out.read_text())


def test_quick_benchmark_prints_every_row_and_writes_json(tmp_path):
    stdout, report = run_quick(tmp_path)
    table_rows = {line.split('|')[1].strip() for line in stdout.splitlines()
                  if line.startswith('| ')}
    for section, rows in ROWS.items():
        assert set(report['sections'][section]) == set(rows), section
        for row in rows:
            assert row in table_rows, row
            entry = report['sections'][section][row]
            assert entry['median_s'] > 0 and entry['peak_mb'] is not None, row
    # the trainable counts come from the models themselves: tiny ViT, K=5, 5 sites, 4 layers
    assert report['sections']['cls']['EXPRES one-way']['trainable'] == 5 * 32 * (1 + 5 * 4)
    # every-row residuals: K tokens and one vector per layer and site
    assert report['sections']['cls']['EXPRES full, every-row residuals']['trainable'] == \
        5 * 32 + 5 * 4 * 32
    assert report['sections']['cls']['VPT-deep (K=4)']['trainable'] == 4 * 32 * 4
    assert report['sections']['cls']['linear probe']['trainable'] == 0
    # the PEFT baselines on the tiny ViT: LoRA r=8 on qkv, AdaptFormer r=8, SSF
    cls = report['sections']['cls']
    assert cls['LoRA (r=8, qkv)']['trainable'] == 4 * 8 * (32 + 3 * 32)
    assert cls['AdaptFormer (r=8)']['trainable'] == 4 * (2 * 32 * 8 + 8 + 32)
    assert cls['SSF']['trainable'] == 2 * (4 * (7 * 32 + 96) + 2 * 32)  # test_vit: mlp x3
    # the UperNet AMP targets are GPU targets: checked on CUDA runs only
    assert len(report['targets']) == 11 and 'Targets' in stdout
    seg = report['sections']['seg']
    assert seg['EXPRES full']['trainable'] == seg['EXPRES full + checkpointing']['trainable'] > 0


def test_quick_setr_section_times_vpts_protocol_model(tmp_path):
    """The SETR-PUP section (VPT's ADE20K model) runs the same cases on mmseg's config."""
    _, report = run_quick(tmp_path, '--sections', 'setr')
    setr = report['sections']['setr']
    assert set(setr) == set(ROWS['seg'])
    assert setr['EXPRES full']['trainable'] == 5 * 32 * (1 + 5 * 4)
    assert setr['mmseg ViT fine-tuning']['trainable'] > setr['EXPRES full']['trainable']


def test_quick_fewshot_seg_section_times_every_method_and_shot(tmp_path):
    """Episodes/s and memory of the PASCAL-5i configs' models: test shots and a meta step."""
    stdout, report = run_quick(tmp_path, '--sections', 'fewshot_seg',
                               '--fewshot-parts', 'episodes')
    sections = report['sections']
    kinds = ['fewshot_seg test 1-shot', 'fewshot_seg test 5-shot',
             'fewshot_seg meta-training step (2 x 1-shot)']
    assert sorted(sections) == sorted(kinds)
    methods = ['EXPRES', 'frozen ViT (head only)', 'VPT-deep', 'fine-tuning']
    for kind in kinds:
        assert list(sections[kind]) == methods, kind
        for entry in sections[kind].values():
            assert entry['median_s'] > 0 and entry['peak_mb'] > 0
    assert 'episodes/s' in stdout
    step = sections[kinds[2]]
    # trainable backbone tensors: EXPRES K=4 tokens + residuals on the tiny ViT, none
    # for the frozen ViT, every ViT weight for fine-tuning
    assert step['EXPRES']['trainable'] == 4 * 32 * (1 + 5 * 4)
    assert step['frozen ViT (head only)']['trainable'] == 0
    assert step['fine-tuning']['trainable'] > step['VPT-deep']['trainable'] > 0


def test_quick_fewshot_seg_section_times_supports_encoded_once(tmp_path):
    """The support-encoding saving: Q queries with the supports re-encoded per query
    (whole episodes) against encoded once, at 1 and 5 shots, per query and as a ratio."""
    stdout, report = run_quick(tmp_path, '--sections', 'fewshot_seg', '--fewshot-parts',
                               'supports', '--fewshot-queries', '3')
    kinds = [f'fewshot_seg supports {k}-shot, 3 queries' for k in (1, 5)]
    assert sorted(report['sections']) == kinds
    for kind in kinds:
        cases = report['sections'][kind]
        assert list(cases) == ['supports re-encoded per query', 'supports encoded once']
        assert all(entry['median_s'] > 0 for entry in cases.values())
    assert stdout.count('queries/s') == 2 and 'time / re-encoded' in stdout
    lines = [line for line in stdout.splitlines() if line.startswith('per query: ')]
    assert len(lines) == 2 and all('encoded once (' in line for line in lines)


def test_quick_seg_check_section_reports_masks_per_second(tmp_path):
    """The data checker's throughput: full check, pre-training check, its cached rerun."""
    stdout, report = run_quick(tmp_path, '--sections', 'seg_check')
    check = report['seg_check']
    assert check['num'] == 40 and check['nproc'] == 2
    cases = check['cases']
    assert len(cases) == 3 and all(c['masks_per_s'] > 0 for c in cases.values())
    assert 'masks/s' in stdout


def test_quick_infer_tool_section_times_the_tool_against_a_bare_loop(tmp_path):
    """tools/infer.py's code path (decode, predict, write PNGs) vs inference_model alone."""
    stdout, report = run_quick(tmp_path, '--sections', 'infer_tool')
    section = report['sections']['infer_tool']
    assert list(section) == ['bare inference_model loop', 'tools/infer.py path, batch 1',
                             'tools/infer.py path, batch 4',
                             'tools/infer.py prediction only (no files), batch 1']
    assert all(entry['median_s'] > 0 for entry in section.values())
    assert 'tools/infer.py overhead at batch 1' in stdout and 'images/s' in stdout


def test_quick_deploy_section_times_onnxruntime_against_pytorch(tmp_path):
    """The demo model exported (parity checked), PyTorch vs onnxruntime fp32 and int8,
    with each one's mIoU and agreement with PyTorch."""
    stdout, report = run_quick(tmp_path, '--sections', 'deploy')
    section = report['sections']['deploy']
    names = ['PyTorch (eager, no_grad)', 'onnxruntime fp32', 'onnxruntime int8 (dynamic)']
    assert list(section) == names
    assert all(entry['median_s'] > 0 for entry in section.values())
    accuracy = report['deploy']['accuracy']
    assert accuracy[names[0]]['agreement'] == 1.0  # PyTorch against itself
    assert accuracy[names[1]]['agreement'] >= 0.999  # the export's parity bar
    assert 0 <= accuracy[names[2]]['agreement'] <= 1
    assert 'pixels of the same class 100' in report['deploy']['parity']
    assert 'ONNX deployment on the CPU' in stdout and '| onnxruntime int8 (dynamic) |' in stdout


def test_quick_multi_task_section_times_mixed_batches_and_memory(tmp_path):
    """Mixed-task batches against one task per batch, task models in turn and LoRA's
    peft mixed batch; memory of N tasks on one ViT against N models."""
    stdout, report = run_quick(tmp_path, '--sections', 'multi_task')
    section = report['sections']['multi_task']
    assert list(section) == ['EXPRES, one task per batch', 'EXPRES, 1 tasks in one batch',
                             'EXPRES, 2 tasks in one batch', 'EXPRES, 2 task models in turn',
                             'LoRA (peft), one adapter per batch',
                             'LoRA (peft), 2 adapters in one batch']
    assert all(entry['median_s'] > 0 for entry in section.values())
    assert '### Memory of N loaded EXPRES tasks' in stdout
    memory = [t for t in report['targets'] if 'memory of each extra loaded task' in t['target']]
    assert len(memory) == 1 and memory[0]['median_ratio'] <= 1.0  # no second ViT
