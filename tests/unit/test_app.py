"""`wheelmagic.app`: the restart decision, and the Options every front end builds."""

from __future__ import annotations

import argparse

import pytest

from wheelmagic.app import restart_needed
from wheelmagic.install.execute import Change
from wheelmagic.options import Options, add_install_arguments, from_arguments


def test_restart_needed_names_only_imported_modules_of_changed_distributions() -> None:
    changes = [
        Change("fake-torch", "1.0", "1.1", modules=("faketorch", "functorch_x")),
        Change("Other-Pkg", "1.0", "2.0", modules=("other",)),
        Change("absent", None, "1.0"),
    ]
    loaded = {"faketorch": 1, "faketorch._C": 1, "os": 1}
    assert restart_needed(changes, loaded) == {"fake-torch": ["faketorch"]}
    # a submodule counts through its top-level name
    assert restart_needed(changes, ["other.sub"]) == {"Other-Pkg": ["other"]}
    # a distribution without a module list stands for its own name
    assert restart_needed(changes, ["absent"]) == {"absent": ["absent"]}
    assert restart_needed(changes, ["os", "sys"]) == {}
    assert restart_needed([], ["faketorch"]) == {}


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("torch", Options()),
        (
            "torch --index-url I --extra-index-url A --extra-index-url B --trusted-host h "
            "--torch-backend cu128 --variant cuda12.8 --backend uv --pre --reinstall "
            "--dry-run --explain --platform p.json --python /py",
            Options(
                python="/py",
                platform_file="p.json",
                index_url="I",
                extra_index_urls=("A", "B"),
                trusted_hosts=("h",),
                torch_backend="cu128",
                variant="cuda12.8",
                installer="uv",
                pre=True,
                reinstall=True,
                dry_run=True,
                explain=True,
            ),
        ),
    ],
)
def test_the_option_table_fills_options(line: str, expected: Options) -> None:
    parser = argparse.ArgumentParser()
    add_install_arguments(parser)
    assert from_arguments(parser.parse_args(line.split())) == expected


def test_options_are_frozen() -> None:
    with pytest.raises(AttributeError):
        Options().variant = "cpu"  # type: ignore[misc]
