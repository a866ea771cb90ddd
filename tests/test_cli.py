"""The `danq` command line: every subcommand explains itself; user errors are one line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from danq_pipeline.cli import SUBCOMMANDS, main

COMMANDS = [name.replace("_", "-") for name in SUBCOMMANDS]


def test_top_level_help_lists_every_command(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert name in out


@pytest.mark.parametrize("command", COMMANDS)
def test_subcommand_help_explains_inputs_outputs_defaults(command: str, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "default" in out.lower(), f"`danq {command} --help` names no defaults"
    assert "not yet implemented" not in out


def test_help_does_not_import_torch() -> None:
    code = "import sys; from danq_pipeline.cli import main\ntry: main(['prepare', '--help'])\nexcept SystemExit: pass\nprint('torch' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip().endswith("False")


def test_console_script_runs(tool_env) -> None:
    run = subprocess.run(["danq", "--version"], capture_output=True, text=True, env=tool_env)
    assert run.returncode == 0 and "danq-pipeline" in run.stdout


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--train", "no/such/train.h5", "--valid", "no/such/valid.h5", "--out", "m.pt"],
        ["evaluate", "--model", "no/such/model.pt", "--data", "no/such/test.h5", "--out-dir", "x"],
        [
            "score-variants",
            "--model",
            "no/such/model.pt",
            "--fasta",
            "no.fa",
            "--vcf",
            "no.vcf",
            "--out-prefix",
            "x",
        ],
    ],
)
def test_wrong_path_is_one_line_and_nonzero(argv: list[str], capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(argv) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no/such" in err[0] and "Traceback" not in err[0]


def _api_function(target: str):
    import importlib

    module, name = target.split(":")
    return getattr(importlib.import_module(module), name)


def test_option_defaults_are_read_from_the_api_signatures() -> None:
    """Defaults are stated once, in the API: every default the parser took from a signature's
    source (argtypes.api_default, no import) equals what `inspect.signature` gives."""
    import inspect

    from danq_pipeline.cli import build_parser
    from danq_pipeline.cli.argtypes import READ

    build_parser()
    assert len(READ) >= 30, sorted(READ)
    for (target, param), value in READ.items():
        expected = inspect.signature(_api_function(target)).parameters[param].default
        assert value == expected and type(value) is type(expected), (target, param, value, expected)


# options whose CLI default differs from the API's on purpose (same meaning, another spelling)
SPELLED_OTHERWISE = {("ism", "targets"): "'' = all targets, like None"}


def test_no_cli_option_restates_an_api_default() -> None:
    """Every option of a command that fills a parameter of its API function (the module's
    API, or SCORER for options passed on to the scorer) has that parameter's default."""
    import importlib
    import inspect

    from danq_pipeline.cli import build_parser

    parser = build_parser()
    checked = 0
    for module_name in SUBCOMMANDS:
        module = importlib.import_module(f"danq_pipeline.cli.{module_name}")
        targets = [getattr(module, a) for a in ("API", "SCORER") if hasattr(module, a)]
        command = module_name.replace("_", "-")
        for action in parser.commands[command]._actions:
            for target in targets:
                param = inspect.signature(_api_function(target)).parameters.get(action.dest)
                if (
                    param is None
                    or param.default is inspect.Parameter.empty
                    or not action.option_strings
                ):
                    continue
                if (command, action.dest) not in SPELLED_OTHERWISE:
                    assert action.default == param.default, (
                        command,
                        action.dest,
                        action.default,
                        param.default,
                    )
                    checked += 1
    assert checked >= 25, checked
