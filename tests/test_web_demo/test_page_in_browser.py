"""tools/web_demo.py in headless Chromium: both tabs as a user drives them.

The page runs as its own process on a free localhost port with tiny models the test
writes; the browser uploads, paints with the mouse and presses buttons; the pictures and
masks the page returns are compared with what ``inference_model`` and ``fewshot_segment``
give on the same inputs, drawn with ``mmseg_expres.visualization``.
"""
import os.path as osp

import numpy as np
import pytest
from PIL import Image

from .browser import (WAIT, chromium, click, fetch_png, free_port, missing_dependencies,
                      open_fewshot_tab, peak_memory, run_fewshot_example,
                      run_segment_example, start_server, wait_for, wait_for_page,
                      write_fewshot_segmentor, write_png_bomb, write_segmentor)

pytestmark = pytest.mark.skipif(
    bool(missing_dependencies()),
    reason='the browser test needs ' + '; '.join(missing_dependencies()))


@pytest.fixture(scope='module')
def page(tmp_path_factory):
    """The server with both tabs, Chromium on its page, and the models the test checks."""
    tmp = tmp_path_factory.mktemp('web_demo')
    *segment, segmentor = write_segmentor(str(tmp))
    *fewshot, fewshot_model = write_fewshot_segmentor(str(tmp))
    port, log = free_port(), str(tmp / 'server.log')
    server = start_server([*segment, '--fewshot', *fewshot, '--max-file-size', '200kb'],
                          port, log)
    driver = None
    try:
        driver = chromium(str(tmp / 'chromium-profile'))  # starts while the server loads
        wait_for_page(server, port, log)
        yield dict(driver=driver, tmp=tmp, segmentor=segmentor, fewshot=fewshot_model,
                   url=f'http://127.0.0.1:{port}/', server=server)
    finally:
        if driver is not None:
            driver.quit()
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture
def driver(page):
    """Chromium on a freshly loaded page (nothing left from an earlier test), after
    checking that the page's scripts threw nothing while it rendered."""
    driver = page['driver']
    driver.get('about:blank')  # what leaving the last test's page aborts is logged here
    script_errors(driver)
    driver.get(page['url'])
    wait_for(driver, '#segment-examples img')  # the page and its example pictures
    assert not script_errors(driver)
    return driver


def script_errors(driver) -> list:
    """The errors the browser's console got since the last call: an uncaught exception
    in one of Gradio's components can leave others on the page dead (a blank image
    editor) without any other sign."""
    return [entry['message'] for entry in driver.get_log('browser')
            if entry['level'] == 'SEVERE']


def test_console_check_sees_an_uncaught_error(driver):
    """The check every test makes can fail: an exception thrown on the page is reported."""
    from selenium.webdriver.support.ui import WebDriverWait
    driver.execute_script("setTimeout(() => { throw new Error('planted by the test'); }, 0)")
    errors = WebDriverWait(driver, WAIT).until(lambda d: script_errors(d))
    assert any('planted by the test' in message for message in errors)


def upload(driver, elem_id: str, path: str) -> None:
    """Put ``path`` in the upload field ``elem_id``, replacing what it held."""
    from selenium.webdriver.common.by import By
    for clear in driver.find_elements(By.CSS_SELECTOR, f'#{elem_id} button[aria-label=Clear]'):
        driver.execute_script('arguments[0].click()', clear)  # even under a pop-up message
    driver.find_element(By.CSS_SELECTOR, f'#{elem_id} input[type=file]').send_keys(path)


def status_text(driver, prefix: str, contains: str) -> str:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    status = driver.find_element(By.ID, f'{prefix}-status')
    WebDriverWait(driver, WAIT).until(lambda d: contains in status.text)
    return status.text


def toast_text(driver, contains: str) -> str:
    """The text of the pop-up message that mentions ``contains``."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def find(d):
        texts = [t.text for t in d.find_elements(By.CSS_SELECTOR, '.toast-message-text')]
        return next((t for t in texts if contains in t), None)
    return WebDriverWait(driver, WAIT).until(find)


def downloads(driver, prefix: str) -> dict:
    """The files offered for download, by name, as arrays."""
    links = wait_for(driver, f'#{prefix}-files a[href]')
    return {osp.basename(a.get_attribute('href')): fetch_png(a.get_attribute('href'))
            for a in links}


def write_image(path, array) -> str:
    Image.fromarray(array).save(str(path))
    return str(path)


def scene(h: int, w: int, seed: int, box) -> np.ndarray:
    """A plain noisy background with a green box at ``box`` (y0, y1, x0, x1)."""
    rng = np.random.default_rng(seed)
    image = rng.uniform(80, 200, 3) + rng.normal(0, 12, (h, w, 3))
    y0, y1, x0, x1 = box
    image[y0:y1, x0:x1] = (40, 200, 60) + rng.normal(0, 12, (y1 - y0, x1 - x0, 3))
    return np.clip(image, 0, 255).astype(np.uint8)


def test_segment_tab_draws_inference_models_prediction(page, driver):
    from mmseg.apis import inference_model

    from mmseg_expres.web_demo.examples import segment_examples

    from mmseg_expres.visualization import class_palette, overlay
    tmp, model = page['tmp'], page['segmentor']
    path = segment_examples(str(tmp / 'examples'), count=1, size=(48, 64))[0]
    upload(driver, 'segment-images', path)
    wait_for(driver, '#segment-images a[href]')  # the upload has finished
    click(driver, 'segment-run')
    shown = fetch_png(wait_for(driver, '#segment-gallery img')[0].get_attribute('src'))

    label = inference_model(model, path).pred_sem_seg.data[0].numpy()
    assert len(np.unique(label)) > 1
    meta = model.dataset_meta
    _, palette = class_palette(meta)
    expected = overlay(np.asarray(Image.open(path)), label, palette)
    np.testing.assert_array_equal(shown[..., :3], expected)
    np.testing.assert_array_equal(downloads(driver, 'segment')['scene0_mask.png'], label)
    top = np.bincount(label.ravel()).argmax()
    legend = driver.find_element('id', 'segment-summary').text
    assert meta['classes'][top] in legend and 'model' in legend and ' ms' in legend


def test_segment_tab_refuses_files_that_are_not_images(page, driver):
    tmp = page['tmp']
    broken = tmp / 'holiday.png'
    broken.write_text('not a picture')
    upload(driver, 'segment-images', str(broken))
    wait_for(driver, '#segment-images a[href*="holiday"]')
    click(driver, 'segment-run')
    message = status_text(driver, 'segment', 'holiday.png')
    assert 'is not an image this page can read: upload a PNG, JPEG' in message
    assert not driver.find_elements('css selector', '#segment-gallery img')  # cleared

    # 50 kB on disk, 1.2 GB decoded: refused from its header, the server's peak memory
    # (VmHWM) unchanged; decoding would add at least 400 MB (a byte a pixel).
    before = peak_memory(page['server'].pid)
    upload(driver, 'segment-images', write_png_bomb(str(tmp / 'bomb.png')))
    wait_for(driver, '#segment-images a[href*="bomb"]')
    click(driver, 'segment-run')
    message = status_text(driver, 'segment', 'bomb.png')
    assert ('bomb.png is over 16,777,216 pixels; the page takes images up to 4096 pixels a '
            'side: make it smaller first') in message
    assert peak_memory(page['server'].pid) - before < 100 << 20

    notes = tmp / 'notes.txt'
    notes.write_text('hello')
    upload(driver, 'segment-images', str(notes))  # refused by the page before uploading
    assert 'Invalid file type' in toast_text(driver, 'Invalid file type')
    assert not driver.find_elements('css selector', '#segment-images a[href*="notes"]')

    noise = np.random.default_rng(2).integers(0, 256, (400, 400, 3), dtype=np.uint8)
    big = write_image(tmp / 'big.png', noise)  # about 480 kB: over --max-file-size 200kb
    upload(driver, 'segment-images', big)
    assert 'exceed the maximum allowed size of 200.0 Kb' in toast_text(driver, 'big.png')


def upload_picture(driver, elem_id: str, path: str) -> None:
    """Upload into an image editor and wait until it shows the picture (its zoom changes
    from the empty canvas's)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    zoom = wait_for(driver, f'#{elem_id} .zoom-number')[0]  # the editor has rendered
    empty = zoom.text
    upload(driver, elem_id, path)
    WebDriverWait(driver, WAIT).until(lambda d: zoom.text != empty)


def paint_stroke(driver, elem_id: str, image_shape, y: int, x0: int, x1: int) -> None:
    """Drag the mouse across image row ``y`` from column ``x0`` to ``x1``."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    canvas = driver.find_element(By.CSS_SELECTOR, f'#{elem_id} .pixi-target canvas')
    zoom = float(driver.find_element(
        By.CSS_SELECTOR, f'#{elem_id} .zoom-number').text.strip('%')) / 100
    h, w = image_shape  # the picture is drawn centred in the canvas at ``zoom``

    def offset(col, row):
        return int((col + 0.5 - w / 2) * zoom), int((row + 0.5 - h / 2) * zoom)
    # 20 ms a move instead of Selenium's 250: a stroke, not a slow drag.
    chain = ActionChains(driver, duration=20).move_to_element_with_offset(canvas, *offset(x0, y))
    chain.click_and_hold()
    for col in np.linspace(x0, x1, 4)[1:]:
        chain.move_to_element_with_offset(canvas, *offset(col, y))
    chain.release().perform()


def test_fewshot_tab_segments_queries_from_a_painted_reference(page, driver):
    from selenium.webdriver.common.by import By

    from mmseg_expres.apis import fewshot_segment
    from mmseg_expres.visualization import OBJECT_RGB, overlay_mask
    tmp, model = page['tmp'], page['fewshot']
    open_fewshot_tab(driver)
    box = (50, 110, 40, 120)  # y0, y1, x0, x1 of the object in the reference
    reference = write_image(tmp / 'reference.png', scene(160, 160, seed=3, box=box))
    query = write_image(tmp / 'query.png', scene(160, 160, seed=4, box=(70, 130, 20, 100)))
    upload_picture(driver, 'fewshot-reference-0', reference)
    # Gradio's brush is 25 pixels of the picture wide: the stroke stays inside the object.
    paint_stroke(driver, 'fewshot-reference-0', (160, 160), y=80, x0=65, x1=95)
    upload(driver, 'fewshot-queries', query)
    wait_for(driver, '#fewshot-queries a[href]')
    click(driver, 'fewshot-run')
    shown = fetch_png(wait_for(driver, '#fewshot-gallery img')[0].get_attribute('src'))
    files = downloads(driver, 'fewshot')

    painted = files['reference1_mask.png']
    assert set(np.unique(painted)) == {0, 1}
    assert painted[75:86, 65:96].all()  # under the stroke
    assert not painted[:50].any() and not painted[:, :40].any()  # outside the object
    expected = fewshot_segment(model, query, [reference], [painted])
    np.testing.assert_array_equal(files['query_mask.png'], expected)
    assert 0 < expected.mean() < 1
    np.testing.assert_array_equal(
        shown[..., :3], overlay_mask(np.asarray(Image.open(query)), expected, OBJECT_RGB))

    # A second reference with nothing painted: a message on the page, not a stack trace.
    click(driver, 'fewshot-add')
    upload_picture(driver, 'fewshot-reference-1', reference)
    click(driver, 'fewshot-run')
    message = status_text(driver, 'fewshot', 'reference 2')
    assert 'Nothing is painted on reference 2: paint over the object' in message
    assert not script_errors(driver)


def test_examples_fill_the_inputs_and_run(page, driver):
    """Each tab's example picture, clicked, fills its inputs; the runs give what the
    models give on the same files (made again here: the generators are seeded)."""
    from mmseg.apis import inference_model

    from mmseg_expres.apis import fewshot_segment
    from mmseg_expres.web_demo.examples import fewshot_example, segment_examples
    tmp = page['tmp']
    run_segment_example(driver)
    scene = segment_examples(str(tmp / 'page_examples'))[0]
    label = inference_model(page['segmentor'], scene).pred_sem_seg.data[0].numpy()
    np.testing.assert_array_equal(downloads(driver, 'segment')['scene0_mask.png'], label)

    run_fewshot_example(driver)
    files = downloads(driver, 'fewshot')
    reference, mask, queries = fewshot_example(str(tmp / 'page_examples'))
    for query in queries:
        expected = fewshot_segment(page['fewshot'], query, [reference], [mask])
        name = osp.basename(query).replace('.png', '_mask.png')
        np.testing.assert_array_equal(files[name], expected)
    assert not script_errors(driver)
