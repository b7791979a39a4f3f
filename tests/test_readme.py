"""The README's code examples run as written (the ones that do not train for minutes)."""

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def _blocks(after: str) -> list[str]:
    text = README.read_text()
    section = text[text.index(after):]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_own_model_example_exports_a_working_artifact(tmp_path, monkeypatch):
    from asq_hw import mapper
    from asq_hw.artifact import load_artifact
    from asq_hw.data import load_dataset
    from golden.network import GoldenNetwork

    monkeypatch.chdir(tmp_path)
    code = _blocks("## Your own PyTorch model")[0]
    exec(compile(code, "README.md", "exec"), {})
    art = load_artifact(tmp_path / "build" / "mynet")
    assert [lay.name for lay in art.compute_layers()] == ["conv0", "conv1", "linear2"]
    preds = GoldenNetwork(art, "dual").run(load_dataset("digits").x_test[:5].numpy()).preds
    assert preds.shape == (5,)
    assert [n for n, _ in mapper.network_cycles(art, "lut", 8, 8)] == \
        ["conv0", "conv1", "linear2"]


def test_golden_pe_example():
    code = _blocks("## Python API")[1]
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    assert scope["acc"].shape == (32,)
