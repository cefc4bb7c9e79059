"""The body build is reproducible and yields a model that passes the same checks as the shipped one."""

import numpy as np
import pytest
import torch

pytest.importorskip("anny", reason="the body build needs the body-build extra")


def test_small_build_is_deterministic_and_usable(tmp_path):
    from core.body import BodyModel
    from core.body.build import BuildConfig, build_body_model

    cfg = BuildConfig(num_samples=30, target_faces=2000)
    a = build_body_model(tmp_path / "a" / "open_body.npz", cfg, log=lambda *_: None)
    b = build_body_model(tmp_path / "b" / "open_body.npz", cfg, log=lambda *_: None)
    assert a["sha256"] == b["sha256"] and a["head_sha256"] == b["head_sha256"]
    assert a["head_shape_fit_error_mm"]["mean"] < 2.0
    assert 1900 <= a["faces"] <= 2000
    assert a["joint_regressor_error_mm"]["mean"] < 15
    body = BodyModel(tmp_path / "a")
    out = body()
    assert out.vertices.shape == (1, a["vertices"], 3)
    w = body.smpl.lbs_weights
    assert np.allclose(w.sum(1).numpy(), 1.0, atol=1e-5)
    from core.body.head import load_head

    head = load_head(body)
    assert head(torch.zeros(1, 10), out.transforms).shape == (1, a["head_vertices"], 3)
