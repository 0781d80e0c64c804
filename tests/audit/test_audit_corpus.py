"""The audit corpus written by TensorFlow (tools/fixtures/audit_corpus.py): every payload found, no false alarm."""

from __future__ import annotations

import json

import pytest

from fixture_data import FIXTURES
from tfformats.audit import audit_path
from tfformats.cli import main

CORPUS = FIXTURES / "audit" / "corpus"
MANIFEST = json.loads((CORPUS / "corpus.json").read_text(encoding="utf-8"))["cases"]
MALICIOUS = sorted(n for n, c in MANIFEST.items() if c["malicious"])
BENIGN = sorted(n for n, c in MANIFEST.items() if not c["malicious"])


def test_corpus_covers_every_hiding_place_and_enough_benign_models() -> None:
    places = {MANIFEST[n]["place"] for n in MALICIOUS}
    for needle in ("signature", "nested tf.function", "tf.cond", "dataset map", "TF1 main_op", "legacy_init_op",
                   "init op", "restore function", "resource creator", "pbtxt", "Keras Lambda", ".meta",
                   "bare GraphDef", "DatasetFromGraph", "base64", "custom op"):
        assert any(needle in p for p in places), needle
    assert len(MALICIOUS) >= 40 and len(BENIGN) >= 13


@pytest.mark.parametrize("name", MALICIOUS)
def test_malicious_model_is_flagged_with_its_payload_and_when(name: str) -> None:
    case = MANIFEST[name]
    report = audit_path(CORPUS / name / case["target"])
    hits = [f for f in report.at_least("high") if f.op == case["payload"] or case["payload"] in f.message]
    assert hits, [f.to_dict() for f in report.at_least("medium")]
    # The payload may also be copied into other functions TensorFlow traced; the one the case planted runs then.
    planted = [f for f in hits if f.when == case["when"]]
    assert planted, [(f.location, f.when) for f in hits]
    assert set(case["loaders"]) <= {loader for f in planted for loader in f.loaders}
    if case["payload"] != "Lambda":
        assert all(f.via for f in planted), [f.location for f in planted]


@pytest.mark.parametrize("name", BENIGN)
def test_benign_model_is_clean_at_the_default_level(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    case = MANIFEST[name]
    report = audit_path(CORPUS / name / case["target"])
    assert not report.at_least("high"), [f.to_dict() for f in report.at_least("high")]
    assert main(["audit", str(CORPUS / name / case["target"])]) == 0
    assert "OK: nothing at or above high" in capsys.readouterr().out


def test_every_payload_site_is_reported_once_with_every_path_to_it() -> None:
    # TF2 signature payloads used to appear twice: through the signature chain and as a library copy.
    for name in ("sig_writefile", "nested_writefile", "init_writefile"):
        report = audit_path(CORPUS / name)
        sites = [(f.location, f.category) for f in report.findings if f.op == "WriteFile"]
        assert len(sites) == len(set(sites)), sites
    report = audit_path(CORPUS / "init_writefile")
    write = [f for f in report.findings if f.op == "WriteFile"]
    assert len(write) == 1
    entries = {path[0] for path in write[0].via}
    assert any("resource function" in e for e in entries)
    assert any("init" in e and "resource" not in e for e in entries)  # the TF1/C++ loader's init op
    assert set(write[0].loaders) == {"tf.saved_model.load", "TF1/C++ loader"}
