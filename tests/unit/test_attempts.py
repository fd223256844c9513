"""The on-disk record that keeps the hook from fixing the same mismatch twice."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

from wheelmagic.attempts import Attempts, cache_dir, interpreter_id


def test_cache_dir_honours_env(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("WHEELMAGIC_CACHE_DIR", str(tmp_path))
    assert cache_dir() == tmp_path
    assert Attempts().path == tmp_path / "attempts.json"


def test_second_claim_of_same_mismatch_is_refused(tmp_path: Path) -> None:
    a = Attempts(tmp_path)
    interp = interpreter_id()
    first = a.claim(interp, "broken: cuda build, no gpu")
    assert first.granted and first.previous is None
    a.finish(interp, "broken: cuda build, no gpu", "failed", "no index")
    again = Attempts(tmp_path).claim(interp, "broken: cuda build, no gpu")
    assert not again.granted
    assert again.previous is not None
    assert (again.previous.outcome, again.previous.detail) == ("failed", "no index")


def test_other_signature_or_interpreter_is_independent(tmp_path: Path) -> None:
    a = Attempts(tmp_path)
    assert a.claim("/py1", "sig").granted
    assert a.claim("/py1", "other").granted
    assert a.claim("/py2", "sig").granted
    assert len(a.all()) == 3
    assert a.clear("/py1") == 2
    assert a.claim("/py1", "sig").granted


def test_claim_expires_after_ttl(tmp_path: Path) -> None:
    a = Attempts(tmp_path)
    assert a.claim("/py", "sig", now=1000.0).granted
    assert not a.claim("/py", "sig", ttl=100, now=1050.0).granted
    later = a.claim("/py", "sig", ttl=100, now=1200.0)
    assert later.granted and later.previous is not None
    assert a.get("/py", "sig").count == 2  # type: ignore[union-attr]


def test_corrupt_file_is_treated_as_empty(tmp_path: Path) -> None:
    (tmp_path / "attempts.json").write_text("{not json")
    a = Attempts(tmp_path)
    assert a.all() == []
    assert a.claim("/py", "sig").granted
    assert json.loads((tmp_path / "attempts.json").read_text())["attempts"]


def _claim(args: tuple[str, int]) -> bool:
    directory, _ = args
    return Attempts(directory).claim("/py", "raced").granted


def test_concurrent_claims_grant_exactly_one(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(4) as pool:
        results = pool.map(_claim, [(str(tmp_path), i) for i in range(8)])
    assert results.count(True) == 1
