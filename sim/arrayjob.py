"""The batch job of the PE array bench (sim/tb_array.py): what to stream, as files, and what
came back, as files.

The host writes a job folder (`write_job`), sim.runner.run_array runs the simulator once on
it, and the host reads the results (`read_results`). The bench reads the same folder with
`read_job` and writes with `ResultWriter`. Standard library and numpy only, so the bench
process stays light (no numba, no torch, no Amaranth) and starts in about a second.

Files in the folder:
- job.json: the result port names, per layer its shape (tiles T, positions S, beats per dot
  D, images) and its file names, and the general streams (below);
- L<i>.acts, L<i>.codes: layer i's in_act words (images * S * D of them, image-major) and
  in_code words (T * D, tile-major) as ASCII binary strings, most significant bit first, one
  after another without separators (asq_hw.mapper.port_chars);
- L<i>.<port>: what the bench read on each result port, per output beat in stream order,
  the same way (X and Z bits kept as "x" / "z");
- result.json: per layer each image's cycles, the measured latencies (min, max) and the
  clock loop's wall seconds; per general stream its report. Written last, so a folder
  without it is a run that did not finish.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

JOB_NAME = "job.json"
RESULT_NAME = "result.json"
JOB_ENV = "ASQ_TB_ARRAY_JOB"      # the bench reads the path of job.json from here


@dataclasses.dataclass(frozen=True)
class LayerJob:
    """One layer of a batch: one stream per image of the mapper's beats (asq_hw/mapper.py):
    for each tile t, for each position s, beats j = 0 .. D - 1 carry act row s * D + j of the
    image with code row t * D + j, in_last on j = D - 1."""

    name: str
    tiles: int
    positions: int
    beats_per_dot: int
    acts: np.ndarray        # uint8 port chars (images * positions * D, Q * abits)
    codes: np.ndarray       # uint8 port chars (tiles * D, P * Q * wbits)

    @property
    def images(self) -> int:
        return self.acts.shape[0] // (self.positions * self.beats_per_dot)


@dataclasses.dataclass(frozen=True)
class StreamJob:
    """A general stream with input gaps and output back-pressure (sim/bfm.py's driver and
    monitor): beat k is (act[k], code[k], last[k]) as ints after gaps[k] idle cycles; the
    monitor's ready pattern repeats `ready`; `dots` results are expected."""

    act: list[int]
    code: list[int]
    last: list[int]
    gaps: list[int]
    ready: list[bool]
    dots: int


@dataclasses.dataclass
class LayerResult:
    """outs: per result port, uint8 port chars (images * T * S, width) in stream order;
    cycles: per image, from the edge accepting its first beat to the edge transferring its
    last result, both counted; latencies: edges from a dot product's last beat to its
    result."""

    outs: list[np.ndarray]
    cycles: list[int]
    latency_min: int
    latency_max: int
    wall_s: float


@dataclasses.dataclass
class StreamResult:
    """results: per result, the packed int of every result port; last_edges: the accepting
    edges of last beats; edges: the transfer edges of results."""

    results: list[list[int]]
    last_edges: list[int]
    edges: list[int]
    cycles: int
    wall_s: float


def write_job(folder: Path, out_names: list[str], layers: list[LayerJob],
              streams: list[StreamJob] = ()) -> Path:
    """Write the job's files into `folder`; returns the path of job.json."""
    entries = []
    for i, lay in enumerate(layers):
        if lay.acts.shape[0] != lay.images * lay.positions * lay.beats_per_dot:
            raise ValueError(f"{lay.name}: {lay.acts.shape[0]} act beats are not whole "
                             f"images of {lay.positions * lay.beats_per_dot}")
        if lay.codes.shape[0] != lay.tiles * lay.beats_per_dot:
            raise ValueError(f"{lay.name}: codes must hold {lay.tiles * lay.beats_per_dot} "
                             f"beats, not {lay.codes.shape[0]}")
        stem = f"L{i}"
        np.ascontiguousarray(lay.acts, dtype=np.uint8).tofile(folder / f"{stem}.acts")
        np.ascontiguousarray(lay.codes, dtype=np.uint8).tofile(folder / f"{stem}.codes")
        entries.append({"name": lay.name, "stem": stem, "tiles": lay.tiles,
                        "positions": lay.positions, "beats_per_dot": lay.beats_per_dot,
                        "images": lay.images, "act_width": lay.acts.shape[1],
                        "code_width": lay.codes.shape[1]})
    job = {"out_names": list(out_names), "layers": entries,
           "streams": [dataclasses.asdict(s) for s in streams]}
    path = folder / JOB_NAME
    path.write_text(json.dumps(job), encoding="utf-8")
    return path


def _strs(raw: bytes, width: int) -> list[str]:
    text = raw.decode("ascii")
    return [text[k:k + width] for k in range(0, len(text), width)]


def read_job(path: Path) -> dict:
    """The bench's view of job.json: the dict, with per layer "codes" (binary strings) and
    "acts" (the act file, memory-mapped; `image_acts` reads one image's words)."""
    path = Path(path)
    job = json.loads(path.read_text(encoding="utf-8"))
    for lay in job["layers"]:
        lay["codes"] = _strs((path.parent / f"{lay['stem']}.codes").read_bytes(),
                             lay["code_width"])
        lay["acts"] = np.memmap(path.parent / f"{lay['stem']}.acts", dtype=np.uint8, mode="r")
    return job


def image_acts(lay: dict, b: int) -> list[str]:
    """Image b's in_act words of a layer of read_job, as binary strings."""
    per = lay["positions"] * lay["beats_per_dot"] * lay["act_width"]
    return _strs(lay["acts"][b * per:(b + 1) * per].tobytes(), lay["act_width"])


class ResultWriter:
    """The bench's side of the results: `layer(i, stem)` opens layer i's port files,
    `results(strs)` appends one image's results, `done(...)` writes result.json."""

    def __init__(self, folder: Path, out_names: list[str]):
        self.folder = Path(folder)
        self.out_names = out_names
        self.files = []

    def layer(self, stem: str) -> None:
        self.close()
        self.files = [open(self.folder / f"{stem}.{n}", "w", encoding="ascii")
                      for n in self.out_names]

    def results(self, per_port: list[list[str]]) -> None:
        for f, strs in zip(self.files, per_port, strict=True):
            f.write("".join(strs))

    def close(self) -> None:
        for f in self.files:
            f.close()
        self.files = []

    def done(self, layers: list[dict], streams: list[dict]) -> None:
        self.close()
        (self.folder / RESULT_NAME).write_text(
            json.dumps({"layers": layers, "streams": streams}), encoding="utf-8")


def read_results(folder: Path, out_widths: list[int]) -> tuple[list[LayerResult],
                                                                list[StreamResult]]:
    """The results of the job in `folder` (FileNotFoundError if the bench did not finish).
    out_widths: the bit width of each result port, in job order."""
    rep = json.loads((Path(folder) / RESULT_NAME).read_text(encoding="utf-8"))
    job = json.loads((Path(folder) / JOB_NAME).read_text(encoding="utf-8"))
    layers = []
    for lay, r in zip(job["layers"], rep["layers"], strict=True):
        outs = [np.fromfile(Path(folder) / f"{lay['stem']}.{n}", dtype=np.uint8).reshape(-1, w)
                for n, w in zip(job["out_names"], out_widths, strict=True)]
        layers.append(LayerResult(outs, r["cycles"], r["latency_min"], r["latency_max"],
                                  r["wall_s"]))
    return layers, [StreamResult(**s) for s in rep["streams"]]
