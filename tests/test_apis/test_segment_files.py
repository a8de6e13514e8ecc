"""The pieces of tools/infer.py's loop that need no model: writer thread, progress, summary."""
import io

import pytest

from mmseg_expres.apis.segment_files import BackgroundWriter, Progress, Summary


def test_background_writer_keeps_order_and_raises_a_jobs_error():
    done = []
    writer = BackgroundWriter(limit=2)
    for i in range(10):
        writer.submit(done.append, i)
    writer.close()
    assert done == list(range(10))
    writer = BackgroundWriter(limit=2)
    with pytest.raises(ZeroDivisionError):  # at a later submission or at the latest close
        writer.submit(lambda: 1 / 0)
        for _ in range(3):
            writer.submit(lambda: None)
        writer.close()


def test_progress_line_and_summary():
    stream = io.StringIO()
    progress = Progress(4, stream)
    progress.update(2)
    progress.close()
    assert '] 2/4 images, ' in stream.getvalue() and ' images/s, ' in stream.getvalue()
    summary = Summary(images=3, videos=1, frames=20, seconds=2.3,
                      failed=[('x.jpg', 'Cannot decode x.jpg')])
    assert summary.report().splitlines() == [
        'Segmented 3 image(s) and 20 frame(s) of 1 video(s): 10.0 images/s.',
        '1 input(s) failed:', '  x.jpg: Cannot decode x.jpg']
