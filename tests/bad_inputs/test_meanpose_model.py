"""Bad meanpose model files (``methods.substitution.MeanPoseMethod.load``, the file the runner's model cache keeps):
a damaged, empty, unreadable or foreign file, or one whose parameters are malformed or not finite, is a
DataFileError naming the file (and the field), never a torch traceback; a file of another config is refused naming
both hashes. The method is fitted on a few STS bodies (no dataset generation); a few seconds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from _corrupt import as_directory, assert_names, empty, garbage, truncate, unreadable

from bench.errors import DataFileError
from bench.method import MethodContext
from bench.registry import create_method
from bench.samples import ID_FIELDS, SampleSet
from methods.proposed.method import body_models
from methods.proposed.sts import STSConfig, STSStream


@pytest.fixture(scope="module")
def saved(tmp_path_factory, embedded_cache) -> Path:
    train_model, _, _ = body_models(None, "cpu")
    s = STSStream(train_model, STSConfig(pool=32), seed=3, device="cpu").sample(8)
    n = 8
    ids = {k: np.zeros(n, dtype=int if k in ("frame", "person") else str) for k in ID_FIELDS}
    train = SampleSet(name="sts", skeleton="smplx_127", keypoints2d=s["keypoints2d"].numpy(),
                      image_size=s["image_size"].numpy(), K=np.tile(np.eye(3), (n, 1, 1)),
                      R=np.tile(np.eye(3), (n, 1, 1)), t=np.zeros((n, 3)), dist=np.zeros((n, 5)),
                      joints3d=s["joints"].double().numpy(), joints3d_valid=np.ones((n, 127), bool), ids=ids,
                      smplx={k: v.numpy() for k, v in s["smplx"].items()})  # fmt: skip
    method = create_method("meanpose", MethodContext())
    method.fit({"sts": train})
    path = tmp_path_factory.mktemp("meanpose") / "meanpose.model"
    method.save(path)
    return path


def _copy(saved: Path, tmp_path: Path) -> Path:
    path = tmp_path / "meanpose.model"
    path.write_bytes(saved.read_bytes())
    return path


def _load(path: Path) -> None:
    create_method("meanpose", MethodContext()).load(path)


@pytest.mark.parametrize("damage", [truncate, garbage, empty, as_directory])
def test_a_damaged_file_names_the_file(saved, tmp_path, damage):
    path = damage(_copy(saved, tmp_path))
    with pytest.raises(DataFileError) as info:
        _load(path)
    assert_names(info.value, str(path), "cannot read the meanpose model file")


def test_an_unreadable_file_names_the_file(saved, tmp_path, monkeypatch):
    path = unreadable(_copy(saved, tmp_path), monkeypatch)
    with pytest.raises(DataFileError) as info:
        _load(path)
    assert_names(info.value, str(path), "PermissionError")


def _rewrite(saved: Path, tmp_path: Path, change) -> Path:
    data = torch.load(saved, weights_only=True)
    change(data)
    path = tmp_path / "meanpose.model"
    torch.save(data, path)
    return path


def test_malformed_or_non_finite_parameters_name_the_field(saved, tmp_path):
    path = _rewrite(saved, tmp_path, lambda d: d["params"].pop("betas"))
    with pytest.raises(DataFileError) as info:
        _load(path)
    assert_names(info.value, str(path), "field 'params'")
    path = _rewrite(saved, tmp_path, lambda d: d["params"]["body_pose"].fill_(float("nan")))
    with pytest.raises(DataFileError) as info:
        _load(path)
    assert_names(info.value, str(path), "field 'params'", "non-finite", "body_pose")


def test_a_file_that_is_not_a_dict_or_of_another_config_is_refused(saved, tmp_path):
    path = tmp_path / "list.model"
    torch.save([1, 2], path)
    with pytest.raises(DataFileError) as info:
        _load(path)
    assert_names(info.value, str(path), "not a meanpose model file")
    with pytest.raises(ValueError, match="config hash"):
        create_method("meanpose[shape=mean]", MethodContext()).load(saved)
