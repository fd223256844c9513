"""A real JupyterHub whose users' servers start through the documented start-up hook.

The hub (`jupyterhub`, its `configurable-http-proxy` from npm, `SimpleLocalProcessSpawner`,
the dummy authenticator, all on 127.0.0.1) spawns each user's single-user server from that
user's own venv, with `Spawner.cmd` taken verbatim from the Zero to JupyterHub recipe in
docs/notebooks.md (and one user from the repo2docker `start` recipe there), a recorded
platform per user (`WHEELMAGIC_PLATFORM`) and one shared `WHEELMAGIC_CACHE_DIR`. The index is
a loopback variant index of small real wheels, which counts every request.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.server import free_port
from support.wait import wait_until

from fleet.plumbing import (
    ROOT,
    FleetIndex,
    FleetVenv,
    expected_build,
    fleet_env,
    fleet_venv,
    machine,
)

pytestmark = [
    pytest.mark.fleet,
    pytest.mark.e2e,
    pytest.mark.skipif(
        shutil.which("configurable-http-proxy") is None,
        reason="configurable-http-proxy (npm) is not installed",
    ),
]

DOCS = ROOT / "docs" / "notebooks.md"
START_TIMEOUT = 120  # the spawner's start_timeout and http_timeout


def docs_section(title: str) -> str:
    text = DOCS.read_text()
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 3)
    return text[start : end if end > 0 else len(text)]


def z2jh_cmd() -> list[str]:
    """`singleuser.cmd` of the Zero to JupyterHub recipe, exactly as the docs print it."""
    section = docs_section("JupyterHub (Zero to JupyterHub)")
    lines = [m for m in re.findall(r"^\s*cmd: (\[.*\])\s*$", section, re.M) if "preinstall" in m]
    assert len(lines) == 1, f"one preinstall `cmd:` line expected in {DOCS}"
    cmd: list[str] = json.loads(lines[0])
    return cmd


def repo2docker_start() -> str:
    """The `start` file of the repo2docker recipe, exactly as the docs print it."""
    section = docs_section("repo2docker / Binder")
    blocks = [b for b in re.findall(r"```bash\n(.*?)```", section, re.S) if 'exec "$@"' in b]
    assert len(blocks) == 1, f'one `start` script (ending in exec "$@") expected in {DOCS}'
    return blocks[0]


@dataclass
class Hub:
    url: str
    token: str
    log: Path
    proc: subprocess.Popen[bytes]
    homes: Path

    def api(self, method: str, path: str, **kw: Any) -> httpx.Response:
        return httpx.request(
            method,
            f"{self.url}hub/api/{path}",
            headers={"Authorization": f"token {self.token}"},
            timeout=30,
            **kw,
        )

    def server(self, user: str) -> dict[str, Any] | None:
        r = self.api("GET", f"users/{user}")
        r.raise_for_status()
        servers: dict[str, Any] = r.json().get("servers", {})
        return servers.get("")

    def start(self, user: str) -> None:
        r = self.api("POST", f"users/{user}/server")
        assert r.status_code in (201, 202), (r.status_code, r.text, self.log_text())

    def stop(self, user: str) -> None:
        r = self.api("DELETE", f"users/{user}/server")
        assert r.status_code in (202, 204), r.text
        wait_until(lambda: self.server(user) is None, what=f"{user}'s server to stop")

    def wait_ready(self, user: str) -> dict[str, Any]:
        def ready() -> dict[str, Any] | None:
            assert self.proc.poll() is None, self.log_text()
            s = self.server(user)
            if s is None:  # the spawn failed: the hub dropped the server
                pytest.fail(f"{user}'s server failed to start:\n{self.log_text()[-4000:]}")
            return s if s.get("ready") else None

        return wait_until(ready, what=f"{user}'s server to be ready", timeout=START_TIMEOUT + 30)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def user_api(self, user: str, method: str, path: str, **kw: Any) -> httpx.Response:
        return httpx.request(
            method,
            f"{self.url}user/{user}/api/{path}",
            headers={"Authorization": f"token {self.token}"},
            timeout=30,
            **kw,
        )


HUB_CONFIG = """
import json
c = get_config()  # noqa
users = json.load(open({users!r}))
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = {port}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_api}"
c.JupyterHub.db_url = "sqlite:///{base}/hub.sqlite"
c.JupyterHub.cookie_secret_file = "{base}/cookie_secret"
c.JupyterHub.pid_file = "{base}/hub.pid"
c.JupyterHub.cleanup_servers = True
c.JupyterHub.authenticator_class = "dummy"
c.Authenticator.allow_all = True
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = "{base}/homes/{{username}}"
c.Spawner.cmd = {cmd!r}
c.Spawner.start_timeout = {timeout}
c.Spawner.http_timeout = {timeout}
c.JupyterHub.services = [{{"name": "fleet-test", "api_token": {token!r}}}]
c.JupyterHub.load_roles = [{{
    "name": "fleet-test",
    "scopes": ["admin:users", "admin:servers", "access:servers", "list:users", "read:users"],
    "services": ["fleet-test"],
}}]

def pre_spawn_hook(spawner):
    user = users[spawner.user.name]
    spawner.environment.update(user["env"])
    if user.get("cmd"):
        spawner.cmd = user["cmd"]

c.Spawner.pre_spawn_hook = pre_spawn_hook
"""


@dataclass
class User:
    name: str
    kind: str
    venv: FleetVenv


@pytest.fixture(scope="module")
def hub_setup(
    fleet_index: FleetIndex, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Hub, dict[str, User], Path]]:
    base = tmp_path_factory.mktemp("hub")
    cache = base / "shared-cache"
    start_script = base / "start"
    start_script.write_text(repo2docker_start())
    users: dict[str, User] = {}
    config_users: dict[str, Any] = {}
    # cpu, t4, h100 start at once; h100b (repo2docker's `start`) later needs h100's wheel;
    # offline's index is a closed port
    for name, kind in (
        ("cpu", "cpu"),
        ("t4", "t4"),
        ("h100", "h100"),
        ("h100b", "h100"),
        ("offline", "cpu"),
    ):
        venv = fleet_venv(base / f"venv-{name}")
        users[name] = User(name, kind, venv)
        index = fleet_index.url if name != "offline" else f"http://127.0.0.1:{free_port()}/simple/"
        env = {
            "PATH": f"{venv.bin}:/usr/local/bin:/usr/bin:/bin",
            "WHEELMAGIC_PLATFORM": str(machine(kind)),
            "WHEELMAGIC_CACHE_DIR": str(cache),
            "WHEELMAGIC_INDEX_URL": index,
            "WHEELMAGIC_ON_MISMATCH": "off",
            "PIP_CONFIG_FILE": "/dev/null",
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "UV_CACHE_DIR": str(base / "uv-cache"),
        }
        home = base / "homes" / name
        # only for this test machine, where everything runs as root; not part of the recipe
        (home / ".jupyter").mkdir(parents=True)
        (home / ".jupyter" / "jupyter_server_config.json").write_text(
            json.dumps({"ServerApp": {"allow_root": True}})
        )
        config_users[name] = {
            "env": env,
            "cmd": ["bash", str(start_script), "jupyterhub-singleuser"]
            if name == "h100b"
            else None,
        }
    (base / "users.json").write_text(json.dumps(config_users))
    port = free_port()
    token = secrets.token_hex(16)
    (base / "jupyterhub_config.py").write_text(
        HUB_CONFIG.format(
            users=str(base / "users.json"),
            port=port,
            hub_port=free_port(),
            proxy_api=free_port(),
            base=base,
            cmd=z2jh_cmd(),
            timeout=START_TIMEOUT,
            token=token,
        )
    )
    log = base / "hub.log"
    hub_bin = ROOT / ".venv" / "bin"
    env = fleet_env(base, PATH=f"{hub_bin}:/usr/local/bin:/usr/bin:/bin")
    env["CONFIGPROXY_AUTH_TOKEN"] = secrets.token_hex(16)
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(hub_bin / "jupyterhub"), "-f", str(base / "jupyterhub_config.py")],
            cwd=base,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    hub = Hub(f"http://127.0.0.1:{port}/", token, log, proc, base / "homes")

    def up() -> bool:
        assert proc.poll() is None, hub.log_text()
        try:
            return hub.api("GET", "").status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(up, what="the hub's API", timeout=60, interval=0.2)
        yield hub, users, cache
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_hub_users_get_their_builds_share_one_cache_and_survive_a_dead_index(
    hub_setup: tuple[Hub, dict[str, User], Path], fleet_index: FleetIndex
) -> None:
    hub, users, cache = hub_setup
    for name in ("cpu", "t4", "h100"):
        hub.api("POST", f"users/{name}")  # 201, or 409 when already there
    # three servers starting at the same moment, one shared cache
    with ThreadPoolExecutor(3) as pool:
        list(pool.map(hub.start, ("cpu", "t4", "h100")))
    for name in ("cpu", "t4", "h100"):
        hub.wait_ready(name)
    for name in ("cpu", "t4", "h100"):
        assert users[name].venv.torch_build() == expected_build(users[name].kind), name
    # three torch builds, and their one plain dependency once (uv's shared cache)
    assert fleet_index.wheel_downloads() == 4
    # the cache is consistent: one file per build, each whole (its content hash is its
    # directory), no partial download left behind
    cached = sorted((cache / "wheels").glob("*/*/*.whl"))
    assert sorted(p.name.rsplit("-", 1)[1] for p in cached) == [
        "cuda12.8.whl",
        "cuda13.0.whl",
        "null.whl",
    ]
    for path in cached:
        assert hashlib.sha256(path.read_bytes()).hexdigest() == path.parent.name, path
    assert not [p for p in cache.rglob("*") if p.is_file() and p.suffix in (".part", ".tmp")]

    # a second H100 user (started through repo2docker's `start`) downloads no wheel at all
    before = fleet_index.wheel_downloads()
    hub.api("POST", "users/h100b")
    hub.start("h100b")
    hub.wait_ready("h100b")
    assert users["h100b"].venv.torch_build() == "cuda13.0"
    assert fleet_index.wheel_downloads() == before

    # an unreachable index: the hook says why, and the server starts anyway
    hub.api("POST", "users/offline")
    hub.start("offline")
    hub.wait_ready("offline")
    log = hub.log_text()
    assert "wheelmagic: error:" in log, log[-3000:]
    failed = [line for line in log.splitlines() if "wheelmagic: error:" in line]
    assert any("127.0.0.1" in line for line in failed), failed
    assert "import torch" not in users["offline"].venv.run(
        "import importlib.util as u; print(u.find_spec('torch'))"
    )
    for name in ("t4", "h100b", "offline"):
        hub.stop(name)


class KernelChannel:
    """A kernel's websocket channel through the hub's proxy (the REST API a frontend uses)."""

    def __init__(self, hub: Hub, user: str, kernel_id: str) -> None:
        import websocket

        ws_url = hub.url.replace("http://", "ws://")
        self.ws = websocket.create_connection(
            f"{ws_url}user/{user}/api/kernels/{kernel_id}/channels",
            header=[f"Authorization: token {hub.token}"],
            timeout=120,
        )
        self.session = uuid.uuid4().hex
        self.statuses: list[str] = []

    def close(self) -> None:
        self.ws.close()

    def _recv(self, deadline: float) -> dict[str, Any]:
        """The next message, or TimeoutError at `deadline`.

        Not `ws.recv()`: it answers the server's websocket pings (every 30 s) internally
        and waits again, so a request lost by a kernel that was shutting down would block
        it for ever. Control frames come back here, and the deadline is checked.
        """
        from websocket import ABNF

        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer from the kernel")
            self.ws.settimeout(left)
            opcode, frame = self.ws.recv_data_frame(True)
            if opcode == ABNF.OPCODE_TEXT:
                msg: dict[str, Any] = json.loads(frame.data)
                return msg
            if opcode == ABNF.OPCODE_CLOSE:
                raise ConnectionError("the server closed the kernel's websocket")

    def execute(self, code: str, timeout: float = 120) -> tuple[str, dict[str, Any]]:
        """Run `code`; its text output and the execute_reply content."""
        deadline = time.monotonic() + timeout
        msg_id = uuid.uuid4().hex
        self.ws.send(
            json.dumps(
                {
                    "header": {
                        "msg_id": msg_id,
                        "username": "fleet-test",
                        "session": self.session,
                        "msg_type": "execute_request",
                        "version": "5.3",
                    },
                    "parent_header": {},
                    "metadata": {},
                    "content": {
                        "code": code,
                        "silent": False,
                        "store_history": True,
                        "user_expressions": {},
                        "allow_stdin": False,
                        "stop_on_error": True,
                    },
                    "channel": "shell",
                    "buffers": [],
                }
            )
        )
        text: list[str] = []
        reply: dict[str, Any] | None = None
        idle = False
        while reply is None or not idle:
            msg = self._recv(deadline)
            if msg.get("msg_type") == "status":
                self.statuses.append(msg["content"]["execution_state"])
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                text.append(content["text"])
            elif kind in ("display_data", "execute_result"):
                text.append(content["data"].get("text/plain", ""))
            elif kind == "error":
                text.append(f"{content['ename']}: {content['evalue']}")
            elif kind == "status" and content["execution_state"] == "idle":
                idle = True
            elif kind == "execute_reply":
                reply = content
        return "".join(text), reply


def test_hub_kernel_restarts_itself_after_variant_install(
    hub_setup: tuple[Hub, dict[str, User], Path],
) -> None:
    hub, users, _cache = hub_setup
    user = "cpu"  # started by the first test, or here when run alone
    hub.api("POST", f"users/{user}")  # 201, or 409 when the first test made it
    if hub.server(user) is None:
        hub.start(user)
    hub.wait_ready(user)
    r = hub.user_api(user, "POST", "kernels", json={"name": "python3"})
    assert r.status_code == 201, (r.text, hub.log_text()[-3000:])
    kernel_id = r.json()["id"]
    chan = KernelChannel(hub, user, kernel_id)
    try:
        out, reply = chan.execute(
            "%load_ext wheelmagic\nimport os, sys, torch\nprint(os.getpid(), torch.__build__)"
        )
        assert reply["status"] == "ok", (out, hub.log_text()[-3000:])
        pid, build = out.split()[-2:]
        assert build == "cpu"
        assert (
            chan.execute("print(sys.executable)")[0].strip() == users[user].venv.python
        )  # the kernel runs in the user's venv
        out, reply = chan.execute(f"%variant_install torch --platform {machine('h100')}")
        assert "restarting the kernel" in out, out
    finally:
        chan.close()

    def answers() -> tuple[str, str] | None:
        c = KernelChannel(hub, user, kernel_id)
        try:
            # a short bound: a request that reached the old process is lost with it
            text, rep = c.execute(
                "import os, torch; print(os.getpid(), torch.__build__)", timeout=15
            )
            parts = text.split()
            if rep["status"] != "ok" or len(parts) < 2 or parts[-2] == pid:
                return None  # the old process may still answer while it shuts down
            return parts[-2], parts[-1]
        except Exception:
            return None
        finally:
            c.close()

    _new_pid, new_build = wait_until(answers, what="a new kernel process", timeout=120)
    # relaunched by the single-user server's own restarter (its log is in the hub's)
    assert "KernelRestarter: restarting kernel" in hub.log_text(), hub.log_text()[-3000:]
    assert new_build == "cuda13.0"
    assert users[user].venv.torch_build() == "cuda13.0"
    assert hub.user_api(user, "GET", f"kernels/{kernel_id}").status_code == 200  # same kernel
