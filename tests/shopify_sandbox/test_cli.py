"""``dropsync sandbox shopify`` serves what the worker's environment expects."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_cli_serves_with_the_environment_credentials() -> None:
    env = {
        **os.environ,
        "SHOPIFY_SHOP_DOMAIN": "cli-test.myshopify.com",
        "SHOPIFY_ACCESS_TOKEN": "shpat_cli",
        "SHOPIFY_CLIENT_SECRET": "cli-secret",
        "COLUMNS": "250",
    }
    command = [str(ROOT / ".venv/bin/dropsync"), "sandbox", "shopify", "--port", "0", "--orders", "1000", "--seed", "4"]
    # Ctrl-C as in a terminal: a runner started in the background (`&`) hands its children SIGINT ignored,
    # and Python then leaves it ignored (this test hung so in a CI run started with `nohup … &`).
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"on (http://127\.0\.0\.1:\d+)", line)
        assert match, line
        url = f"{match.group(1)}/admin/api/2026-10/graphql.json"
        query = {"query": "{ shop { myshopifyDomain } orders(first: 1, reverse: true) { nodes { name } } }"}
        body = httpx.post(url, json=query, headers={"X-Shopify-Access-Token": "shpat_cli"}).json()
        assert body["data"]["shop"]["myshopifyDomain"] == "cli-test.myshopify.com"
        assert body["data"]["orders"]["nodes"] == [{"name": "#2000"}]
        assert httpx.post(url, json=query, headers={"X-Shopify-Access-Token": "other"}).status_code == 401
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            _, err = process.communicate(timeout=10)
            pytest.fail(f"the sandbox did not exit within 30 s of SIGINT; its stderr:\n{err[-3000:]}")


def test_cli_refuses_bad_flags_in_one_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "worker.cli.main", "sandbox", "shopify", "--plan", "gold"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "dropsync: sandbox shopify: plan must be one of standard, advanced, plus, enterprise (got 'gold')"
    ]
