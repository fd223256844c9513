"""`wheelmagic mirror`: an offline variant index holding exactly what a fleet's machines need.

For each machine (a platform snapshot from `wheelmagic detect --json` run on that machine
type), a `Session` plans the requirements as `wheelmagic install` would there; the chosen
files are downloaded through the cache (sha256 checked against the index), staged with that
machine's variant markers decided, and their plain dependencies resolved by pip for that
machine (`pip download`, only wheels, from the same indexes); every dependency's sha256 is
checked against what the index lists. Then `wheelmagic.index.build` writes the static index
(`OUT_DIR/simple/`, `OUT_DIR/files/`, the merged `*-variants.json`) plus `OUT_DIR/mirror.json`
(which machine chose what).

Nothing is half-written: everything is built in a temporary directory beside `OUT_DIR` and
renamed into place at the end; on any failure `OUT_DIR` is left as it was. A re-run links the
files `OUT_DIR` already holds (same name, same sha256) instead of downloading them again.

Why pip for the dependencies rather than our own resolver: the plain dependencies are
ordinary packages, and pip's resolver with `--only-binary=:all:` is the reference for them;
wheelmagic's own planner only chooses among variants.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from wheelmagic.app import Session
from wheelmagic.errors import WheelmagicError
from wheelmagic.install.cache import sha256_of
from wheelmagic.options import Options

__all__ = ["MachinePlan", "MirrorError", "MirrorReport", "build_mirror", "snapshot_files"]

Log = Callable[[str], None]
#: written into OUT_DIR: marks a directory this command may replace on a re-run
MANIFEST = "mirror.json"
_FULL = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)


class MirrorError(WheelmagicError):
    pass


@dataclass(frozen=True)
class MachinePlan:
    """What one machine chose."""

    snapshot: str
    platform: str
    #: the chosen files, e.g. torch-2.14.1-py3-none-any-cuda13.0.whl
    chosen: tuple[str, ...]
    #: their plain dependencies, as pip resolved them for this machine
    dependencies: tuple[str, ...]


@dataclass
class MirrorReport:
    out_dir: Path
    machines: list[MachinePlan] = field(default_factory=list)
    #: files downloaded this run
    fetched: list[str] = field(default_factory=list)
    #: files taken from the previous OUT_DIR (same name and sha256)
    reused: list[str] = field(default_factory=list)
    projects: dict[str, list[str]] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {
            "out_dir": str(self.out_dir),
            "machines": [
                {
                    "snapshot": m.snapshot,
                    "platform": m.platform,
                    "chosen": list(m.chosen),
                    "dependencies": list(m.dependencies),
                }
                for m in self.machines
            ],
            "fetched": self.fetched,
            "reused": self.reused,
            "projects": self.projects,
        }


def snapshot_files(paths: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """Each `--platform` argument: a snapshot file, or a directory of `*.json` snapshots."""
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(path.glob("*.json"))
            if not found:
                raise MirrorError(
                    f"{path}: a directory with no *.json platform snapshot in it",
                    hint="run `wheelmagic detect --json > NAME.json` on each machine type",
                )
            out.extend(found)
        elif path.is_file():
            out.append(path)
        else:
            raise MirrorError(
                f"{path}: no such platform snapshot",
                hint="run `wheelmagic detect --json > FILE` on that machine type",
            )
    return list(dict.fromkeys(out))


def build_mirror(
    requirements: Sequence[str],
    platforms: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    *,
    options: Options | None = None,
    log: Log | None = None,
) -> MirrorReport:
    """Write the mirror for `requirements` on every machine of `platforms` into `out_dir`."""
    from wheelmagic.platform import load_platform

    base = options or Options()
    out = Path(out_dir).absolute()
    say = log or (lambda _m: None)
    snapshots = snapshot_files(platforms)
    for snap in snapshots:  # every snapshot readable before anything is fetched
        try:
            load_platform(snap)
        except WheelmagicError as err:
            said = err.message if str(snap) in err.message else f"{snap}: {err.message}"
            raise MirrorError(
                f"not a platform snapshot: {said}",
                hint="make it with `wheelmagic detect --json > FILE` on that machine type; "
                f"{out} was not touched",
            ) from None
    _check_replaceable(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    report = MirrorReport(out)
    try:
        previous = _previous_files(out)
        wheels = work / "wheels"
        wheels.mkdir()
        for snap in snapshots:
            report.machines.append(
                _mirror_machine(requirements, snap, base, work, wheels, previous, report, say)
            )
        from wheelmagic.index.build import build_index

        built = work / "out"
        try:
            index = build_index(wheels, built, link="auto")
        except OSError as err:
            raise _disk_error(err, "writing the index", out) from err
        report.projects = index.projects
        manifest = json.dumps(
            {"requirements": list(requirements), **report.to_json()}, indent=2
        ).encode()
        try:
            (built / MANIFEST).write_bytes(manifest + b"\n")
        except OSError as err:
            raise _disk_error(err, f"writing {MANIFEST}", out) from err
        _swap_in(built, out, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return report


def _check_replaceable(out: Path) -> None:
    if out.exists() and (
        not out.is_dir() or (any(out.iterdir()) and not (out / MANIFEST).is_file())
    ):
        raise MirrorError(
            f"{out} exists and is not a mirror written by `wheelmagic mirror`",
            hint="choose an empty or new directory (a re-run replaces only a previous mirror)",
        )


def _previous_files(out: Path) -> dict[str, Path]:
    files = out / "files"
    return {p.name: p for p in files.glob("*.whl")} if files.is_dir() else {}


def _mirror_machine(
    requirements: Sequence[str],
    snap: Path,
    base: Options,
    work: Path,
    wheels: Path,
    previous: dict[str, Path],
    report: MirrorReport,
    say: Log,
) -> MachinePlan:
    from wheelmagic._fs import cache_dir
    from wheelmagic.install.download import planned_downloader
    from wheelmagic.install.stage import stage_wheel
    from wheelmagic.ui.format import platform_summary

    machine = f"machine {snap.name}"
    options = replace(base, platform_file=str(snap), reinstall=True, dry_run=True)
    with Session(options) as session:
        try:
            summary = platform_summary(session.platform)
            plan = session.plan(list(requirements))
        except WheelmagicError as err:
            raise MirrorError(f"{machine}: {err.message}", hint=err.hint) from None
        say(f"{snap.name}: {summary}: {plan.summary()}")
        download = planned_downloader(cache_dir(), session.client.config)
        staged: list[Path] = []
        chosen: list[str] = []
        for planned in plan.packages:
            chosen.append(planned.filename)
            dest = wheels / planned.filename
            try:
                if not dest.exists():
                    old = previous.get(planned.filename)
                    if old is not None and planned.sha256 and sha256_of(old) == planned.sha256:
                        _link(old, dest)
                        report.reused.append(planned.filename)
                    else:
                        if not planned.sha256:
                            raise MirrorError(
                                f"{machine}: {planned.filename} has no sha256 on "
                                f"{planned.index_url}, so it cannot be verified",
                                hint="use an index that publishes hashes (PEP 503 #sha256=)",
                            )
                        _link(download(planned), dest)
                        report.fetched.append(planned.filename)
                key = f"{planned.filename}-{hashlib.sha256(str(snap).encode()).hexdigest()[:8]}"
                staged.append(
                    stage_wheel(
                        dest,
                        work / "staged" / key,
                        env=planned.variant_environment(),
                        filename=planned.filename,
                    ).path
                )
            except WheelmagicError as err:
                raise MirrorError(f"{machine}: {err.message}", hint=err.hint) from None
            except OSError as err:
                raise _disk_error(
                    err, f"{machine}: storing {planned.filename}", report.out_dir
                ) from err
        deps = _dependencies(session, staged, work, wheels, previous, report, machine)
    return MachinePlan(str(snap), summary, tuple(chosen), tuple(deps))


def _dependencies(
    session: Session,
    staged: list[Path],
    work: Path,
    wheels: Path,
    previous: dict[str, Path],
    report: MirrorReport,
    machine: str,
) -> list[str]:
    """pip's resolution of the staged wheels' dependencies for this machine, verified."""
    from packaging.utils import canonicalize_name, parse_wheel_filename

    from wheelmagic.install.backends import isolated_env

    if not staged:
        return []
    dest = Path(tempfile.mkdtemp(prefix="deps-", dir=work))
    # pip skips a file already in `dest`: what OUT_DIR held, what another machine fetched
    known = {**previous, **{p.name: p for p in wheels.glob("*.whl")}}
    for name, path in known.items():
        _link(path, dest / name)
    config = session.client.config
    argv = [
        session.interpreter.executable,
        "-m",
        "pip",
        "download",
        "--only-binary=:all:",
        "--progress-bar",
        "off",
        "--dest",
        str(dest),
    ]
    if config.index_urls:
        argv += ["--index-url", config.index_urls[0]]
        for url in config.index_urls[1:]:
            argv += ["--extra-index-url", url]
    for link in config.find_links:
        argv += ["--find-links", link]
    for host in config.trusted_hosts:
        argv += ["--trusted-host", host]
    if config.cert:
        argv += ["--cert", config.cert]
    if session.options.pre:
        argv.append("--pre")
    argv += [str(p) for p in staged]
    proc = subprocess.run(argv, capture_output=True, text=True, env=isolated_env(), check=False)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-8:])
        full = any(s in proc.stderr for s in ("No space left", "File too large", "Errno 28"))
        raise MirrorError(
            f"{machine}: pip could not download the dependencies of "
            f"{', '.join(p.name for p in staged)}:\n{tail}",
            hint=f"free disk space beside {report.out_dir}"
            if full
            else "check that the index serves them as wheels for this Python",
        )
    staged_names = {p.name for p in staged}
    # what pip resolved for this machine: the files it saved, or found already in `dest`
    resolved = {
        Path(line.split(prefix, 1)[1].strip()).name
        for line in proc.stdout.splitlines()
        for prefix in ("Saved ", "File was already downloaded ")
        if line.strip().startswith(prefix)
    }
    out: list[str] = []
    for path in sorted(dest.glob("*.whl")):
        if path.name in staged_names or path.name not in resolved:
            continue
        out.append(path.name)
        target = wheels / path.name
        if target.exists():  # another machine needed it too
            continue
        old = previous.get(path.name)
        same = old is not None and os.path.samefile(path, old)
        (report.reused if same else report.fetched).append(path.name)
        name = canonicalize_name(parse_wheel_filename(path.name)[0])
        _verify(session, name, path, machine)
        try:
            _link(path, target)
        except OSError as err:
            raise _disk_error(err, f"{machine}: storing {path.name}", report.out_dir) from err
    return out


def _verify(session: Session, name: str, path: Path, machine: str) -> None:
    """The file's sha256 must be the one the index lists for that file name."""
    listed = {
        c.filename: c.sha256 for c in session.client.project(name).candidates if c.sha256
    }.get(path.name)
    if listed is None:
        raise MirrorError(
            f"{machine}: {path.name}: the index lists no sha256 for it, so it cannot be verified",
            hint="use an index that publishes hashes (PEP 503 #sha256=)",
        )
    got = sha256_of(path)
    if got != listed.lower():
        raise MirrorError(
            f"{machine}: {path.name}: sha256 {got} is not the {listed} the index lists",
            hint="the download or the index is corrupt; run the command again",
        )


def _swap_in(built: Path, out: Path, work: Path) -> None:
    old = work / "previous"
    if out.exists():
        os.rename(out, old)
    try:
        os.rename(built, out)
    except OSError:
        if old.exists():
            os.rename(old, out)
        raise


def _link(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError as err:
        if err.errno in _FULL:
            raise
        shutil.copyfile(src, dst)


def _disk_error(err: OSError, doing: str, out: Path | None) -> MirrorError | OSError:
    if err.errno not in _FULL:
        return err
    return MirrorError(
        f"{doing}: {err.strerror or err} ({err.filename or 'the mirror'})",
        hint="free disk space (or choose another OUT_DIR) and run again; "
        f"{out or 'OUT_DIR'} was left as it was",
    )
