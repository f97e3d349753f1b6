"""Bring your own face model: an ONNX embedder the test builds itself is registered from its
local path, runs beside the default model, is refused for search and clustering until it is
calibrated, and its vectors are never compared with the default model's."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from vigil.cli.main import app, main
from vigil.errors import Conflict, InvalidInput
from vigil.faces import service
from vigil.faces.onnx_embedder import OnnxEmbedder
from vigil.settings import Settings
from vigil.store import faces as store
from vigil.store.db import Database

from .helpers import photo_bytes, variant_bytes

onnx = pytest.importorskip("onnx")
runner = CliRunner()


def tiny_model(path: Path, *, dim: int = 64, side: int = 112, seed: int = 0) -> Path:
    """A small "face model": 8 x 8 average pooling, then a fixed random projection to ``dim``."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    cells = 3 * (side // 8) ** 2
    weights = numpy_helper.from_array(rng.normal(0, 1, (cells, dim)).astype(np.float32), "w")
    shape = numpy_helper.from_array(np.array([-1, cells], np.int64), "shape")
    nodes = [
        helper.make_node("AveragePool", ["input"], ["pooled"], kernel_shape=[8, 8], strides=[8, 8]),
        helper.make_node("Reshape", ["pooled", "shape"], ["flat"]),
        helper.make_node("MatMul", ["flat", "w"], ["embedding"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny_face",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, side, side])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", dim])],
        initializer=[weights, shape],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 10
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())
    return path


def vigil(*args: str) -> object:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout) if "--json" in args else result.stdout


def test_the_embedder_checks_the_file_and_embeds(tmp_path: Path) -> None:
    emb = OnnxEmbedder(tiny_model(tmp_path / "tiny.onnx"), "tiny")
    assert emb.dim == 64 and emb.card.name == "onnx:tiny" and len(emb.card.sha256) == 64
    chips = [np.full((112, 112, 3), v, np.uint8) for v in (10, 200)]
    vecs = emb.embed(chips)
    assert vecs.shape == (2, 64) and np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert emb.embed([]).shape == (0, 64)
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(InvalidInput, match="not a loadable ONNX model"):
        OnnxEmbedder(tmp_path / "junk.onnx", "junk")
    with pytest.raises(InvalidInput, match="input shape"):
        OnnxEmbedder(tiny_model(tmp_path / "wrong.onnx", side=64), "wrong")


def test_register_refuses_bad_names_licences_and_duplicates(db: Database, tmp_path: Path) -> None:
    path = tiny_model(tmp_path / "tiny.onnx")
    with pytest.raises(InvalidInput, match="licence"):
        service.register_model(db, path, "tiny", " ", "tester")
    with pytest.raises(InvalidInput, match="without spaces"):
        service.register_model(db, path, "tiny model", "CC0", "tester")
    data = service.register_model(db, path, "tiny", "CC0 (test)", "tester")
    assert data["calibrated"] is False and data["card"]["dim"] == 64
    with pytest.raises(Conflict):
        service.register_model(db, path, "tiny", "CC0 (test)", "tester")
    # a file changed after registration is refused
    tiny_model(path, seed=1)
    with pytest.raises(InvalidInput, match="changed since it was registered"):
        service.model_pipeline(db, "tiny")


@pytest.mark.slow
def test_a_unit_model_runs_beside_the_default_and_needs_calibration(
    tmp_path: Path, settings: Settings
) -> None:
    evidence = tmp_path / "seized"
    evidence.mkdir()
    for n, name in enumerate(("obama_1.jpg", "obama_2.jpg", "biden_1.jpg")):
        (evidence / f"IMG_{n}.jpg").write_bytes(photo_bytes(name))
    vigil("ingest", str(evidence), "--case", "op-own", "--analyzer", "faces", "--workers", "0",
          "--json", "--quiet")  # fmt: skip
    default_faces = vigil("faces", "list", "op-own", "--json")
    assert isinstance(default_faces, list) and len(default_faces) == 3
    model = tiny_model(tmp_path / "tiny.onnx")
    added = vigil("faces", "models", "add", str(model), "--name", "tiny", "--licence", "CC0",
                  "--json")  # fmt: skip
    assert added["calibrated"] is False  # type: ignore[index]
    scanned = vigil("faces", "scan", "op-own", "--model", "tiny", "--json")
    assert scanned["faces"] == 3 and scanned["clusters"] is None  # type: ignore[index]
    assert vigil("faces", "scan", "op-own", "--model", "tiny", "--json")["pending"] == 0  # type: ignore[index]
    # not calibrated: refused for clustering and search (not ready, exit 8)
    query = tmp_path / "q.jpg"
    query.write_bytes(photo_bytes("obama_3.jpg"))
    assert main(["faces", "cluster", "op-own", "--model", "tiny"]) == 8
    assert main(["faces", "search", str(query), "--model", "tiny"]) == 8
    assert "NOT calibrated" in str(vigil("faces", "models", "list"))
    # its own calibration on a labelled set
    labelled = tmp_path / "labelled"
    for person, names in {"obama": ["obama_1.jpg", "obama_2.jpg"], "biden": ["biden_1.jpg"],
                          "hopper": ["hopper_1.jpg"]}.items():  # fmt: skip
        (labelled / person).mkdir(parents=True)
        for i, name in enumerate(names):
            (labelled / person / f"{i}.jpg").write_bytes(photo_bytes(name))
            (labelled / person / f"v{i}.jpg").write_bytes(variant_bytes(name, seed=i + 3))
    cal = vigil("faces", "calibrate", str(labelled), "--model", "tiny", "--json")
    assert cal["threshold"] > 0  # type: ignore[index]
    clustered = vigil("faces", "cluster", "op-own", "--model", "tiny", "--json")
    assert clustered["faces"] == 3  # type: ignore[index]
    found = vigil("faces", "search", str(query), "--model", "tiny", "--json")
    assert found["model"]["name"] == "onnx:tiny" and found["model"]["dim"] == 64  # type: ignore[index]
    # the default model is untouched and the two models' vectors are never mixed
    assert main(["faces", "cluster", "op-own"]) == 0
    db = Database(Settings.load().database_url)
    try:
        with db.read() as s:
            tiny_id = store.get_model_file(s, "tiny").model_id
            default_ids = [m for m in store.embedder_model_ids(s) if m != tiny_id]
            assert len(default_ids) == 1
            tiny_index = service.open_index(s, Settings.load(), tiny_id)
            default_index = service.open_index(s, Settings.load(), default_ids[0])
            tiny_ids, tiny_vecs = store.embeddings_for_model(s, tiny_id)
            default_ids_, default_vecs = store.embeddings_for_model(s, default_ids[0])
        assert tiny_vecs.shape == (3, 64) and default_vecs.shape == (3, 128)
        assert set(tiny_ids.tolist()).isdisjoint(default_ids_.tolist())
        assert len(tiny_index) == 3 and len(default_index) == 3
        # each index holds only its own model's vectors: a search returns nothing else
        (hits,) = tiny_index.search(tiny_vecs[:1], 10)
        assert {h.embedding_id for h in hits} <= set(tiny_ids.tolist())
        (hits,) = default_index.search(default_vecs[:1], 10)
        assert {h.embedding_id for h in hits} <= set(default_ids_.tolist())
    finally:
        db.dispose()
