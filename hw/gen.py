"""Verilog and manifest generation for the PEs (spec section 6).

`generate_pe(cfg)` returns the Verilog text of top module `post_pe` and its manifest
{"top", "config", "latency", "ports"}; `write_pe(cfg, out_dir)` writes `post_pe.v` and
`post_pe.json`. Output is reproducible: `emit_src=False` keeps source paths out of the
Verilog, and the manifest is written with sorted keys. Files are written atomically (a
temporary file in the same folder, then os.replace), after everything has been generated,
so a failure leaves no file behind. The baselines (`int_pe`, `pot_pe`) go through the same
functions with `kind`.
"""

from __future__ import annotations

import json
from pathlib import Path

from amaranth.back import verilog
from amaranth.hdl import Shape
from amaranth.lib.wiring import Flow

from asq_hw.config import PEConfig
from asq_hw.designs import DESIGN_KINDS
from asq_hw.outputs import write_text


def make_pe(cfg: PEConfig, kind: str = "post"):
    """The PE component of `kind` for `cfg`."""
    if not isinstance(cfg, PEConfig):
        raise ValueError(f"cfg must be a PEConfig, not {type(cfg).__name__}")
    if kind == "post":
        from hw.pe import PostPE
        return PostPE(cfg)
    if kind == "int":
        from hw.baselines import IntPE
        return IntPE(cfg)
    if kind == "pot":
        from hw.baselines import PotPE
        return PotPE(cfg)
    raise ValueError(f"kind must be one of {', '.join(DESIGN_KINDS)}, not {kind!r}")


def port_list(pe) -> list[dict]:
    """The manifest's "ports": clk and rst of the sync domain, then the signature's members,
    each {"name", "dir", "width", "role"}; a port's role is its name (spec section 6)."""
    ports = [{"name": "clk", "dir": "in", "width": 1, "role": "clk"},
             {"name": "rst", "dir": "in", "width": 1, "role": "rst"}]
    for name, member in pe.signature.members.items():
        ports.append({
            "name": name,
            "dir": "in" if member.flow == Flow.In else "out",
            "width": Shape.cast(member.shape).width,
            "role": name,
        })
    return ports


def manifest(pe) -> dict:
    return {
        "top": pe.top,
        "config": pe.cfg.to_dict(),
        "latency": pe.latency,
        "ports": port_list(pe),
    }


def generate_pe(cfg: PEConfig, kind: str = "post") -> tuple[str, dict]:
    """(Verilog text, manifest) of the PE of `kind` for `cfg`."""
    pe = make_pe(cfg, kind)
    text = verilog.convert(pe, name=pe.top, emit_src=False)
    man = manifest(pe)
    if pe.top != "post_pe":
        # Baselines size their own accumulator; say so where a reader looks.
        man["acc_bits"] = pe.acc_bits
    return text, man


def manifest_text(man: dict) -> str:
    return json.dumps(man, indent=2, sort_keys=True) + "\n"


def write_pe(cfg: PEConfig, out_dir, kind: str = "post") -> tuple[Path, Path, dict]:
    """Generate and write DIR/<top>.v and DIR/<top>.json; returns their paths and the
    manifest. An unchanged file is not rewritten (its mtime stays, so builds reuse it)."""
    return write_design(*generate_pe(cfg, kind), out_dir)


def write_design(text: str, man: dict, out_dir) -> tuple[Path, Path, dict]:
    """Write DIR/<top>.v and DIR/<top>.json for generated `text` and manifest `man`, each
    atomically; an unchanged file is not rewritten. Returns their paths and the manifest."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for suffix, content in ((".v", text), (".json", manifest_text(man))):
        p = out / f"{man['top']}{suffix}"
        if not (p.is_file() and p.read_text(encoding="utf-8") == content):
            write_text(p, content)
        paths.append(p)
    return paths[0], paths[1], man
