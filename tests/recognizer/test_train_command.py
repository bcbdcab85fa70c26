"""`fallwatch train`: its help, and one clear line for a bad manifest."""

from __future__ import annotations

from pathlib import Path

import pytest

from fallwatch.app.cli import main


def test_train_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for option in ("--manifest", "--base", "--arch", "--epochs", "--out", "--folds", "--seed", "--data-dir",
                   "--hard-negatives", "--synthetic-trajectories"):  # fmt: skip
        assert option in out


def test_bad_manifest_path_is_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.csv"
    code = main(
        ["train", "--manifest", str(missing), "--out", str(tmp_path / "out"), "--data-dir", str(tmp_path)]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert str(missing) in err and "manifest not found" in err
    assert not (tmp_path / "out").exists()


def test_bad_folds_value_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--manifest", "m.csv", "--folds", "1"])
    assert exit_info.value.code == 2
    assert "--folds" in capsys.readouterr().err


def test_default_arch_is_the_recognizers_default_preset() -> None:
    from fallwatch.app.train_command import DEFAULT_ARCH
    from fallwatch.recognizer.presets import DEFAULT_PRESET, PRESETS

    assert DEFAULT_ARCH == DEFAULT_PRESET and DEFAULT_ARCH in PRESETS


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("--hard-negatives", "1.5", "expected a share between 0 and 1, got '1.5'"),
        ("--hard-negatives", "many", "expected a share between 0 and 1, got 'many'"),
        ("--synthetic-trajectories", "-3", "expected a whole number of 0 or more, got '-3'"),
    ],
)
def test_bad_recipe_values_are_refused_by_name(
    option: str, value: str, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--manifest", "m.csv", option, value])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert option in err and expected in err
