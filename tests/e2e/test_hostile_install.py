"""A hostile index, at the install level: the real CLI against a loopback index that lies.

Each test serves a small synthetic index (`wheelmagic index build` over torch-like wheels:
2.14.1 `null`, 2.15.0 `null` and `cuda13.0`), then tampers with it the way a compromised
mirror, a broken proxy or a malicious index would: wrong hashes, variant metadata that
disagrees with the wheels, labels nobody describes, oversized or deeply nested JSON, file
names that try to escape the cache, redirects to other hosts and downgrades to plain http.

What every refusal must look like (`Guard`): exit status 4 with a message that names the
package, the index or file and a next step (`->`); nothing written outside the cache
directory (the whole test tree is compared before and after, with HOME and TMPDIR inside it);
the target venv byte for byte unchanged, the previously installed torch still importing; no
rejected file in the cache, no partial file left behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from support.e2e import Ran, clean_env, make_venv, py, snapshot, wheelmagic
from support.server import Fault, Server, serve_directory
from support.wheels import build_wheel

from wheelmagic.index.build import build_index

pytestmark = pytest.mark.e2e

NULL = "torch-2.15.0-py3-none-any-null.whl"
CUDA = "torch-2.15.0-py3-none-any-cuda13.0.whl"
VJSON = "torch-2.15.0-variants.json"
BASELINE = "2.14.1+cpu cpu"


# ---------------------------------------------------------------------------------------------
# the tree guard: nothing outside the cache changes


def tree(root: Path, skip: tuple[Path, ...] = ()) -> dict[str, tuple[str, int, str]]:
    """path -> (kind, mode, sha256 or link target) for everything under `root`."""
    out: dict[str, tuple[str, int, str]] = {}
    if not root.exists():
        return out
    for dirpath, dirnames, filenames in os.walk(root):
        d = Path(dirpath)
        dirnames[:] = [n for n in dirnames if d / n not in skip]
        for name in dirnames + filenames:
            p = d / name
            st = p.lstat()
            rel = str(p.relative_to(root))
            if p.is_symlink():
                out[rel] = ("link", st.st_mode, os.readlink(p))
            elif p.is_dir():
                out[rel] = ("dir", st.st_mode, "")
            else:
                out[rel] = ("file", st.st_mode, hashlib.sha256(p.read_bytes()).hexdigest())
    return out


def diff(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    changed = sorted(k for k in set(before) & set(after) if before[k] != after[k])
    return [f"+ {p}" for p in added] + [f"- {p}" for p in removed] + [f"~ {p}" for p in changed]


# ---------------------------------------------------------------------------------------------
# fixtures


@dataclass
class Venv:
    python: str
    prefix: Path
    base: Path

    def build(self) -> str:
        ran = py(self.python, "import torch; print(torch.__version__, torch.__build__)")
        return ran.stdout.strip() if ran.returncode == 0 else "IMPORT FAILED: " + ran.stderr


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """One venv for the module with torch 2.14.1 (`null`) installed from an honest index."""
    base = tmp_path_factory.mktemp("hostile-venv")
    wheels = base / "wheels"
    build_wheel(wheels, version="2.14.1", label="null")
    build_index(wheels, base / "www")
    python = make_venv(base / "venv", with_pip=False)
    env = clean_env(base / "cache")
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
            env=env,
        )
    assert ran.returncode == 0, ran.output
    v = Venv(python, base / "venv", base)
    assert v.build() == BASELINE
    return v


@dataclass
class World:
    tmp: Path
    www: Path
    cache: Path
    env: dict[str, str]
    srv: Server
    venv: Venv
    before: dict[str, Any] = field(default_factory=dict)
    venv_before: dict[str, Any] = field(default_factory=dict)

    @property
    def wm_cache(self) -> Path:
        return self.cache / "wheelmagic"

    def install(
        self,
        *reqs: str,
        platform: str = "cpu",
        index_url: str | None = None,
        extra: tuple[str, ...] = (),
        python: str | None = None,
        env: dict[str, str] | None = None,
    ) -> Ran:
        return wheelmagic(
            "install",
            *reqs,
            "--yes",
            "--index-url",
            index_url or self.srv.url("simple/"),
            "--platform",
            str(snapshot(platform)),
            "--python",
            python or self.venv.python,
            *extra,
            env=env or self.env,
            timeout=300,
        )

    # -- tampering ---------------------------------------------------------------------------

    def page(self) -> dict[str, Any]:
        return json.loads((self.www / "simple" / "torch" / "index.json").read_text())

    def write_page(self, doc: dict[str, Any]) -> None:
        (self.www / "simple" / "torch" / "index.json").write_text(json.dumps(doc))

    def entry(self, doc: dict[str, Any], filename: str) -> dict[str, Any]:
        return next(f for f in doc["files"] if f["filename"] == filename)

    def replace_file(self, filename: str, data: bytes, *, relist: bool = True) -> None:
        """Serve other bytes under `filename`; with `relist`, the index lists their true hash."""
        (self.www / "files" / filename).write_bytes(data)
        if relist:
            self.set_hash(filename, hashlib.sha256(data).hexdigest(), len(data))

    def set_hash(self, filename: str, sha256: str, size: int | None = None) -> None:
        """What both pages (PEP 691 JSON and PEP 503 HTML) claim about `filename`."""
        doc = self.page()
        item = self.entry(doc, filename)
        item["hashes"] = {"sha256": sha256}
        if size is not None:
            item["size"] = size
        self.write_page(doc)
        html = self.www / "simple" / "torch" / "index.html"
        lines = []
        for line in html.read_text().splitlines():
            if f"files/{filename}#sha256=" in line:
                head, _, rest = line.partition("#sha256=")
                line = head + "#sha256=" + sha256 + rest[64:]
            lines.append(line)
        html.write_text("\n".join(lines) + "\n")

    def variants_json(self) -> dict[str, Any]:
        return json.loads((self.www / "files" / VJSON).read_text())

    # -- the checks --------------------------------------------------------------------------

    def snapshot_trees(self) -> None:
        self.before = tree(self.tmp, skip=(self.cache,))
        self.venv_before = tree(self.venv.prefix)

    def assert_refused(self, ran: Ran, *must: str) -> None:
        """A clear error, and nothing changed anywhere but in the cache."""
        assert ran.returncode == 4, ran.output
        err = ran.stderr
        assert "Traceback" not in ran.output, ran.output
        assert "wheelmagic: error:" in err and "\n  -> " in err, err  # a next step
        for text in must:
            assert text in err, f"{text!r} not in:\n{err}"
        assert diff(self.before, tree(self.tmp, skip=(self.cache,))) == []
        assert diff(self.venv_before, tree(self.venv.prefix)) == []
        assert self.venv.build() == BASELINE

    def cached_wheels(self) -> list[str]:
        return sorted(p.name for p in (self.wm_cache / "wheels").glob("*/*/*"))

    def partial_files(self) -> list[str]:
        """Partial downloads left in the download area (`tmp/u<uid>/*.part`)."""
        tmp = self.wm_cache / "tmp"
        return sorted(p.name for p in tmp.rglob("*.part")) if tmp.is_dir() else []

    def download_leftovers(self) -> list[str]:
        """Anything left in the download area (`.part` files and their `.json` validators)."""
        tmp = self.wm_cache / "tmp"
        return sorted(p.name for p in tmp.rglob("*") if p.is_file()) if tmp.is_dir() else []


@pytest.fixture
def world(tmp_path: Path, venv: Venv) -> Iterator[World]:
    wheels = tmp_path / "wheels"
    build_wheel(wheels, version="2.14.1", label="null")
    build_wheel(wheels, version="2.15.0", label="null")
    build_wheel(wheels, version="2.15.0", label="cuda13.0")
    www = tmp_path / "www"
    build_index(wheels, www, link="copy")
    cache = tmp_path / "cache"
    home = tmp_path / "home"
    (home / "tmp").mkdir(parents=True)
    env = clean_env(
        cache,
        {
            "HOME": str(home),
            "TMPDIR": str(home / "tmp"),
            "XDG_CACHE_HOME": str(home / ".cache"),
            "XDG_CONFIG_HOME": str(home / ".config"),
        },
    )
    with serve_directory(www) as srv:
        yield World(tmp_path, www, cache, env, srv, venv)


# ---------------------------------------------------------------------------------------------
# an index that lies about hashes


def test_index_lists_a_wrong_hash(world: World) -> None:
    """The index (not the transport) lies: the listed sha256 is not the file's."""
    world.set_hash(NULL, hashlib.sha256(b"something else").hexdigest())
    world.snapshot_trees()
    ran = world.install("torch==2.15.0")
    world.assert_refused(
        ran, NULL, "failed verification", "sha256", world.srv.url(""), "not installed"
    )
    assert world.srv.body_count(f"/files/{NULL}") >= 1  # it was really fetched, then discarded
    assert NULL not in world.cached_wheels()
    assert world.partial_files() == []


def test_rejected_download_leaves_nothing_in_tmp(world: World) -> None:
    world.set_hash(NULL, hashlib.sha256(b"something else").hexdigest())
    ran = world.install("torch==2.15.0")
    assert ran.returncode == 4
    assert world.download_leftovers() == []


def test_pep503_page_lies_too(world: World) -> None:
    """Same lie on the HTML page (a server that cannot negotiate JSON)."""
    (world.www / "simple" / "torch" / "index.json").unlink()
    html = world.www / "simple" / "torch" / "index.html"
    good = hashlib.sha256((world.www / "files" / NULL).read_bytes()).hexdigest()
    html.write_text(html.read_text().replace(good, "0" * 64))
    world.snapshot_trees()
    ran = world.install("torch==2.15.0")
    world.assert_refused(ran, NULL, "failed verification", "0" * 64)
    assert NULL not in world.cached_wheels() and world.partial_files() == []


# ---------------------------------------------------------------------------------------------
# variant metadata that disagrees with the wheels


@pytest.mark.parametrize("lie", ["properties", "label"])
def test_wheel_variant_json_disagrees_with_index(world: World, tmp_path: Path, lie: str) -> None:
    """The index says `cuda13.0` fits an H100 (CUDA >= 13.0); the wheel itself says otherwise."""
    liar_dir = tmp_path / "liar"
    if lie == "properties":  # same label, but needs CUDA 99 and an arch no GPU has
        liar = build_wheel(
            liar_dir,
            version="2.15.0",
            label="cuda13.0",
            properties={"nvidia": {"cuda_version_lower_bound": ["99.0"], "sm_arch": ["999_real"]}},
        )
    else:  # the file is named cuda13.0 but describes the cuda12.8 build
        src = build_wheel(liar_dir, version="2.15.0", label="cuda12.8")
        liar = src.with_name(CUDA)
        src.rename(liar)
    world.replace_file(CUDA, liar.read_bytes())  # listed with its true hash: only metadata lies
    own = tmp_path / "own-venv"
    python = make_venv(own, with_pip=False)
    before = tree(own)
    ran = world.install("torch==2.15.0", platform="h100", python=python)
    installed = tree(own) != before
    assert ran.returncode == 4 and not installed, ran.output
    assert CUDA in ran.stderr and "variant.json" in ran.stderr


def test_label_missing_from_variants_json(world: World) -> None:
    doc = world.variants_json()
    del doc["variants"]["null"]
    world.replace_file(VJSON, json.dumps(doc).encode())
    world.snapshot_trees()
    ran = world.install("torch==2.15.0")
    world.assert_refused(
        ran,
        "torch==2.15.0",
        NULL,
        "label 'null' is missing from",
        world.srv.url(f"files/{VJSON}"),
        "--explain",
    )
    assert world.srv.count(f"/files/{NULL}") == 0  # never downloaded
    assert world.cached_wheels() == []


def test_undescribed_label_is_skipped_not_installed(world: World) -> None:
    """Unpinned, the undescribed 2.15.0 is passed over: the fitting 2.14.1 stays."""
    doc = world.variants_json()
    del doc["variants"]["null"]
    world.replace_file(VJSON, json.dumps(doc).encode())
    world.snapshot_trees()
    ran = world.install("torch", extra=("--explain",))
    assert ran.returncode == 0, ran.output
    assert "already installed" in ran.output and "2.14.1" in ran.output
    assert "label 'null' is missing" in ran.output  # --explain says why 2.15.0 was passed over
    assert world.srv.count(f"/files/{NULL}") == 0
    assert diff(world.venv_before, tree(world.venv.prefix)) == []


def test_variant_wheels_without_any_variants_json(world: World) -> None:
    doc = world.page()
    doc["files"] = [f for f in doc["files"] if f["filename"] != VJSON]
    world.write_page(doc)
    world.snapshot_trees()
    ran = world.install("torch==2.15.0")
    world.assert_refused(ran, "torch==2.15.0", NULL, f"no {VJSON}")
    assert world.srv.count(f"/files/{NULL}") == 0


# ---------------------------------------------------------------------------------------------
# oversized, deeply nested or unreadable variants.json


def _hostile_variants_json(kind: str, honest: dict[str, Any]) -> bytes:
    if kind == "over-5MiB-cap":
        return json.dumps({**honest, "x-padding": "a" * (6 << 20)}).encode()
    if kind == "nested-past-depth-cap":  # valid JSON, 40 levels (the cap is 32)
        deep: Any = {}
        for _ in range(40):
            deep = {"a": deep}
        return json.dumps({**honest, "x-deep": deep}).encode()
    if kind == "nested-past-recursion-limit":
        return b"[" * 200_000 + b"]" * 200_000
    if kind == "unknown-schema":
        return json.dumps({**honest, "$schema": "https://evil.example/v9.json"}).encode()
    if kind == "not-json":
        return b"\xff\xfe<html>oops</html>"
    raise AssertionError(kind)


VARIANTS_JSON_CASES = [
    "over-5MiB-cap",
    "nested-past-depth-cap",
    "nested-past-recursion-limit",
    "unknown-schema",
    "not-json",
]
#: what the real cause looks like in wheelmagic.index.client / variants.metadata
CAUSE = {
    "over-5MiB-cap": "byte limit",
    "nested-past-depth-cap": "nests deeper than 32",
    "nested-past-recursion-limit": "not valid JSON",
    "unknown-schema": "unknown $schema",
    "not-json": "not valid JSON",
}


@pytest.mark.parametrize("kind", VARIANTS_JSON_CASES)
def test_hostile_variants_json_is_refused(world: World, kind: str) -> None:
    world.replace_file(VJSON, _hostile_variants_json(kind, world.variants_json()))
    world.snapshot_trees()
    ran = world.install("torch==2.15.0")
    world.assert_refused(ran, "torch==2.15.0", NULL, "--explain")
    for wheel in (NULL, CUDA):
        assert world.srv.count(f"/files/{wheel}") == 0  # nothing downloaded on its word
    assert world.cached_wheels() == []


@pytest.mark.parametrize("kind", VARIANTS_JSON_CASES)
def test_hostile_variants_json_error_names_the_cause(world: World, kind: str) -> None:
    world.replace_file(VJSON, _hostile_variants_json(kind, world.variants_json()))
    ran = world.install("torch==2.15.0")
    assert ran.returncode == 4
    assert CAUSE[kind] in ran.stderr, ran.stderr


def test_variants_json_hash_mismatch(world: World) -> None:
    """A variants.json whose bytes differ from the hash the page lists is not used."""
    doc = world.variants_json()
    doc["variants"]["null"] = {"nvidia": {"cuda_version_lower_bound": ["1.0"]}}
    (world.www / "files" / VJSON).write_text(json.dumps(doc))  # listed hash not updated
    world.snapshot_trees()
    ran = world.install("torch==2.15.0")
    world.assert_refused(ran, "torch==2.15.0", NULL)
    assert world.srv.count(f"/files/{NULL}") == 0


# ---------------------------------------------------------------------------------------------
# hostile PEP 691 pages


@pytest.mark.parametrize(
    "kind",
    [
        "declared-over-64MiB",
        "streamed-over-64MiB",
        "nested-past-recursion-limit",
        "not-an-object",
        "api-version-2",
    ],
)
def test_hostile_project_page(world: World, kind: str) -> None:
    page = world.www / "simple" / "torch" / "index.json"
    json_type = "application/vnd.pypi.simple.v1+json"
    if kind == "declared-over-64MiB":
        world.srv.faults["/simple/torch/"] = Fault(
            "body", times=None, body=b" " * (65 << 20), content_type=json_type
        )
    elif kind == "streamed-over-64MiB":  # no Content-Length: the cap must hold while reading
        page.write_bytes(
            b'{"meta": {"api-version": "1.1"}, "files": [], "x": "' + b"a" * (65 << 20) + b'"}'
        )
        world.srv.faults["/simple/torch/"] = Fault("truncate", times=None, after=70 << 20)
    elif kind == "nested-past-recursion-limit":
        page.write_bytes(b'{"files": ' + b"[" * 200_000 + b"]" * 200_000 + b"}")
    elif kind == "not-an-object":
        page.write_text("[1, 2, 3]")
    else:
        page.write_text(json.dumps({**world.page(), "meta": {"api-version": "2.0"}}))
    world.snapshot_trees()
    ran = world.install("torch==2.15.0")
    world.assert_refused(ran, "no index could be read for torch", world.srv.url("simple/"))
    expected = {
        "declared-over-64MiB": "byte limit",
        "streamed-over-64MiB": "byte limit",
        "nested-past-recursion-limit": "not valid JSON",
        "not-an-object": "not an object",
        "api-version-2": "unsupported simple API",
    }
    assert expected[kind] in ran.stderr
    assert world.cached_wheels() == []


# ---------------------------------------------------------------------------------------------
# file names that try to escape the cache, and odd unicode


UNSAFE_NAMES = {
    "dotdot-in-filename": ("../../../evil-2.15.0-py3-none-any-null.whl", None),
    "slash-in-filename": ("sub/torch-2.15.0-py3-none-any-null.whl", None),
    "backslash-in-filename": ("..\\..\\torch-2.15.0-py3-none-any-null.whl", None),
    "encoded-traversal-in-url": (None, "../../files/..%2F..%2Ftorch-2.15.0-py3-none-any-null.whl"),
    "nul-in-filename": ("torch-2.15.0-py3-none-any-null.whl\x00.txt", None),
    "hidden-dotfile": (".torch-2.15.0-py3-none-any-null.whl", None),
    "rtl-override-in-label": ("torch-2.15.0-py3-none-any-null\u202e.whl", None),
    "zero-width-in-label": ("torch-2.15.0-py3-none-any-nu\u200bll.whl", None),
    "division-slash-in-tag": ("torch-2.15.0-py3-none-any\u2215null.whl", None),
    "homoglyph-project": ("t\u0585rch-2.15.0-py3-none-any-null.whl", None),
    "fullwidth-dot-version": ("torch-2\uff0e15.0-py3-none-any-null.whl", None),
}


@pytest.mark.parametrize("case", sorted(UNSAFE_NAMES))
def test_unsafe_or_odd_file_names(world: World, case: str) -> None:
    """The only 2.15.0 file for this machine carries a bad name: it is never fetched."""
    filename, url = UNSAFE_NAMES[case]
    doc = world.page()
    item = world.entry(doc, NULL)
    if filename is not None:
        item["filename"] = filename
        # the URL carries the same name, percent-encoded as a real index would
        from urllib.parse import quote

        item["url"] = "../../files/" + quote(filename, safe="")
    if url is not None:
        item["url"] = url
        del item["filename"]
    world.write_page(doc)
    world.snapshot_trees()
    ran = world.install("torch==2.15.0")
    world.assert_refused(ran, "no installable build of torch==2.15.0", "--explain")
    assert [
        r.path
        for r in world.srv.requests
        if r.path.startswith("/files/") and r.path.endswith(".whl")
    ] == []  # no file was requested at all
    assert world.cached_wheels() == []
    assert not list(world.tmp.rglob("evil*")) and not list(world.cache.parent.glob("*.whl"))


# ---------------------------------------------------------------------------------------------
# redirects and plain http


def _port(srv: Server) -> int:
    return int(srv.base_url.rstrip("/").rsplit(":", 1)[1])


def test_plain_http_index_is_refused_before_any_request(world: World) -> None:
    world.snapshot_trees()
    ran = world.install("torch", index_url="http://example.invalid/simple/")
    world.assert_refused(
        ran, "refusing plain-http index", "example.invalid", "--trusted-host example.invalid"
    )
    assert ran.seconds < 30  # no DNS look-up, no retries


@pytest.mark.parametrize(
    "target",
    [
        "http://localhost.:{port}/mirror/torch/",
        "http://example.invalid/simple/torch/",
        "ftp://127.0.0.1:{port}/mirror/torch/",
    ],
)
def test_page_redirect_off_loopback_is_refused(world: World, target: str) -> None:
    """`localhost.` is not treated as loopback (only `localhost` and loopback IPs are)."""
    shutil.copytree(world.www / "simple" / "torch", world.www / "mirror" / "torch")
    location = target.format(port=_port(world.srv))
    world.srv.faults["/simple/torch/"] = Fault("redirect", times=None, location=location)
    world.snapshot_trees()
    ran = world.install("torch==2.15.0")
    world.assert_refused(ran, "refusing redirect", location, world.srv.url("simple/"))
    assert world.srv.count("/mirror/torch/") == 0


def test_download_redirect_to_plain_http_host_is_refused(world: World) -> None:
    world.srv.faults[f"/files/{NULL}"] = Fault(
        "redirect", times=None, location="http://evil.example.invalid/t.whl"
    )
    world.snapshot_trees()
    ran = world.install("torch==2.15.0")
    world.assert_refused(ran, NULL, "refusing redirect", "evil.example.invalid", "--trusted-host")
    assert world.cached_wheels() == [] and world.partial_files() == []


def test_loopback_redirect_is_followed_and_credentials_stay_behind(world: World) -> None:
    """A redirect to another loopback host is allowed, without the first host's password."""
    shutil.copytree(world.www / "simple" / "torch", world.www / "mirror" / "torch")
    port = _port(world.srv)
    world.srv.faults["/simple/torch/"] = Fault(
        "redirect", times=None, location=f"http://localhost:{port}/mirror/torch/"
    )
    ran = world.install(
        "torch==2.15.0",
        "--dry-run",
        "--json",
        index_url=f"http://alice:s3cret@127.0.0.1:{port}/simple/",
    )
    assert ran.returncode == 0, ran.output
    plan = json.loads(ran.stdout)
    assert plan["packages"][0]["filename"] == NULL
    assert plan["packages"][0]["url"].startswith(f"http://localhost:{port}/files/")
    first = [r for r in world.srv.requests if r.path == "/simple/torch/"]
    followed = [r for r in world.srv.requests if r.path == "/mirror/torch/"]
    assert first and followed
    assert all(r.headers.get("Authorization", "").startswith("Basic ") for r in first)
    assert not any("Authorization" in r.headers for r in followed)


@pytest.mark.parametrize("mode", ["--json", "--explain"])
def test_index_password_is_never_printed(world: World, mode: str) -> None:
    port = _port(world.srv)
    ran = world.install(
        "torch==2.15.0",
        "--dry-run",
        mode,
        index_url=f"http://alice:s3cret@127.0.0.1:{port}/simple/",
    )
    assert ran.returncode == 0, ran.output
    assert "s3cret" not in ran.output


# -- https: an index that redirects to plain http ---------------------------------------------


@pytest.fixture
def https_world(world: World) -> Iterator[World]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    certs = world.tmp / "certs"
    certs.mkdir()
    cert, key = certs / "cert.pem", certs / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    with serve_directory(world.www, tls=(cert, key)) as srv:
        world.srv = srv
        world.env["REQUESTS_CA_BUNDLE"] = str(cert)
        yield world


def test_https_index_works(https_world: World) -> None:
    """The control: the same index over https is read and its file chosen."""
    ran = https_world.install("torch==2.15.0", "--dry-run", "--json")
    assert ran.returncode == 0, ran.output
    assert json.loads(ran.stdout)["packages"][0]["url"].startswith("https://127.0.0.1:")


@pytest.mark.parametrize("where", ["page", "file"])
def test_https_index_redirecting_to_plain_http_is_refused(https_world: World, where: str) -> None:
    w = https_world
    path = "/simple/torch/" if where == "page" else f"/files/{NULL}"
    location = "http://mirror.example.invalid" + path
    w.srv.faults[path] = Fault("redirect", times=None, location=location)
    w.snapshot_trees()
    ran = w.install("torch==2.15.0")
    w.assert_refused(ran, "refusing redirect", "downgrades to http", location)
    assert w.cached_wheels() == [] and w.partial_files() == []


def test_https_with_an_untrusted_certificate_is_refused(https_world: World) -> None:
    """Without the CA bundle the self-signed index is not trusted (no silent fallback)."""
    env = {k: v for k, v in https_world.env.items() if k != "REQUESTS_CA_BUNDLE"}
    https_world.snapshot_trees()
    ran = https_world.install("torch==2.15.0", env=env)
    https_world.assert_refused(
        ran, "no index could be read for torch", https_world.srv.url("simple/")
    )
    assert "CERTIFICATE_VERIFY_FAILED" in ran.stderr or "certificate" in ran.stderr.lower()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
