"""Hardening (issue 11, part A): nothing outside the environment is touched, a failed install is
undone file for file, and a read-only target is refused before anything changes.

Real parts only: the real `wheelmagic` CLI, real pip and uv, throwaway venvs (copied from one
prepared venv with torch 2.14.1 installed), and a real loopback index (`wheelmagic index build`
served by `tests/support/server.py`) that serves a hostile wheel. Each hostile wheel is hash-valid:
the index lists its true sha256, so only its contents attack.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.e2e import Ran, clean_env, make_venv, py, snapshot, wheelmagic
from support.readonly import read_only
from support.server import Server, serve_directory
from support.wheels import build_wheel

from wheelmagic.index.build import build_index

pytestmark = pytest.mark.e2e

BASELINE = "2.14.1+cpu cpu"
INSTALLERS = ("pip", "uv")


# ---------------------------------------------------------------------------------------------
# helpers


def tree(root: Path) -> dict[str, tuple[str, str]]:
    """path -> (kind, sha256 or link target) for everything under `root`, links not followed."""
    out: dict[str, tuple[str, str]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        d = Path(dirpath)
        for name in dirnames + filenames:
            p = d / name
            rel = str(p.relative_to(root))
            if p.is_symlink():
                out[rel] = ("link", os.readlink(p))
            elif p.is_dir():
                out[rel] = ("dir", "")
            else:
                out[rel] = ("file", hashlib.sha256(p.read_bytes()).hexdigest())
    return out


def diff(before: dict[str, tuple[str, str]], after: dict[str, tuple[str, str]]) -> list[str]:
    return (
        [f"+ {p}" for p in sorted(set(after) - set(before))]
        + [f"- {p}" for p in sorted(set(before) - set(after))]
        + [f"~ {p}" for p in sorted(set(before) & set(after)) if before[p] != after[p]]
    )


def _row(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def hostile_wheel(
    path: Path,
    members: Sequence[tuple[str, bytes]],
    *,
    dist_info: str,
    extra_rows: Sequence[str] = (),
) -> Path:
    """A wheel with `members` in this order, then a RECORD listing them plus `extra_rows`."""
    rows = [_row(n, d) for n, d in members] + list(extra_rows) + [f"{dist_info}/RECORD,,"]
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            zf.writestr(zipfile.ZipInfo(name, (2026, 1, 1, 0, 0, 0)), data)
        zf.writestr(
            zipfile.ZipInfo(f"{dist_info}/RECORD", (2026, 1, 1, 0, 0, 0)), "\n".join(rows) + "\n"
        )
    return path


def dist_info_members(dist_info: str, version: str) -> list[tuple[str, bytes]]:
    meta = f"Metadata-Version: 2.1\nName: torch\nVersion: {version}\n\n"
    wheel = "Wheel-Version: 1.0\nGenerator: hostile\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    return [
        (f"{dist_info}/METADATA", meta.encode()),
        (f"{dist_info}/WHEEL", wheel.encode()),
        (f"{dist_info}/top_level.txt", b"torch\n"),
    ]


def torch_members(build: str = "hostile") -> list[tuple[str, bytes]]:
    return [
        ("torch/__init__.py", f"__version__ = '2.15.0'\n__build__ = {build!r}\n".encode()),
        ("torch/new_only.py", b"NEW = 1\n"),
    ]


@dataclass
class Env:
    tmp: Path
    python: str
    prefix: Path
    site: Path
    env: dict[str, str]

    def build(self) -> str:
        ran = py(self.python, "import torch; print(torch.__version__, torch.__build__)")
        return ran.stdout.strip() if ran.returncode == 0 else "IMPORT FAILED: " + ran.stderr

    def install(self, srv: Server, *reqs: str, installer: str) -> Ran:
        return wheelmagic(
            "install",
            *reqs,
            "--yes",
            "--index-url",
            srv.url("simple/"),
            "--platform",
            str(snapshot("cpu")),
            "--python",
            self.python,
            "--backend",
            installer,
            env=self.env,
            timeout=300,
        )


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv (no pip: pip and uv run from outside) with torch 2.14.1 (`null`) installed."""
    base = tmp_path_factory.mktemp("hardening-venv")
    build_wheel(base / "wheels", version="2.14.1", label="null")
    build_index(base / "wheels", base / "www")
    python = make_venv(base / "venv", with_pip=False)
    with serve_directory(base / "www") as srv:
        ran = wheelmagic(
            "install",
            "torch==2.14.1",
            "--yes",
            "--index-url",
            srv.url("simple/"),
            "--platform",
            str(snapshot("cpu")),
            "--python",
            python,
            env=clean_env(base / "cache"),
        )
    assert ran.returncode == 0, ran.output
    return base / "venv"


@pytest.fixture
def venv(tmp_path: Path, prepared: Path) -> Env:
    """A copy of the prepared venv (its `python` is a link to the base interpreter)."""
    prefix = tmp_path / "venv"
    shutil.copytree(prepared, prefix, symlinks=True)
    site = next(prefix.glob("lib/python*/site-packages"))
    home = tmp_path / "home"
    (home / "tmp").mkdir(parents=True)
    env = clean_env(
        tmp_path / "cache",
        {"HOME": str(home), "TMPDIR": str(home / "tmp"), "XDG_CACHE_HOME": str(home / ".cache")},
    )
    e = Env(tmp_path, str(prefix / "bin" / "python"), prefix, site, env)
    assert e.build() == BASELINE
    return e


@contextlib.contextmanager
def index_of(tmp: Path, *wheels: Path) -> Iterator[Server]:
    """A loopback index serving the honest 2.14.1 and `wheels` (listed with their true hash)."""
    wheel_dir = tmp / "index-wheels"
    build_wheel(wheel_dir, version="2.14.1", label="null")
    for w in wheels:
        shutil.copyfile(w, wheel_dir / w.name)
    build_index(wheel_dir, tmp / "www", link="copy")
    with serve_directory(tmp / "www") as srv:
        yield srv


# ---------------------------------------------------------------------------------------------
# 1. a RECORD that escapes the environment


def escaping_wheel(tmp: Path, victim: Path, site: Path) -> Path:
    """torch 2.15.0 whose dist-info says 2.15.1 (our post-install check fails) and whose RECORD
    lists `victim` (outside the venv) by a `../..` path and by its absolute path."""
    dist_info = "torch-2.15.1.dist-info"
    rel = os.path.relpath(victim, site)
    assert rel.startswith("../")
    return hostile_wheel(
        tmp / "hostile" / "torch-2.15.0-py3-none-any.whl",
        [*dist_info_members(dist_info, "2.15.0"), *torch_members()],
        dist_info=dist_info,
        extra_rows=[_row(rel, victim.read_bytes()), _row(str(victim), victim.read_bytes())],
    )


@pytest.mark.parametrize("installer", INSTALLERS)
def test_escaping_record_is_refused_and_nothing_outside_is_deleted(
    venv: Env, installer: str
) -> None:
    """Before: pip installed it, the version check failed, and the rollback unlinked every
    RECORD path: the user's thesis was deleted. Now staging refuses the wheel first."""
    victim = venv.tmp / "home" / "u" / "thesis.tex"
    victim.parent.mkdir(parents=True)
    victim.write_text("four years of work\n")
    wheel = escaping_wheel(venv.tmp, victim, venv.site)
    before = tree(venv.prefix)
    with index_of(venv.tmp, wheel) as srv:
        ran = venv.install(srv, "torch==2.15.0", installer=installer)
    assert victim.read_text() == "four years of work\n"
    assert ran.returncode == 4, ran.output
    assert "Traceback" not in ran.output
    assert "point outside the environment" in ran.stderr, ran.stderr
    assert wheel.name in ran.stderr
    assert diff(before, tree(venv.prefix)) == []
    assert venv.build() == BASELINE


def test_rollback_never_deletes_what_an_installed_record_lists_outside(venv: Env) -> None:
    """Our own guard behind the staging check: real pip installs the escaping wheel (it copies
    the wheel's RECORD rows into the installed RECORD), then `Backup.restore()` runs as after
    a failed install. It removes what the install created inside the venv, nothing else."""
    from wheelmagic.install.backends import InstallRequest, PipBackend
    from wheelmagic.install.lock import Backup, installed_dists

    victim = venv.tmp / "home" / "u" / "thesis.tex"
    victim.parent.mkdir(parents=True)
    victim.write_text("four years of work\n")
    wheel = escaping_wheel(venv.tmp, victim, venv.site)
    before = tree(venv.prefix)
    # no `wheels=`: the old distribution's own packages and the site-packages listing are
    # watched anyway (and the call is the one the code before this fix had)
    backup = Backup.take(["torch"], [str(venv.site)], str(venv.prefix), venv.tmp / "cache")
    PipBackend().install(InstallRequest(python=venv.python, wheels=(wheel,)))
    installed = (venv.site / "torch-2.15.1.dist-info" / "RECORD").read_text()
    assert os.path.relpath(victim, venv.site) in installed  # pip kept the hostile rows
    backup.restore()
    backup.discard()
    assert victim.read_text() == "four years of work\n"
    assert backup.problems == []
    assert diff(before, tree(venv.prefix)) == []
    assert installed_dists([str(venv.site)])["torch"].version == "2.14.1"
    assert venv.build() == BASELINE


# ---------------------------------------------------------------------------------------------
# 2. a read-only site-packages


@pytest.mark.parametrize("installer", INSTALLERS)
def test_read_only_site_packages_is_refused_cleanly(venv: Env, installer: str) -> None:
    """Before: the installer failed, the rollback raised from its own writes (a traceback,
    exit 1) and `.wheelmagic-backup/` stayed in the prefix."""
    honest = build_wheel(venv.tmp / "next", version="2.15.0", label="null")
    before = tree(venv.prefix)
    with index_of(venv.tmp, honest) as srv, read_only(venv.site) as how:
        ran = venv.install(srv, "torch==2.15.0", installer=installer)
    assert ran.returncode == 4, f"{how}\n{ran.output}"
    assert "Traceback" not in ran.output
    assert "site-packages is read-only (" in ran.stderr, ran.stderr
    assert str(venv.site) in ran.stderr  # which directory, with the system's own reason
    assert any(r in ran.stderr for r in ("Read-only file system", "not permitted", "denied"))
    assert "install into a writable environment or pass --python" in ran.stderr
    assert not (venv.prefix / ".wheelmagic-backup").exists()
    assert not list((venv.tmp / "cache" / "wheelmagic").glob("backup/*"))
    assert diff(before, tree(venv.prefix)) == [], how
    assert venv.build() == BASELINE


# ---------------------------------------------------------------------------------------------
# 3. an install that fails part-way is undone file for file


@pytest.mark.parametrize("installer", INSTALLERS)
def test_partial_install_is_undone_file_for_file(venv: Env, installer: str) -> None:
    """The installer writes the new dist-info, part of torch and a new top-level package, then
    fails on a member whose directory is a file already (`blocker`, a stray file of the user).

    A hostile `.data/data/../..` member fails pip the same way, part-way, but staging now
    refuses such a wheel before any installer runs (test above), so a collision stands in.
    Before: the new `torch-2.15.0.dist-info` stayed next to the old one (the next install
    failed with "another tool may have changed the environment") and `torch_extra/` stayed.
    """
    (venv.site / "blocker").write_text("a user's stray file\n")
    dist_info = "torch-2.15.0.dist-info"
    wheel = hostile_wheel(
        venv.tmp / "hostile" / "torch-2.15.0-py3-none-any.whl",
        [
            *dist_info_members(dist_info, "2.15.0"),
            *torch_members(),
            ("torch_extra/__init__.py", b""),
            ("blocker/boom.py", b""),
            ("torch/zzz_after.py", b""),
        ],
        dist_info=dist_info,
    )
    before = tree(venv.prefix)
    with index_of(venv.tmp, wheel) as srv:
        ran = venv.install(srv, "torch==2.15.0", installer=installer)
        assert ran.returncode == 4, ran.output
        assert "Traceback" not in ran.output
        assert diff(before, tree(venv.prefix)) == []
        assert venv.build() == BASELINE
        # and the environment is usable: the honest 2.14.1 is found installed as before
        again = venv.install(srv, "torch==2.14.1", installer=installer)
    assert again.returncode == 0, again.output
    assert "already installed" in again.output


# ---------------------------------------------------------------------------------------------
# 5. a remote index cannot make wheelmagic read the user's own files


def test_remote_index_linking_a_local_file_installs_nothing(venv: Env) -> None:
    """The PEP 691 page lists torch 2.15.0 at `file:///.../planted.whl`, a hash-valid wheel on
    the user's disk. Before: it was copied and installed. Now the link is dropped (with a note)
    and nothing fits `torch==2.15.0`; the fetcher refuses such a link too."""
    planted = build_wheel(venv.tmp / "planted", version="2.15.0", build="planted")
    listed = build_wheel(venv.tmp / "listed", version="2.15.0")
    with index_of(venv.tmp, listed) as srv:
        json_page = venv.tmp / "www" / "simple" / "torch" / "index.json"
        doc = json.loads(json_page.read_text())
        for item in doc["files"]:
            if item["filename"] == listed.name:
                item["url"] = planted.as_uri()
                item["hashes"] = {"sha256": hashlib.sha256(planted.read_bytes()).hexdigest()}
                item["size"] = planted.stat().st_size
        json_page.write_text(json.dumps(doc))
        before = tree(venv.prefix)
        ran = venv.install(srv, "torch==2.15.0", installer="uv")
    assert ran.returncode == 4, ran.output
    assert "Traceback" not in ran.output
    assert diff(before, tree(venv.prefix)) == []
    assert venv.build() == BASELINE


# ---------------------------------------------------------------------------------------------
# 6. a hostile Requires-Dist gives a clear error


@pytest.mark.parametrize("shape", ["parens", "chain"])
def test_hostile_requires_dist_is_a_clear_error(venv: Env, shape: str) -> None:
    """Before: RecursionError while staging folded the variant markers (traceback, exit 1)."""
    label = "variant_label == 'null'"
    marker = "(" * 2000 + label + ")" * 2000 if shape == "parens" else " and ".join([label] * 5000)
    wheel = build_wheel(
        venv.tmp / "hostile", version="2.15.0", label="null", requires=[f"filelock; {marker}"]
    )
    before = tree(venv.prefix)
    with index_of(venv.tmp, wheel) as srv:
        ran = venv.install(srv, "torch==2.15.0", installer="uv")
    assert ran.returncode == 4, ran.output
    assert "Traceback" not in ran.output and "RecursionError" not in ran.output
    assert "allowed" in ran.stderr and wheel.name in ran.stderr, ran.stderr
    assert diff(before, tree(venv.prefix)) == []


# ---------------------------------------------------------------------------------------------
# 9. a planted file in the cache or in staged/ is never installed


def planted_like(honest: Path, out: Path) -> Path:
    """A wheel that says `planted`, padded (zip comment) to exactly the honest wheel's size."""
    planted = build_wheel(out, version="2.15.0", label="null", build="planted")
    pad = honest.stat().st_size - planted.stat().st_size
    assert 0 < pad < 65535, pad
    with zipfile.ZipFile(planted, "a") as zf:
        zf.comment = b"p" * pad
    assert planted.stat().st_size == honest.stat().st_size
    return planted


def _install_once(venv: Env, srv: Server, cache: Path, prepared: Path) -> None:
    """Install the honest 2.15.0 once (filling the cache and staged/), then reset the venv."""
    ran = venv.install(srv, "torch==2.15.0", installer="uv")
    assert ran.returncode == 0, ran.output
    assert venv.build() == "2.15.0+cpu cpu"
    shutil.rmtree(venv.prefix)
    shutil.copytree(prepared, venv.prefix, symlinks=True)
    assert venv.build() == BASELINE
    assert list((cache / "wheels").glob("*/*/*.whl")) and list((cache / "staged").glob("*/*.whl"))


@pytest.mark.parametrize("where", ["cache", "staged", "staged-rewritten"])
def test_planted_cached_or_staged_file_is_not_installed(
    venv: Env, prepared: Path, where: str
) -> None:
    """Before: a cache hit was checked by size only, and a staged file was reused unchecked,
    so the planted build was installed. Now each is hashed (once per process) first."""
    requires = ["never-installed; variant_label == 'cuda13.0'"] if "rewritten" in where else []
    honest = build_wheel(
        venv.tmp / "next", version="2.15.0", label="null", requires=requires, payload=4000
    )
    cache = venv.tmp / "cache" / "wheelmagic"
    with index_of(venv.tmp, honest) as srv:
        _install_once(venv, srv, cache, prepared)
        planted = planted_like(honest, venv.tmp / "planted")
        if where == "cache":
            (target,) = (cache / "wheels").glob(f"*/*/{honest.name}")
            shutil.rmtree(cache / "staged")  # so that staging reads the cached file again
        else:
            (target,) = (cache / "staged").glob("*/*.whl")
        target.unlink()
        shutil.copyfile(planted, target)
        ran = venv.install(srv, "torch==2.15.0", installer="uv")
    assert ran.returncode == 0, ran.output
    assert venv.build() == "2.15.0+cpu cpu"  # the honest build, never "planted"


# ---------------------------------------------------------------------------------------------
# 10. a shared cache: another user plants links where downloads go


def as_other_user(*argv: str) -> bool:
    """Run `argv` as `nobody` (we are root and `runuser` exists); False when not possible."""
    if os.geteuid() != 0 or shutil.which("runuser") is None:
        return False
    ran = subprocess.run(["runuser", "-u", "nobody", "--", *argv], capture_output=True)
    assert ran.returncode == 0, ran.stderr
    return True


def test_links_planted_in_a_shared_cache_are_never_followed(venv: Env) -> None:
    """A world-writable cache without the sticky bit (shared storage). Another user (`nobody`,
    through `runuser`, when the tests run as root; the same user otherwise) plants
    `tmp/<sha>.part` and `locks/<sha>.lock` as links to the victim's `~/.bashrc`, and
    `tmp/u<uid>` as a link to a directory of its own. Before: the download wrote through the
    link (a fresh one overwrote `.bashrc`, a resumed one appended to it)."""
    import tempfile

    honest = build_wheel(venv.tmp / "next", version="2.15.0", label="null", payload=20_000)
    sha = hashlib.sha256(honest.read_bytes()).hexdigest()
    bashrc = venv.tmp / "home" / ".bashrc"
    bashrc.write_text("export PATH=$HOME/bin:$PATH\n")
    shared = Path(tempfile.mkdtemp(prefix="wm-shared-", dir="/tmp"))
    try:
        shared.chmod(0o777)  # writable by all, no sticky bit
        cache = shared / "wheelmagic"
        attacker_dir = Path(tempfile.mkdtemp(prefix="wm-attacker-", dir="/tmp"))
        attacker_dir.chmod(0o777)
        plants = [
            ("mkdir", "-p", str(cache / "tmp"), str(cache / "locks")),
            ("chmod", "0777", str(cache), str(cache / "tmp"), str(cache / "locks")),
            ("ln", "-s", str(bashrc), str(cache / "tmp" / f"{sha}.part")),
            ("ln", "-s", str(bashrc), str(cache / "locks" / f"{sha}.lock")),
            ("ln", "-s", str(attacker_dir), str(cache / "tmp" / f"u{os.geteuid()}")),
        ]
        other = all([as_other_user(*p) for p in plants])
        if not other:  # same user: the links are planted all the same
            for p in plants:
                subprocess.run(p, check=True)
        env = {**venv.env, "WHEELMAGIC_CACHE_DIR": str(cache)}
        with index_of(venv.tmp, honest) as srv:
            ran = wheelmagic(
                "install",
                "torch==2.15.0",
                "--yes",
                "--index-url",
                srv.url("simple/"),
                "--platform",
                str(snapshot("cpu")),
                "--python",
                venv.python,
                "--backend",
                "uv",
                env=env,
                timeout=300,
            )
        assert bashrc.read_text() == "export PATH=$HOME/bin:$PATH\n", "written through a link"
        assert list(attacker_dir.iterdir()) == []  # nothing went into the attacker's directory
        assert ran.returncode == 0, ran.output
        assert venv.build() == "2.15.0+cpu cpu"
        assert "can be written by other users" in ran.stderr, ran.stderr
        assert (cache / "tmp" / f"{sha}.part").is_symlink()  # left alone, never opened
    finally:
        shutil.rmtree(shared, ignore_errors=True)
        with contextlib.suppress(NameError):
            shutil.rmtree(attacker_dir, ignore_errors=True)


def test_data_member_escaping_is_refused_and_a_pip_failure_on_it_is_undone(venv: Env) -> None:
    """The issue's own example of a part-way failure: a `torch-2.15.0.data/data/../../x`
    member. Through the CLI, staging refuses it before any installer runs. Behind that guard,
    real pip given the wheel directly writes the members before it, then refuses the escaping
    one ("Unexpected file ... .data directory contents should be named like"), and `Backup.restore()` puts the venv back file for
    file (pip's own rollback restores the old torch but leaves the new dist-info and
    `torch_extra/`)."""
    from wheelmagic.errors import InstallError
    from wheelmagic.install.backends import InstallRequest, PipBackend
    from wheelmagic.install.lock import Backup

    dist_info = "torch-2.15.0.dist-info"
    wheel = hostile_wheel(
        venv.tmp / "hostile" / "torch-2.15.0-py3-none-any.whl",
        [
            *dist_info_members(dist_info, "2.15.0"),
            *torch_members(),
            ("torch_extra/__init__.py", b""),
            ("torch-2.15.0.data/data/../../../escaped.txt", b"out\n"),
        ],
        dist_info=dist_info,
    )
    before = tree(venv.prefix)
    with index_of(venv.tmp, wheel) as srv:
        ran = venv.install(srv, "torch==2.15.0", installer="pip")
    assert ran.returncode == 4, ran.output
    assert "point outside the environment" in ran.stderr and "escaped.txt" in ran.stderr
    assert diff(before, tree(venv.prefix)) == []

    backup = Backup.take(
        ["torch"], [str(venv.site)], str(venv.prefix), venv.tmp / "cache", wheels=[wheel]
    )
    with pytest.raises(InstallError, match="Unexpected file|outside"):
        PipBackend().install(InstallRequest(python=venv.python, wheels=(wheel,)))
    assert diff(before, tree(venv.prefix)) != []  # pip left part of the new wheel behind
    backup.restore()
    backup.discard()
    assert backup.problems == []
    assert diff(before, tree(venv.prefix)) == []
    assert not list(venv.tmp.rglob("escaped.txt"))
    assert venv.build() == BASELINE
