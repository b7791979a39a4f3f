"""The README's code examples run as written (the ones that do not train for minutes)."""

import re
from pathlib import Path

import numpy as np

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
    # The example's claims: 32 int64 accumulators, bit-exact with the hardware (checked
    # against the spec's plain-Python reading) and, divided by 2**(J+F), close to the
    # real dot product with the decoded weights.
    from reference_model import ref_dot

    from golden.codes import levels

    code = _blocks("## Python API")[1]
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    acc, acts, codes, cfg = scope["acc"], scope["acts"], scope["codes"], scope["cfg"]
    assert acc.dtype == np.int64 and acc.shape == (32,)
    want = [ref_dot(a, codes, wbits=cfg.wbits, variant="lut", frac_bits=cfg.frac_bits,
                    acc_bits=cfg.acc_bits) for a in acts]
    assert acc.tolist() == want
    exact = acts @ levels(cfg.wbits)[codes]
    # An odd-exponent term's LUT entry x * 2**F / sqrt(2) is rounded by at most 1/2, then
    # shifted left by at most J: each term is off by at most 2**J / 2 in accumulator units.
    err = np.abs(acc - exact * 2 ** (cfg.J + cfg.frac_bits))
    assert np.all(err <= acts.shape[1] * 2**cfg.J / 2)
    assert err.max() > 0                  # the LUT rounds: the bound is not met trivially
