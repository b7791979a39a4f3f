import json
import subprocess
import sys

import pytest

from asq_hw.cli import build_parser, main

# The commands in data-flow order, as the README documents them.
EXPECTED = ["demo", "train", "eval", "verilog", "sim", "synth", "estimate", "calibrate",
            "sweep"]


def test_help_lists_every_command_in_data_flow_order(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    section = out[out.index("  COMMAND\n"):out.index("options:")]
    listed = [line.split()[0] for line in section.splitlines()[1:]
              if line.startswith("    ") and not line.startswith("      ")]
    assert listed == EXPECTED
    assert "    eval      compare float, fake-quant and golden integer accuracy\n" in out


@pytest.mark.parametrize("name", EXPECTED)
def test_every_command_module_registers_its_parser(name, capsys):
    # Each command's own help works and describes it (its module registered a parser
    # with a description, not the name-only placeholder).
    with pytest.raises(SystemExit) as exc:
        main([name, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: asq-hw {name} ")
    assert f"`asq-hw {name}" in out or f"asq-hw {name}" in out.split("\n\n")[1]


def test_the_full_parser_registers_every_command_once():
    # Loading every module at once (as documentation tools do) must not clash.
    parser = build_parser()
    args = parser.parse_args(["estimate", "pe", "--target", "xc7"])
    assert (args.command, args.design, args.target) == ("estimate", "pe", "xc7")
    assert args.func.__module__ == "asq_hw.commands.estimate"


# Modules a command must not load: torch (and what only training needs).
HEAVY = ("torch", "asq_hw.train", "asq_hw.models", "asq_hw.data")


@pytest.mark.parametrize("argv", [
    ["estimate", "pe", "--target", "ice40", "--json"],
    ["estimate", "workload", "--network", "resnet18", "--rows", "8", "--lanes", "8",
     "--clock-mhz", "100", "--json"],
    ["verilog", "pe", "--out", "{tmp}"],
    ["--help"],
])
def test_hardware_commands_do_not_import_torch(tmp_path, argv):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    code = ("import json, sys\n"
            "from asq_hw.cli import main\n"
            "try:\n"
            f"    rc = main({argv!r})\n"
            "except SystemExit as exc:\n"
            "    rc = exc.code\n"
            f"print(json.dumps([rc, [m for m in {HEAVY!r} if m in sys.modules]]),\n"
            "      file=sys.stderr)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    rc, loaded = json.loads(proc.stderr.strip().splitlines()[-1])
    assert rc == 0, proc.stderr
    assert loaded == []


def test_demo_first_section_levels_and_worked_example():
    # The whole demo is tests/test_demo.py (slow); its golden first section is checked here.
    from asq_hw.commands.demo import level_table, worked_example
    out = level_table() + "\n" + worked_example()
    assert "wbits 4: 15 levels, J =  3: 1.0000, 0.7071, 0.5000" in out
    assert "lut  (F=8, acc_bits=22): A = 27212" in out
    assert "dual (acc_bits=14): A_even = -4, A_odd = 156" in out


def test_console_script_reports_user_errors_in_one_line():
    proc = subprocess.run([sys.executable, "-m", "asq_hw.cli", "no-such-command"],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "invalid choice" in proc.stderr


@pytest.mark.parametrize("exc", [ValueError("bad internal value"), OSError("disk on fire"),
                                 KeyError("x")])
def test_a_bug_prints_its_traceback_and_asks_for_a_report(monkeypatch, capsys, exc):
    import asq_hw.commands.verilog as verilog

    def broken(args):
        raise exc
    monkeypatch.setattr(verilog, "run_pe", broken)
    assert main(["verilog", "pe", "--out", "unused"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last):\n")
    assert f"{type(exc).__name__}: " in err and "in broken" in err
    assert err.endswith("please report it with the command line and the traceback above\n")
    assert "asq-hw: error:" not in err


def test_interrupt_exits_130(monkeypatch, capsys):
    import asq_hw.commands.verilog as verilog

    def interrupted(args):
        raise KeyboardInterrupt
    monkeypatch.setattr(verilog, "run_pe", interrupted)
    assert main(["verilog", "pe", "--out", "unused"]) == 130
    assert capsys.readouterr().err == "asq-hw: interrupted\n"


def test_a_closed_stdout_pipe_ends_quietly():
    # `asq-hw ... | head -1` on a command whose output overflows the pipe: the reader leaves
    # after one line, the writer stops without a traceback; a BrokenPipeError that is not
    # stdout's is still a bug.
    code = ("import sys\n"
            "import asq_hw.commands.verilog as v\n"
            "from asq_hw.cli import main\n"
            "def lines(args):\n"
            "    if args.wbits == 3:\n"
            "        raise BrokenPipeError('a socket')\n"
            "    for i in range(200000):\n"
            "        print(f'line {i}')\n"
            "v.run_pe = lines\n"
            "sys.exit(main(sys.argv[1:]))\n")
    proc = subprocess.run(f"{sys.executable} -c \"{code}\" verilog pe --out x | head -1",
                          shell=True, capture_output=True, text=True)
    assert (proc.stdout, proc.stderr) == ("line 0\n", "")
    proc = subprocess.run([sys.executable, "-c", code, "verilog", "pe", "--wbits", "3",
                           "--out", "x"], capture_output=True, text=True)
    assert proc.returncode == 1 and "BrokenPipeError: a socket" in proc.stderr


def test_bad_enumerated_flags_are_one_line(capsys):
    assert main(["estimate", "pe", "--target", "gw5a"]) == 2
    assert capsys.readouterr().err == \
        "asq-hw: error: target must be one of ice40, ecp5, xc7, osu018, not 'gw5a'\n"
    assert main(["sweep", "--kind", "post,fp8", "--out", "unused"]) == 2
    assert capsys.readouterr().err == \
        "asq-hw: error: kind must be one of post, int, pot, not 'fp8'\n"
    assert main(["sim", "pe", "--sim", "vcs"]) == 2
    assert capsys.readouterr().err == \
        "asq-hw: error: sim must be one of verilator, icarus, not 'vcs'\n"


def test_eval_checks_its_flags_before_reading_anything(tmp_path, capsys):
    assert main(["eval", str(tmp_path / "none"), "--frac-bits", "99"]) == 2
    assert capsys.readouterr().err == \
        "asq-hw: error: frac_bits must be an integer from 1 to 16, not 99\n"
    assert main(["eval", str(tmp_path / "none"), "--threads", "0"]) == 2
    assert capsys.readouterr().err == \
        "asq-hw: error: threads must be an integer from 1 to 256, not 0\n"
