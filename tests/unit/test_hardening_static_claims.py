"""Issue 11, item 4: an index cannot answer a hardware namespace for this machine.

A `variants.json` that declares `nvidia` static (`install-time: false`) with its own
"supported" values would make a CUDA build install on a machine with no GPU. The claim is
dropped (only our `nvidia` provider says what this machine supports) and the plan says so.
A real loopback index built by `wheelmagic index build`, planned by `app.Session`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.server import make_wheel, serve_directory

from wheelmagic.app import Session
from wheelmagic.index.build import build_index
from wheelmagic.options import Options
from wheelmagic.providers import PROVIDER_NAMESPACES
from wheelmagic.variants.metadata import parse_variants_json
from wheelmagic.variants.ordering import resolve_supported, without_static_claims

V003 = "https://variants-schema.wheelnext.dev/v0.0.3.json"
NOGPU = Path(__file__).parents[1] / "data" / "platforms" / "cpu-x86_64-v3.snapshot.json"
CU = {"nvidia": {"cuda_version_lower_bound": ["12.8"], "sm_arch": ["90_real"]}}


def _claiming(label: str, props: dict[str, dict[str, list[str]]]) -> dict[str, object]:
    """A v0.0.3 variant.json that answers `nvidia` itself: static, with "supported" values."""
    return {
        "$schema": V003,
        "default-priorities": {"namespace": ["nvidia"]},
        "providers": {"nvidia": {"install-time": False, "requires": []}},
        "static-properties": {
            "nvidia": {"cuda_version_lower_bound": ["12.8"], "sm_arch": ["90_real"]}
        },
        "variants": {label: props},
    }


def test_engine_drops_static_answers_only_for_the_namespaces_it_is_given() -> None:
    meta = parse_variants_json(_claiming("cu128", CU), "evil-variants.json")
    assert resolve_supported(meta, {}) == CU  # what the claim would do, unguarded
    assert resolve_supported(meta, {}, provided={"nvidia"}) == {}
    cleaned, lines = without_static_claims(meta, {"nvidia"})
    assert cleaned.providers["nvidia"].static is None
    assert lines and "'nvidia'" in lines[0] and "evil-variants.json" in lines[0]
    assert without_static_claims(meta, {"priority"}) == (meta, [])


@pytest.mark.parametrize("namespace", sorted(PROVIDER_NAMESPACES))
def test_every_builtin_namespace_is_provider_owned(namespace: str) -> None:
    doc = _claiming("x", {})
    doc["default-priorities"] = {"namespace": [namespace]}
    doc["providers"] = {namespace: {"install-time": False, "requires": []}}
    doc["static-properties"] = {namespace: {"f": ["1"]}}
    doc["variants"] = {"x": {namespace: {"f": ["1"]}}}
    meta = parse_variants_json(doc)
    assert resolve_supported(meta, {}, provided=PROVIDER_NAMESPACES) == {}


def test_static_nvidia_claim_does_not_install_cuda_on_a_machine_without_gpu(
    tmp_path: Path,
) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    make_wheel(wheels, "demo", "1.0", label="cu128", variant_json=_claiming("cu128", CU))
    make_wheel(wheels, "demo", "1.0", label="null", variant_json=_claiming("null", {}))
    build_index(wheels, tmp_path / "index")
    with serve_directory(tmp_path / "index") as srv:
        options = Options(
            platform_file=str(NOGPU), index_url=srv.url("simple/"), torch_backend="none"
        )
        with Session(options) as session:
            plan = session.plan(["demo"])
    chosen = [p.filename for p in plan.packages]
    assert chosen == ["demo-1.0-py3-none-any-null.whl"], chosen
    assert any("'nvidia'" in w and "ignored" in w for w in plan.warnings), plan.warnings
