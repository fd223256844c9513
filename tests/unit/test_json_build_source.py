"""The plan's JSON: a non-variant `+cpu` wheel reports `"variant": ""` (as the README says) and
`build` says whether the line came from a variant label or a local version label (issue 13
item 11). The `+cpu` wheel comes from a per-backend PyTorch index (read as a virtual `null`)."""

from __future__ import annotations

import json
from pathlib import Path

from support.e2e import clean_env, wheelmagic
from support.server import make_wheel, serve_directory, variant_doc
from support.wheels import build_wheel

from wheelmagic.index.build import build_index

SNAPSHOT = Path(__file__).parent.parent / "data" / "platforms" / "cpu-x86_64-v3.snapshot.json"


def plan(tmp_path: Path, index: str, base: str, *extra: str, variant_index: str = "") -> dict:  # type: ignore[type-arg]
    env = clean_env(
        tmp_path,
        {
            "WHEELMAGIC_PYTORCH_INDEX_BASE": base,
            "WHEELMAGIC_PYTORCH_VARIANT_INDEX": variant_index or index,
        },
    )
    ran = wheelmagic(
        "install",
        "torch",
        "--dry-run",
        "--json",
        "--platform",
        str(SNAPSHOT),
        "--index-url",
        index,
        *extra,
        env=env,
    )
    assert ran.returncode == 0, ran.stderr
    return json.loads(ran.stdout)  # type: ignore[no-any-return]


def test_plus_cpu_wheel_is_non_variant_and_says_its_local_label(tmp_path: Path) -> None:
    build_wheel(tmp_path / "cpu", "torch", "2.14.1+cpu")
    www = tmp_path / "www"
    build_index(tmp_path / "cpu", www / "cpu")
    # PyTorch's layout: <base>/<backend>/<project>/
    (www / "cpu" / "torch").mkdir()
    page = (www / "cpu" / "simple" / "torch" / "index.html").read_text()
    (www / "cpu" / "torch" / "index.html").write_text(page.replace("../../files/", "../files/"))
    (www / "empty" / "simple").mkdir(parents=True)  # the main index and the variant index
    with serve_directory(www) as srv:
        p = plan(
            tmp_path,
            srv.url("empty/simple/"),
            srv.url("").rstrip("/"),
            "--torch-backend",
            "cpu",
            variant_index=srv.url("empty/simple/"),
        )
    (torch,) = p["packages"]
    assert torch["filename"] == "torch-2.14.1+cpu-py3-none-any.whl"
    assert torch["variant"] == ""
    assert torch["build"] == {"from": "local version label", "label": "cpu"}


def test_variant_wheel_says_its_variant_label(tmp_path: Path) -> None:
    (tmp_path / "w").mkdir()
    make_wheel(
        tmp_path / "w", "torch", "2.14.1", label="null", variant_json=variant_doc("null", {})
    )
    build_index(tmp_path / "w", tmp_path / "www")
    with serve_directory(tmp_path / "www") as srv:
        p = plan(tmp_path, srv.url("simple/"), srv.url("none/"), "--torch-backend", "none")
    (torch,) = p["packages"]
    assert torch["variant"] == "null"
    assert torch["build"] == {"from": "variant label", "label": "null"}
