"""TensorFlow itself confirms the audit's "when": payloads rated load run while loading, call ones only when called.

The corpus payloads write or print under /dev/null, so running one makes
TensorFlow fail at the payload node (creating nothing): loading a model whose
payload the audit says runs at load fails, loading one whose payload runs at
call succeeds (and calling its signature fails).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.oracle
tf = pytest.importorskip("tensorflow")

from tfformats.audit import audit_path  # noqa: E402

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "audit" / "corpus"
CASES = json.loads((CORPUS / "corpus.json").read_text(encoding="utf-8"))["cases"]
# SavedModels whose payload fails visibly (it touches DROP, or is an op TensorFlow does not have); a payload
# inside a graph given to DatasetFromGraph runs only as far as that dataset is iterated.
VISIBLE = ("WriteFile", "PrintV2", "SaveV2", "DebugIdentityV2", "DebugIdentityV3", "TfformatsCorpusNativeOp",
           "CreateSummaryFileWriter", "DatasetToTFRecord", "CacheDatasetV2")
TF2_LOAD = sorted(n for n, c in CASES.items() if c["malicious"] and c["target"] == "." and c["payload"] in VISIBLE
                  and "DatasetFromGraph" not in c["place"] and "tf.saved_model.load" in c["loaders"] and not n.startswith("tf1_"))
TF1_LOAD = sorted(n for n, c in CASES.items() if c["malicious"] and n.startswith("tf1_") and c["when"] == "load"
                  and c["payload"] in VISIBLE)
CALL = sorted(n for n, c in CASES.items() if c["malicious"] and c["target"] == "." and c["when"] == "call"
              and c["payload"] in VISIBLE and "DatasetFromGraph" not in c["place"])


def _failed_at_payload(name: str, error: BaseException) -> bool:
    """TensorFlow's error names the node that failed (the payload) or the /dev/null path it tried."""
    text = str(error)
    return CASES[name]["payload"] in text or "/dev/null" in text


def _when(name: str) -> set[str]:
    payload = CASES[name]["payload"]
    return {f.when for f in audit_path(CORPUS / name).at_least("high") if f.op == payload or payload in f.message}


@pytest.mark.parametrize("name", TF2_LOAD)
def test_payload_rated_load_runs_in_tf_saved_model_load(name: str) -> None:
    assert "load" in _when(name)
    with pytest.raises(Exception) as caught:
        tf.saved_model.load(str(CORPUS / name))
    assert _failed_at_payload(name, caught.value)


@pytest.mark.parametrize("name", TF1_LOAD)
def test_payload_rated_load_runs_in_the_tf1_loader(name: str) -> None:
    assert "load" in _when(name)
    tf1 = tf.compat.v1
    with tf.Graph().as_default(), tf1.Session() as sess:
        with pytest.raises(Exception) as caught:
            tf1.saved_model.load(sess, ["serve"], str(CORPUS / name))
    assert _failed_at_payload(name, caught.value)
    if "tf.saved_model.load" in CASES[name]["loaders"]:  # TF2's loader runs a TF1 model's init op too
        with pytest.raises(Exception) as caught:
            tf.saved_model.load(str(CORPUS / name))
        assert _failed_at_payload(name, caught.value)


@pytest.mark.parametrize("name", CALL)
def test_payload_rated_call_does_not_run_at_load_but_runs_when_called(name: str) -> None:
    assert _when(name) == {"call"}
    if CASES[name]["payload"] == "TfformatsCorpusNativeOp":
        pytest.skip("a model with an unregistered op cannot be loaded at all")
    loaded = tf.saved_model.load(str(CORPUS / name))
    with pytest.raises(Exception) as caught:
        loaded.signatures["serving_default"](x=tf.constant(1.0))
    assert _failed_at_payload(name, caught.value)


def test_benign_models_load_and_run_in_tensorflow() -> None:
    for name in ("ok_vocab_assets", "ok_print_stderr", "ok_data_pipeline", "ok_control_flow"):
        tf.saved_model.load(str(CORPUS / name))
