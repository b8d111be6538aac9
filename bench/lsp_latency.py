#!/usr/bin/env python3
"""How fast `detachify server` answers an edit, driven over stdio by a real LSP client (pygls').

    python bench/lsp_latency.py                  # ~1,000-line script, 20 timed edits, RSS after 100 edits
    python bench/lsp_latency.py --lines 300 --edits 10 --total-edits 30 --json /tmp/lsp.json

It opens a generated training script (models, training loops, evaluation, plotting: the conversions detachify
reports, a few lists of losses), then makes one-character edits in the middle of it, one at a time, each waiting
for its diagnostics. Latency is from sending ``didChange`` to receiving the ``publishDiagnostics`` for that
version, debounce included. After ``--total-edits`` edits it reads the resident memory of the server and of its
checker process (Linux ``/proc``). For scale it also times the engine alone (``detachify.check_source``) on the
same text, in this process: parsing the whole text each time, and parsing only what an edit changed (as the
server's checker does).

Needs the `lsp` extra (``pip install -e ".[lsp]"``).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import textwrap
import time
from pathlib import Path

from lsprotocol import types as lsp
from pygls.lsp.client import LanguageClient

HEAD = textwrap.dedent('''\
    """A generated training script: models, loops, evaluation and plots."""
    import matplotlib.pyplot as plt
    import numpy as np
    import torch
    from torch import nn

    torch.manual_seed(0)
    DEVICE = "cpu"

''')

MODEL = textwrap.dedent('''\
    class Net{i}(nn.Module):
        def __init__(self, width={width}):
            super().__init__()
            self.fc1 = nn.Linear(8, width)
            self.fc2 = nn.Linear(width, 1)

        def forward(self, x):
            hidden = torch.relu(self.fc1(x))
            return self.fc2(hidden)


    def make_data_{i}(n=64):
        x = torch.randn(n, 8)
        y = x.sum(dim=1, keepdim=True) + 0.1 * torch.randn(n, 1)
        return x, y


    def train_{i}(epochs=3, lr=0.05):
        model = Net{i}().to(DEVICE)
        optimizer = torch.optim.SGD(model.parameters(), lr=lr)
        criterion = nn.MSELoss()
        x, y = make_data_{i}()
        for epoch in range(epochs):
            optimizer.zero_grad()
            prediction = model(x)
            loss = criterion(prediction, y)
            loss.backward()
            optimizer.step()
            print("epoch", epoch, "loss", loss.item())
        print("final loss", loss.detach().numpy())
        return model, prediction


    def evaluate_{i}(model):
        x, y = make_data_{i}(16)
        with torch.no_grad():
            prediction = model(x)
            error = (prediction - y).abs().mean().numpy()
        scores = model(x)
        print("scores", scores.numpy().ravel()[:3])
        return float(error)


    def report_{i}():
        model, prediction = train_{i}()
        weights = model.fc1.weight
        print("weight norm", np.linalg.norm(weights.detach().numpy()))
        print("first prediction", prediction.numpy()[0])
        return evaluate_{i}(model)


''')

PLOT = textwrap.dedent('''\
    def curves_{i}(epochs=5):
        model = Net{i}()
        optimizer = torch.optim.Adam(model.parameters())
        x, y = make_data_{i}()
        losses = []
        for epoch in range(epochs):
            optimizer.zero_grad()
            loss = nn.functional.mse_loss(model(x), y)
            loss.backward()
            optimizer.step()
            losses.append(loss)
        plt.plot(losses)
        plt.savefig("curves_{i}.png")


''')


def training_script(lines: int) -> str:
    """About ``lines`` lines: model blocks, and a plotting block with a list of losses every fourth block."""
    parts, i = [HEAD], 0
    while sum(part.count("\n") for part in parts) < lines:
        parts.append(MODEL.format(i=i, width=16 + i))
        if i % 4 == 3:
            parts.append(PLOT.format(i=i))
        i += 1
    return "".join(parts)


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def children(pid: int):
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


async def measure(args) -> dict:
    source = training_script(args.lines)
    lines = source.splitlines()
    # Edit the `width=` default of a model in the middle of the file: one character, findings unchanged.
    candidates = [n for n, line in enumerate(lines) if "def __init__(self, width=" in line]
    target = min(candidates, key=lambda n: abs(n - len(lines) // 2))
    column = lines[target].index("width=") + len("width=")

    published = {}
    arrived = asyncio.Event()
    client = LanguageClient("lsp-latency-bench", "1")

    @client.feature(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def on_publish(params: lsp.PublishDiagnosticsParams) -> None:
        published[params.version] = (time.perf_counter(), len(params.diagnostics))
        arrived.set()

    @client.feature(lsp.WINDOW_LOG_MESSAGE)
    def on_log(params: lsp.LogMessageParams) -> None:
        if params.type in (lsp.MessageType.Error, lsp.MessageType.Warning):
            print("server:", params.message, file=sys.stderr)

    workdir = Path(args.workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "train_generated.py"
    path.write_text(source)
    uri = path.as_uri()
    await client.start_io(sys.executable, "-m", "detachify", "server")
    server_pid = client._server.pid
    await client.initialize_async(lsp.InitializeParams(
        capabilities=lsp.ClientCapabilities(), root_uri=workdir.as_uri(), process_id=os.getpid()))
    client.initialized(lsp.InitializedParams())

    async def wait_for(version: int) -> float:
        while version not in published:
            arrived.clear()
            await asyncio.wait_for(arrived.wait(), args.timeout)
        return published[version][0]

    start = time.perf_counter()
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(lsp.TextDocumentItem(uri, "python", 1, source)))
    opened = await wait_for(1) - start
    findings = published[1][1]

    latencies = []
    version = 1
    for edit in range(args.total_edits):
        version += 1
        digit = str(1 + edit % 9)  # `width=16` -> `width=96`: never a leading zero
        change = lsp.TextDocumentContentChangePartial(
            range=lsp.Range(lsp.Position(target, column), lsp.Position(target, column + 1)), text=digit)
        sent = time.perf_counter()
        client.text_document_did_change(lsp.DidChangeTextDocumentParams(
            lsp.VersionedTextDocumentIdentifier(version, uri), [change]))
        latency = await wait_for(version) - sent
        if edit < args.edits:
            latencies.append(latency)
        if published[version][1] != findings:
            raise SystemExit(f"edit {edit}: {published[version][1]} diagnostics, expected {findings}")
    memory = {"server_rss_mib": rss_kib(server_pid) / 1024}
    checkers = children(server_pid)
    memory["checker_rss_mib"] = sum(rss_kib(pid) for pid in checkers) / 1024
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()

    from detachify import check_source, parsing

    engine = []  # every check parses the whole text
    for _ in range(5):
        parsing.forget_parses()
        t0 = time.perf_counter()
        check_source(source, str(path))
        engine.append(time.perf_counter() - t0)
    parsing.reuse_recent_parses()  # what the server's checker does: an edit parses what it changed
    edited = []
    check_source(source, str(path))
    for edit in range(5):
        text_lines = source.splitlines(keepends=True)
        line = text_lines[target]
        text_lines[target] = line[:column] + str(1 + edit) + line[column + 1:]
        t0 = time.perf_counter()
        check_source("".join(text_lines), str(path))
        edited.append(time.perf_counter() - t0)
    parsing.reuse_recent_parses(0)

    ordered = sorted(latencies)
    return {
        "lines": len(lines), "findings": findings, "timed_edits": len(latencies), "total_edits": args.total_edits,
        "open_to_diagnostics_ms": opened * 1000,
        "median_ms": statistics.median(latencies) * 1000,
        "p90_ms": ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))] * 1000,
        "min_ms": ordered[0] * 1000, "max_ms": ordered[-1] * 1000,
        "engine_median_ms": statistics.median(engine) * 1000,
        "engine_edit_median_ms": statistics.median(edited) * 1000,
        **memory, "checker_processes": len(checkers),
        "python": platform.python_version(), "cpus": os.cpu_count(), "load_average": os.getloadavg(),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=1000, help="size of the generated script (default 1000)")
    parser.add_argument("--edits", type=int, default=20, help="timed edits (default 20)")
    parser.add_argument("--total-edits", type=int, default=100, help="edits before measuring memory (default 100)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for one result")
    parser.add_argument("--workdir", default=os.path.join(os.path.expanduser("~"), ".cache", "detachify-lsp-bench"),
                        help="where the generated script is written (outside any project config)")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args(argv)
    args.total_edits = max(args.total_edits, args.edits)
    result = asyncio.run(measure(args))
    print(f"script: {result['lines']} lines, {result['findings']} diagnostics")
    print(f"open -> diagnostics: {result['open_to_diagnostics_ms']:.0f} ms")
    print(f"didChange -> publishDiagnostics over {result['timed_edits']} edits: median {result['median_ms']:.0f} ms, "
          f"p90 {result['p90_ms']:.0f} ms (min {result['min_ms']:.0f}, max {result['max_ms']:.0f})")
    print(f"engine alone (check_source, median of 5): {result['engine_median_ms']:.0f} ms whole text, "
          f"{result['engine_edit_median_ms']:.0f} ms for an edit (only the changed statement parsed again)")
    print(f"after {result['total_edits']} edits: server RSS {result['server_rss_mib']:.1f} MiB, checker RSS "
          f"{result['checker_rss_mib']:.1f} MiB ({result['checker_processes']} process)")
    print(f"python {result['python']}, {result['cpus']} CPUs, load average "
          + ", ".join(f"{x:.2f}" for x in result["load_average"]))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
