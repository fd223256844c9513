"""The rollback backup lies flat (one directory, no tree to rebuild) and still restores every
file to its place, including a file its RECORD lists twice (install.lock.Backup)."""

from __future__ import annotations

from pathlib import Path

from wheelmagic.install.lock import Backup


def _dist(site: Path) -> dict[str, bytes]:
    files = {
        "torch/__init__.py": b"old init\n",
        "torch/lib/deep/nested/libtorch.so": b"old library\n",
        "torch/version.py": b"__version__ = '2.13.0+cpu'\n",
    }
    for rel, data in files.items():
        (site / rel).parent.mkdir(parents=True, exist_ok=True)
        (site / rel).write_bytes(data)
    info = site / "torch-2.13.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.4\nName: torch\nVersion: 2.13.0\n\n")
    rows = [*files, "torch/__init__.py", f"{info.name}/METADATA", f"{info.name}/RECORD"]
    (info / "RECORD").write_text("".join(f"{r},,\n" for r in rows))
    return files


def test_a_flat_backup_restores_every_file_to_its_place(tmp_path: Path) -> None:
    prefix = tmp_path / "env"
    site = prefix / "lib" / "site-packages"
    site.mkdir(parents=True)
    files = _dist(site)
    backup = Backup.take(["torch"], [str(site)], str(prefix), tmp_path / "cache")
    try:
        saved = sorted(p.name for p in backup.root.iterdir())
        assert all(p.isdigit() for p in saved)  # flat: no directory per source directory
        assert len(saved) == len(set(backup.files.values())) == len(files) + 2
        for rel in files:  # the installer replaces the files in place
            (site / rel).unlink()
            (site / rel).write_bytes(b"new build\n")
        assert backup.restore() == ["torch"]
        for rel, data in files.items():
            assert (site / rel).read_bytes() == data, rel
    finally:
        backup.discard()
    assert not backup.root.exists()
