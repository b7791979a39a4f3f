import json
import re

import pytest

from asq_hw import PEConfig
from hw.gen import generate_pe, manifest_text, write_pe
from hw.pe import pe_latency

ROLES_LUT = ["clk", "rst", "in_valid", "in_ready", "in_act", "in_code", "in_last",
             "out_valid", "out_ready", "out_acc"]
ROLES_DUAL = ROLES_LUT[:-1] + ["out_acc_even", "out_acc_odd"]


def verilog_ports(text, top):
    """{name: (dir, width)} from the module's port declarations."""
    body = text[text.index(f"module {top}("):]
    body = body[:body.index("endmodule")]
    ports = {}
    for d, msb, name in re.findall(r"^\s*(input|output)\s+(?:\[(\d+):0\]\s+)?(\w+);", body,
                                   re.M):
        ports[name] = ("in" if d == "input" else "out", int(msb) + 1 if msb else 1)
    return ports


@pytest.mark.parametrize("variant", ["lut", "dual"])
def test_manifest_is_the_spec_and_matches_the_verilog(variant):
    cfg = PEConfig(wbits=5, abits=3, act_signed=True, variant=variant, frac_bits=6, lanes=3,
                   max_len=300)
    text, man = generate_pe(cfg)
    assert set(man) == {"top", "config", "latency", "ports"}
    assert man["top"] == "post_pe"
    assert man["config"] == cfg.to_dict() and PEConfig.from_dict(man["config"]) == cfg
    assert man["latency"] == pe_latency(cfg) == 3 + 1      # 3 lanes: one tree stage
    roles = [p["role"] for p in man["ports"]]
    assert sorted(roles) == sorted(ROLES_LUT if variant == "lut" else ROLES_DUAL)
    width = {"in_act": 3 * 3, "in_code": 3 * 5, "out_acc": cfg.acc_bits,
             "out_acc_even": cfg.acc_bits, "out_acc_odd": cfg.acc_bits}
    assert verilog_ports(text, "post_pe") == {p["name"]: (p["dir"], p["width"])
                                              for p in man["ports"]}
    for p in man["ports"]:
        assert p["name"] == p["role"]
        assert p["width"] == width.get(p["role"], 1)
        assert p["dir"] == ("out" if p["role"] in ("in_ready", "out_valid") or
                            p["role"].startswith("out_acc") else "in")


def test_output_is_reproducible_and_has_no_paths():
    cfg = PEConfig(lanes=2)
    a, man_a = generate_pe(cfg)
    b, man_b = generate_pe(cfg)
    assert a == b and manifest_text(man_a) == manifest_text(man_b)
    assert "/work" not in a and "src =" not in a and ".py" not in a


def test_write_pe_writes_both_files_and_keeps_unchanged_ones(tmp_path):
    cfg = PEConfig(wbits=3, abits=5, variant="dual")
    v, j, man = write_pe(cfg, tmp_path / "out")
    assert v.name == "post_pe.v" and j.name == "post_pe.json"
    assert json.loads(j.read_text()) == man
    assert "module post_pe(" in v.read_text()
    before = (v.stat().st_mtime_ns, j.stat().st_mtime_ns)
    write_pe(cfg, tmp_path / "out")
    assert (v.stat().st_mtime_ns, j.stat().st_mtime_ns) == before
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["post_pe.json",
                                                                    "post_pe.v"]


@pytest.mark.parametrize("kind,top", [("int", "int_pe"), ("pot", "pot_pe")])
def test_baselines_generate_with_their_own_top_and_acc_width(kind, top):
    from golden.baselines import baseline_acc_bits
    cfg = PEConfig(wbits=4, abits=4, lanes=2, max_len=64)
    text, man = generate_pe(cfg, kind)
    assert man["top"] == top and f"module {top}(" in text
    assert man["acc_bits"] == baseline_acc_bits(kind, cfg)
    assert verilog_ports(text, top)["out_acc"] == ("out", man["acc_bits"])


def test_unknown_kind_is_named():
    with pytest.raises(ValueError, match=r"^kind must be one of post, int, pot, not 'fp'$"):
        generate_pe(PEConfig(), "fp")
