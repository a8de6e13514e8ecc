"""What the browser test needs: tiny models on disk, the page's server, headless Chromium.

Nothing here downloads a browser: Selenium drives Debian's /usr/bin/chromium through
/usr/bin/chromedriver (tools/setup_env.sh installs both).
"""
import io
import os
import os.path as osp
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
import warnings
import zlib
from typing import Callable, List, Optional

import numpy as np
import pytest
import torch
from mmengine.config import Config
from PIL import Image

from mmseg_expres.apis import init_model
from mmseg_expres.models.backbones import create_timm_vit

from ..test_tools.seg_runs import REPO, write_tiny_config, write_tiny_vit

CHROMIUM = '/usr/bin/chromium'
CHROMEDRIVER = '/usr/bin/chromedriver'
ADE_CONFIG = 'expres/expres_vit-b16_upernet_8xb2-80k_ade20k-512x512.py'
FEWSHOT_CONFIG = REPO / 'configs' / 'demo' / 'expres_vit-demo_proto_1xb4-400it_pascal5i-480x480.py'
# What tools/run_demo.sh and tools/fewshot_seg/run_demo.sh train (the screenshots' models).
SEGMENT_DEMO_CONFIG = (REPO / 'configs' / 'demo' /
                       'expres_vit-demo_upernet_1xb4-300it_ade20k-128x128.py')
SEGMENT_DEMO_WORK_DIR = 'work_dirs/demo'
FEWSHOT_DEMO_CHECKPOINT = REPO / 'work_dirs' / 'fewshot_seg_demo' / 'fold0' / 'iter_400.pth'
WAIT = 60  # seconds a model call may take on a loaded 2-core machine


def write_png_bomb(path: str, side: int = 20000) -> str:
    """A valid PNG of ``side`` x ``side`` black pixels, one bit each: about 50 kB on disk
    for 20,000 px, 1.2 GB once OpenCV decodes it to BGR. Written row by row, so that the
    test never holds it decoded."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack('>I', len(data)) + kind + data
                + struct.pack('>I', zlib.crc32(kind + data) & 0xffffffff))
    row = bytes(1 + (side + 7) // 8)  # PNG's filter byte, then 8 pixels a byte
    packer = zlib.compressobj(9)
    pixels = b''.join(packer.compress(row) for _ in range(side)) + packer.flush()
    header = struct.pack('>IIBBBBB', side, side, 1, 0, 0, 0, 0)  # 1 bit, grey
    with open(path, 'wb') as f:
        f.write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', header) + chunk(b'IDAT', pixels)
                + chunk(b'IEND', b''))
    return path


def stub_segment_demo(monkeypatch, tmp_path, predict: Callable[[np.ndarray], object]):
    """A :class:`SegmentDemo` without a model: ``SegmentDemo.predict`` calls
    ``predict(image)`` (a ``None`` result becomes all class 0), and the runs' folders go
    under ``tmp_path``."""
    from mmseg_expres.web_demo import SegmentDemo

    def fake(self, image):
        label = predict(image)
        return np.zeros(image.shape[:2], np.int64) if label is None else label
    monkeypatch.setattr(SegmentDemo, 'predict', fake)
    monkeypatch.setattr(tempfile, 'tempdir', str(tmp_path))
    meta = dict(classes=('sky', 'tree'), palette=[[0, 0, 255], [0, 255, 0]])
    return SegmentDemo(type('StubModel', (), dict(dataset_meta=meta))())


@pytest.fixture
def decoders_limited(monkeypatch):
    """:func:`~mmseg_expres.web_demo.inputs.limit_decoders` in effect for one test
    (import it into the test module); Pillow's cap and the warning filters restored after."""
    from mmseg_expres.web_demo.inputs import limit_decoders
    monkeypatch.setattr(Image, 'MAX_IMAGE_PIXELS', Image.MAX_IMAGE_PIXELS)
    with warnings.catch_warnings():
        limit_decoders()
        yield


def missing_dependencies() -> List[str]:
    """What the browser test lacks, to say why it is skipped."""
    missing = []
    for module in ('gradio', 'selenium'):
        try:
            __import__(module)
        except ImportError:
            missing.append(f'{module} (pip install -e ".[demo]" and requirements/tests.txt)')
    missing += [f'{path} (apt-get install chromium chromium-driver)'
                for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    return missing


def write_segmentor(tmp: str) -> tuple:
    """A tiny UperNet segmentor: its config, full checkpoint (ADE20K's classes), model."""
    from mmseg.datasets import ADE20KDataset
    vit = write_tiny_vit(osp.join(tmp, 'vit.pth'))
    config = write_tiny_config(osp.join(tmp, 'segment.py'), ADE_CONFIG, tmp, vit)
    model = init_model(config)
    torch.manual_seed(0)
    for param in model.decode_head.conv_seg.parameters():  # a varied prediction to draw
        torch.nn.init.normal_(param, std=1.0)
    meta = dict(dataset_meta=dict(ADE20KDataset.METAINFO))
    checkpoint = osp.join(tmp, 'segment.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=meta), checkpoint)
    model.dataset_meta = meta['dataset_meta']  # as init_model sets it from the checkpoint
    return config, checkpoint, model


def write_fewshot_segmentor(tmp: str) -> tuple:
    """The few-shot demo config on a random ViT, a checkpoint of its initial state, the
    model."""
    backbone = Config.fromfile(str(FEWSHOT_CONFIG)).model.backbone
    torch.manual_seed(0)
    vit = create_timm_vit(backbone.arch, backbone.img_size, backbone.vit_cfg)
    torch.save(vit.state_dict(), osp.join(tmp, 'fewshot_vit.pth'))
    config = osp.join(tmp, 'fewshot.py')
    with open(config, 'w', encoding='utf-8') as f:
        f.write(f'_base_ = [{str(FEWSHOT_CONFIG)!r}]\n'
                f"model = dict(backbone=dict(pretrained={osp.join(tmp, 'fewshot_vit.pth')!r}))\n")
    model = init_model(config)
    meta = dict(dataset_meta=dict(classes=('background', 'object')))
    checkpoint = osp.join(tmp, 'fewshot.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=meta), checkpoint)
    return config, checkpoint, model


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def start_server(args: List[str], port: int, log: str) -> subprocess.Popen:
    """tools/web_demo.py with ``args`` on ``port``, started (see :func:`wait_for_page`)."""
    env = dict(os.environ, OMP_NUM_THREADS='1', GRADIO_ANALYTICS_ENABLED='False')
    with open(log, 'w', encoding='utf-8') as out:
        return subprocess.Popen([sys.executable, str(REPO / 'tools' / 'web_demo.py'), *args,
                                 '--port', str(port)], cwd=REPO, env=env, stdout=out,
                                stderr=subprocess.STDOUT)


def wait_for_page(server: subprocess.Popen, port: int, log: str, timeout: float = 180) -> None:
    """Return once the page answers on ``port``; fail with the server's log if it dies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f'the page did not start:\n{open(log).read()[-5000:]}')
        try:
            urllib.request.urlopen(f'http://127.0.0.1:{port}/', timeout=2)
            return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f'no page on port {port} after {timeout} s:\n{open(log).read()[-5000:]}')


def chromium(user_data_dir: str):
    """Headless Chromium (the system's), isolated and quiet on the network."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ('--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
                 '--no-first-run', '--disable-background-networking',
                 '--disable-component-update', '--disable-sync',
                 f'--user-data-dir={user_data_dir}', '--window-size=1280,1200'):
        options.add_argument(flag)
    return webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))


def fetch_png(url: str) -> np.ndarray:
    with urllib.request.urlopen(url, timeout=10) as response:
        return np.asarray(Image.open(io.BytesIO(response.read())))


def peak_memory(pid: int) -> int:
    """The most resident memory process ``pid`` has had, in bytes (Linux's VmHWM)."""
    with open(f'/proc/{pid}/status', encoding='ascii') as status:
        line = next(line for line in status if line.startswith('VmHWM:'))
    return int(line.split()[1]) * 1024


def wait_for(driver, css: str, timeout: float = WAIT):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    return WebDriverWait(driver, timeout).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, css))


def click(driver, elem_id: str) -> None:
    from selenium.webdriver.common.by import By
    driver.find_element(By.ID, elem_id).click()


def open_fewshot_tab(driver) -> None:
    from selenium.webdriver.common.by import By
    driver.find_element(By.XPATH, "//button[@role='tab'][contains(., 'One-shot')]").click()


def run_segment_example(driver) -> None:
    """Click the Segment tab's first example, wait until it is the input, run."""
    from selenium.webdriver.common.by import By
    driver.find_element(By.CSS_SELECTOR, '#segment-examples button.thumbnail-item').click()
    wait_for(driver, '#segment-images a[href*="scene0.png"]')
    click(driver, 'segment-run')


def run_fewshot_example(driver) -> None:
    """Open the one-shot tab, click its example, wait until the editor shows the reference
    and the mask and queries are in, run."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    open_fewshot_tab(driver)
    zoom = wait_for(driver, '#fewshot-reference-0 .zoom-number')[0]
    empty = zoom.text
    driver.find_element(By.CSS_SELECTOR, '#fewshot-examples button.thumbnail-item').click()
    wait_for(driver, '#fewshot-queries a[href*="object2.png"]')
    wait_for(driver, '#fewshot-mask-0 a[href*="object0_mask.png"]')
    WebDriverWait(driver, WAIT).until(lambda d: zoom.text != empty)  # the picture is shown
    click(driver, 'fewshot-run')


def wait_for_result(driver, prefix: str) -> None:
    """Until the tab's result pictures are drawn and its files offered."""
    from selenium.webdriver.support.ui import WebDriverWait
    pictures = wait_for(driver, f'#{prefix}-gallery img')
    wait_for(driver, f'#{prefix}-files a[href]')
    WebDriverWait(driver, WAIT).until(lambda d: all(d.execute_script(
        'return arguments[0].complete && arguments[0].naturalWidth > 0', p) for p in pictures))


def take_screenshots(out_dir: str, segment: List[str], fewshot: List[str]) -> List[str]:
    """docs/web_demo.md's screenshots: the page on these models (config, checkpoint),
    each tab after running its example."""
    os.makedirs(out_dir, exist_ok=True)
    shots = [osp.join(out_dir, 'web_demo_segment.png'), osp.join(out_dir, 'web_demo_oneshot.png')]
    with tempfile.TemporaryDirectory(prefix='web_demo_screenshots_') as tmp:
        port, log = free_port(), osp.join(tmp, 'server.log')
        server = start_server([*segment, '--fewshot', *fewshot], port, log)
        driver = None
        try:
            driver = chromium(osp.join(tmp, 'chromium-profile'))
            wait_for_page(server, port, log)
            driver.get(f'http://127.0.0.1:{port}/')
            wait_for(driver, '#segment-examples img')
            run_segment_example(driver)
            wait_for_result(driver, 'segment')
            driver.save_screenshot(shots[0])
            run_fewshot_example(driver)
            wait_for_result(driver, 'fewshot')
            driver.save_screenshot(shots[1])
        finally:
            if driver is not None:
                driver.quit()
            server.terminate()
            server.wait(timeout=30)
    return shots


def main() -> None:
    import argparse
    parser = argparse.ArgumentParser(description=take_screenshots.__doc__.split('\n')[0])
    parser.add_argument('out_dir', help='where the PNGs go, e.g. docs/images')
    parser.add_argument('--segment', nargs=2, metavar=('CONFIG', 'CHECKPOINT'),
                        help='default: the checkpoint of bash tools/run_demo.sh')
    parser.add_argument('--fewshot', nargs=2, metavar=('CONFIG', 'CHECKPOINT'),
                        default=[str(FEWSHOT_CONFIG), str(FEWSHOT_DEMO_CHECKPOINT)],
                        help='default: the checkpoint of bash tools/fewshot_seg/run_demo.sh')
    args = parser.parse_args()
    if args.segment is None:
        marker = REPO / SEGMENT_DEMO_WORK_DIR / 'last_checkpoint'
        if not marker.is_file():
            raise SystemExit(f'No {marker}: run bash tools/run_demo.sh first, or give '
                             '--segment CONFIG CHECKPOINT.')
        args.segment = [str(SEGMENT_DEMO_CONFIG), marker.read_text().strip()]
    for path in take_screenshots(args.out_dir, args.segment, args.fewshot):
        print(path)


if __name__ == '__main__':
    main()
