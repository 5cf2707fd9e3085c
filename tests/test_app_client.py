"""The launched studio through gradio_client: `/segment` on a shipped example returns masks of the
video's size, the overlay and the scores, and stores the run; page events are not a public API."""
from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
from PIL import Image

from app.server import ServeOptions, serve
from app.ui import build_app
from derrvos_core.video import probe
from tests.helpers_app import free_port, make_service


@pytest.fixture
def studio(tiny_model, tmp_path):
    service = make_service(tiny_model, tmp_path)
    demo = serve(build_app(service), service, ServeOptions(port=free_port(), block=False))
    yield service, demo.local_url
    demo.close()


def test_segment_api_returns_masks_of_the_video_size_and_stores_the_run(studio, clip):
    from gradio_client import Client, handle_file
    service, url = studio
    client = Client(url, verbose=False)
    overlay, masks_zip, scores = client.predict(handle_file(str(clip)), "the orange cross", 4, 0.5,
                                                api_name="/segment")
    info = probe(clip)
    with zipfile.ZipFile(masks_zip) as archive:
        names = sorted(n for n in archive.namelist() if n.endswith(".png"))
        assert len(names) == info.num_frames
        for name in names:
            mask = np.asarray(Image.open(io.BytesIO(archive.read(name))))
            assert mask.shape == (info.height, info.width) and set(np.unique(mask)) <= {0, 255}
    overlay_path = overlay["video"] if isinstance(overlay, dict) else overlay
    assert probe(overlay_path).num_frames == info.num_frames
    scores = scores if isinstance(scores, dict) else json.loads(scores)
    run = service.store.get_run(scores["run_id"])
    assert run.expression == "the orange cross" and run.crop_size == 4 and run.num_frames == info.num_frames
    stored = {t.trajectory_id: t.score for t in service.store.load_run(run.id).trajectories}
    assert {t["trajectory_id"]: pytest.approx(t["score"], abs=1e-5) for t in scores["trajectories"]} == stored
    assert scores["selected"] == sorted(i for i, s in stored.items() if s >= 0.5)


def test_only_segment_is_a_public_endpoint(studio):
    from gradio_client import Client
    _, url = studio
    api = Client(url, verbose=False).view_api(print_info=False, return_format="dict")
    assert list(api["named_endpoints"]) == ["/segment"]
    assert not api["unnamed_endpoints"]
