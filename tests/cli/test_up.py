"""``dropsync up`` as a real process: sandboxes, receiver, worker and beat come up, mirror, and stop cleanly."""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cli.support import DROPSYNC, dropsync


@pytest.mark.slow
def test_up_mirrors_the_sandbox_shop_and_stops_every_child_on_ctrl_c(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHOPIFY_", "ALIEXPRESS_"))}
    env |= {"DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.sqlite3'}", "COLUMNS": "200",
            "DROPSYNC_EMBEDDED_BROKER_PATH": str(tmp_path / "broker.sqlite3")}  # fmt: skip
    env.pop("REDIS_URL", None)
    # The store's policy, given to up relatively, from where it was started.
    (tmp_path / "store-policy.toml").write_text("[returns.reasons.wrong_size]\naccepted = true\n")
    env["DROPSYNC_POLICY_FILE"] = "store-policy.toml"
    log = (tmp_path / "up.log").open("wb")
    up = subprocess.Popen([DROPSYNC, "up", "--port", "0", "--data-dir", str(tmp_path), "--sandbox-orders", "7"],
                          env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)  # fmt: skip
    try:
        output = _wait_for(tmp_path / "up.log", "running; Ctrl-C to stop", up, timeout=90)
        receiver = next(line.split(" on ")[1].strip() for line in output.splitlines() if "webhook receiver on" in line)
        assert httpx.get(receiver.replace("/webhooks/shopify", "/healthz"), timeout=5).status_code == 200
        deadline = time.monotonic() + 60  # the first sweep mirrors the seeded orders
        while True:
            listed = dropsync("orders", "list", "--json", env=env)
            if (listed.code == 0 and len(json.loads(listed.out)) == 7) or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert listed.code == 0, listed.err
        assert len(json.loads(listed.out)) == 7
        # Another terminal, as `up` says: `set -a; . dropsync-up.env; set +a`. The CLI then reaches both
        # sandboxes (without it, a command that asks AliExpress says its keys are not set).
        env_file = tmp_path / "dropsync-up.env"
        assert f". {env_file}; set +a" in output.replace("\n", "")
        assert env_file.stat().st_mode & 0o777 == 0o600
        # A fresh terminal elsewhere: none of up's environment, only what the file gives.
        fresh = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "PYTHONPATH")}
        sourced = subprocess.run(["bash", "-c", f"set -a; . {shlex.quote(str(env_file))}; set +a; env -0"],
                                 env=fresh, capture_output=True, check=True, cwd="/").stdout  # fmt: skip
        terminal = dict(item.split("=", 1) for item in sourced.decode().split("\0") if "=" in item)
        polled = dropsync("supplier", "poll", "--all", "--json", env=terminal)
        assert polled.code == 0, polled.err
        assert dropsync("supplier", "poll", "--all", "--json", env=env).code != 0  # what the file is for
        # The same ledger (up was given its DATABASE_URL) and the same policy as the worker decides with.
        assert len(json.loads(dropsync("orders", "list", "--json", env=terminal).out)) == 7
        assert terminal["DROPSYNC_POLICY_FILE"] == str(tmp_path / "store-policy.toml")
        explained = json.loads(dropsync("policy", "explain", "--json", env=terminal).out)
        assert explained["source"].endswith("store-policy.toml"), explained["source"]
    finally:
        up.send_signal(signal.SIGINT)
        code = up.wait(60)
        log.close()
    assert code == 0, (tmp_path / "up.log").read_text()[-2000:]
    assert not (tmp_path / "dropsync-up.env").exists()  # its ports and sandboxes are gone
    with pytest.raises(httpx.HTTPError):  # the receiver child is gone with it
        httpx.get(receiver.replace("/webhooks/shopify", "/healthz"), timeout=2)


def _wait_for(path: Path, text: str, process: subprocess.Popen[bytes], timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        output = path.read_text(errors="replace")
        if text in output:
            return output
        assert process.poll() is None, output[-3000:]
        time.sleep(0.3)
    raise AssertionError(f"{text!r} not seen within {timeout} s:\n{path.read_text()[-3000:]}")


@pytest.mark.slow
def test_up_with_a_real_shop_starts_no_sandbox_and_subscribes_the_public_url(
    tmp_path: Path, shopify_sandbox: Any
) -> None:
    shop = shopify_sandbox.config  # stands in for a real shop: dropsync only knows its URL and credentials
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHOPIFY_", "ALIEXPRESS_"))}
    env |= {"DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.sqlite3'}",
            "DROPSYNC_EMBEDDED_BROKER_PATH": str(tmp_path / "broker.sqlite3"),
            "SHOPIFY_SHOP_DOMAIN": shop.shop_domain, "SHOPIFY_ACCESS_TOKEN": shop.access_token,
            "SHOPIFY_CLIENT_SECRET": shop.client_secret, "SHOPIFY_API_URL": str(shopify_sandbox.base_url),
            "DROPSYNC_PUBLIC_URL": "https://dropsync.example.com"}  # fmt: skip
    env.pop("REDIS_URL", None)
    with (tmp_path / "up.log").open("wb") as log:
        up = subprocess.Popen([DROPSYNC, "up", "--port", "0", "--data-dir", str(tmp_path)], env=env, stdout=log,
                              stderr=subprocess.STDOUT)  # fmt: skip
        try:
            output = _wait_for(tmp_path / "up.log", "running; Ctrl-C to stop", up, timeout=90)
        finally:
            up.send_signal(signal.SIGINT)
            code = up.wait(60)
    assert code == 0
    assert "sandbox" not in output.split("running;")[0].lower()
    assert "webhook topics subscribed to https://dropsync.example.com/webhooks/shopify" in output.replace("\n", " ")
    subscribed = {d["uri"] for d in _subscriptions(shopify_sandbox)}
    assert subscribed == {"https://dropsync.example.com/webhooks/shopify"}


def _subscriptions(sandbox: Any) -> list[dict[str, str]]:
    from integrations.shopify.client import ShopifyClient

    with ShopifyClient(sandbox.config.shop_domain, sandbox.config.access_token, api_url=sandbox.base_url) as client:
        return list(client.execute("WebhookSubscriptions", {"first": 100})["webhookSubscriptions"]["nodes"])


def _descendants(root: int) -> set[int]:
    """Every process under ``root`` (children of its children too: the worker's pool)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited while we looked
        parents[int(stat.parent.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow
@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGHUP])
def test_up_stops_every_child_on_sigterm_and_sighup(tmp_path: Path, stop_signal: signal.Signals) -> None:
    """What systemd and platforms send (SIGTERM), or a closed terminal (SIGHUP): nothing is left running."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHOPIFY_", "ALIEXPRESS_"))}
    env |= {"DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.sqlite3'}", "COLUMNS": "200",
            "DROPSYNC_EMBEDDED_BROKER_PATH": str(tmp_path / "broker.sqlite3")}  # fmt: skip
    env.pop("REDIS_URL", None)
    with (tmp_path / "up.log").open("wb") as log:
        up = subprocess.Popen([DROPSYNC, "up", "--port", "0", "--data-dir", str(tmp_path), "--sandbox-orders", "2"],
                              env=env, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
        try:
            output = _wait_for(tmp_path / "up.log", "running; Ctrl-C to stop", up, timeout=90)
            children = _descendants(up.pid)
            assert len(children) >= 4, children  # web, worker (+ its pool), beat
            up.send_signal(stop_signal)
            code = up.wait(60)
        finally:
            if up.poll() is None:
                up.kill()
    receiver = next(line.split(" on ")[1].strip() for line in output.splitlines() if "webhook receiver on" in line)
    port = int(receiver.split(":")[2].split("/")[0])
    assert code == 0, (tmp_path / "up.log").read_text()[-2000:]
    deadline = time.monotonic() + 10  # a pool child may take a moment after its parent to see the end
    while {pid for pid in children if _running(pid)} and time.monotonic() < deadline:
        time.sleep(0.2)
    assert {pid for pid in children if _running(pid)} == set()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))  # the receiver's port is free again
    assert f"stopped ({stop_signal.name})" in (tmp_path / "up.log").read_text()
