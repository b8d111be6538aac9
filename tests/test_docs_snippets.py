"""The copy-paste snippets of the front-door docs, run as a user would run them.

Snippets are the fenced blocks right after a `<!-- snippet: NAME -->` marker in the README.
"""
from __future__ import annotations

import asyncio
import functools
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest
import yaml

try:
    import tomllib
except ImportError:  # Python < 3.11
    import tomli as tomllib

from detachify import check_source, fix_source
from test_precommit import make_repo, pre_commit, snapshot

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "README.md"
SNIPPET = re.compile(r"<!-- snippet: (?P<name>[\w-]+) -->\s*```\w*\n(?P<body>.*?)```", re.S)
BAD = textwrap.dedent("""\
    import torch
    model = torch.nn.Linear(4, 2)
    out = model(torch.randn(3, 4))
    print(out.numpy())
""")
CLEAN = "import torch\nprint(torch.randn(3).numpy())\n"
UNSAFE = textwrap.dedent("""\
    import torch
    layer = torch.nn.Linear(3, 3)
    clipped = torch.from_numpy(layer.weight.numpy().clip(-0.3, 0.3))
""")


def snippets():
    return {m["name"]: m["body"] for m in SNIPPET.finditer(DOC.read_text())}


def snippet(name):
    return snippets()[name]


def shell_commands(body):
    """The snippet's command lines, as argv lists, with `python` meaning this interpreter."""
    commands = [shlex.split(line) for line in body.splitlines() if line.strip() and not line.startswith("#")]
    return [[sys.executable, *argv[1:]] if argv[0] == "python" else argv for argv in commands]


def cli(argv):
    """`detachify ...` through this interpreter, so the test does not depend on the console script's PATH."""
    return [sys.executable, "-m", "detachify", *argv[1:]] if argv[0] == "detachify" else argv


EDITOR_SNIPPETS = ("vscode-settings", "neovim-lsp-config", "neovim-lspconfig", "helix-languages", "jupyterlab-lsp")


def test_every_snippet_is_tested():
    assert set(snippets()) == {"flake8-config", "pre-commit-config", "github-actions", "detachify-fix",
                               "libcst-codemod", *EDITOR_SNIPPETS}


@pytest.mark.parametrize("config_name", ["setup.cfg", "tox.ini", ".flake8"])
def test_flake8_config(tmp_path, config_name):
    (tmp_path / config_name).write_text(snippet("flake8-config"))
    (tmp_path / "tests").mkdir()
    (tmp_path / "bad.py").write_text(BAD)
    (tmp_path / "tests" / "test_bad.py").write_text(BAD)
    proc = subprocess.run([sys.executable, "-m", "flake8", "--select", "TNP", "."], cwd=tmp_path,
                          capture_output=True, text=True)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    expected = [f"./bad.py:{f.line}:{f.column + 1}:" for f in check_source(BAD, "bad.py")]
    assert [line.split(" ")[0] for line in proc.stdout.splitlines()] == expected  # tests/ is per-file-ignored


@pytest.mark.slow
def test_pre_commit_config(tmp_path):
    config = yaml.safe_load(snippet("pre-commit-config"))
    repo, sha, home = snapshot()
    config["repos"][0].update(repo=str(repo), rev=sha)  # the snippet's GitHub URL and tag, served locally
    project = make_repo(tmp_path / "project", {"bad.py": BAD, "clean.py": CLEAN, "unsafe.py": UNSAFE})
    (project / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config))
    proc = pre_commit("run", "--all-files", cwd=project, home=home)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert (project / "bad.py").read_text() == fix_source(BAD, "bad.py")
    # What has no safe fix is reported, once; so is the summary.
    [left] = check_source(UNSAFE, "unsafe.py")
    assert proc.stdout.count(f"unsafe.py:{left.line}:{left.column + 1}: {left.code} ") == 1, proc.stdout
    assert proc.stdout.count("Found ") == 1 and "bad.py:" not in proc.stdout
    # With everything fixed (and the unfixable file gone), the next run passes.
    (project / "unsafe.py").unlink()
    assert pre_commit("run", "--all-files", cwd=project, home=home).returncode == 0


REPOSITORY = "https://github.com/detachify/detachify"


@pytest.mark.slow
def test_github_actions_steps(tmp_path):
    """The job's steps as written, in a fresh virtual environment (what setup-python gives the job); the
    repository URL and tag are served by a committed copy of this checkout, as in the pre-commit tests."""
    workflow = yaml.safe_load(snippet("github-actions"))
    install, check = [step["run"] for job in workflow["jobs"].values() for step in job["steps"] if "run" in step]
    tag = snippet("pre-commit-config").split("rev: ")[1].split()[0]
    assert f"git+{REPOSITORY}@{tag}" in install  # not on PyPI: from the repository, at the hook's tag
    repo, sha, _ = snapshot()
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = {**os.environ, "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    env.pop("VIRTUAL_ENV", None)
    proc = subprocess.run(install.replace(f"{REPOSITORY}@{tag}", f"file://{repo}@{sha}"), shell=True, env=env,
                          cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    project = tmp_path / "project"
    project.mkdir()
    (project / "bad.py").write_text(BAD)
    (project / "clean.py").write_text(CLEAN)
    proc = subprocess.run(check, shell=True, env=env, cwd=project, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    annotations = [line for line in proc.stdout.splitlines() if line.startswith("::")]
    assert len(annotations) == 1 and annotations[0].startswith("::error file=bad.py,line=4,")
    assert shutil.which("detachify", path=str(venv / "bin"))  # the step ran the installed command


def test_ci_virtual_environment_is_ignored():
    venvs = re.findall(r"python3? -m venv (\S+)", (ROOT / ".ci" / "run").read_text())
    assert venvs, "no virtual environment in .ci/run"
    for venv in venvs:
        proc = subprocess.run(["git", "check-ignore", "-q", f"{venv}/bin/python"], cwd=ROOT)
        assert proc.returncode == 0, f"{venv}/ is not in .gitignore"


@pytest.mark.parametrize("name", ["detachify-fix", "libcst-codemod"])
def test_one_off_rewrite(tmp_path, name):
    files = {"bad.py": BAD, "clean.py": CLEAN, "pkg/mod.py": BAD.replace("print(out.numpy())", "print(out.numpy())  # noqa")}
    for path, text in files.items():
        (tmp_path / path).parent.mkdir(exist_ok=True)
        (tmp_path / path).write_text(text)
    for argv in shell_commands(snippet(name)):
        proc = subprocess.run(cli(argv), cwd=tmp_path, capture_output=True, text=True)
        assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    for path, text in files.items():
        assert (tmp_path / path).read_text() == fix_source(text, path), path
    assert (tmp_path / "bad.py").read_text() != BAD


# ---------------------------------------------------------------------------------------------------------------
# Editors: each snippet is read the way its editor reads it (JSON, TOML, Lua run by a real Lua interpreter with
# the Neovim API it calls recorded), and the server it describes is started and asked about a buggy file.

# What the two Neovim snippets call, recorded: `vim.lsp.config`/`enable`, nvim-lspconfig's `configs` and `setup`.
NEOVIM_API = """
recorded = { configs = {}, enabled = {}, setup = {} }
vim = { lsp = {
  config = function(name, config) recorded.configs[name] = config end,
  enable = function(name) table.insert(recorded.enabled, name) end,
} }
local configs = {}
local lspconfig = setmetatable({ util = { root_pattern = function(...) return { ... } end } }, {
  __index = function(_, name)
    return { setup = function(options)
      recorded.setup[name] = options
      recorded.configs[name] = configs[name].default_config
    end }
  end,
})
package.preload["lspconfig"] = function() return lspconfig end
package.preload["lspconfig.configs"] = function() return configs end
"""


def _lua_to_python(value):
    if hasattr(value, "items"):  # a Lua table: a list when its keys are 1..n
        items = dict(value.items())
        if items and sorted(items) == list(range(1, len(items) + 1)):
            return [_lua_to_python(items[i]) for i in range(1, len(items) + 1)]
        return {key: _lua_to_python(item) for key, item in items.items()}
    return value


def editor_server(name):
    """(argv, initializationOptions, languages) of the server an editor snippet starts."""
    body = snippet(name)
    if name == "vscode-settings":
        settings = json.loads(body)
        assert settings["editor.codeActionsOnSave"] == {"source.fixAll.detachify": "explicit"}
        return ([settings["glspc.serverCommand"], *settings["glspc.serverCommandArguments"]],
                settings["glspc.initializationOptions"], [settings["glspc.languageId"]])
    if name == "helix-languages":
        config = tomllib.loads(body)
        server = config["language-server"]["detachify"]
        languages = [lang["name"] for lang in config["language"] if "detachify" in lang["language-servers"]]
        return [server["command"], *server["args"]], server.get("config"), languages
    if name == "jupyterlab-lsp":
        spec = json.loads(body)["LanguageServerManager"]["language_servers"]["detachify"]
        assert spec["version"] == 2 and "text/x-ipython" in spec["mime_types"]  # notebooks' cells are IPython
        return spec["argv"], None, spec["languages"]
    lupa = pytest.importorskip("lupa")
    lua = lupa.LuaRuntime()
    lua.execute(NEOVIM_API + body)
    recorded = _lua_to_python(lua.globals().recorded)
    config = recorded["configs"]["detachify"]
    if name == "neovim-lsp-config":
        assert recorded["enabled"] == ["detachify"] and "pyproject.toml" in config["root_markers"]
    else:
        assert "detachify" in recorded["setup"] and config["root_dir"] == ["pyproject.toml", ".git"]
    return config["cmd"], config.get("init_options"), config["filetypes"]


@functools.lru_cache(maxsize=None)
def _session(argv, options_json):
    """Start the server as the editor would and ask it about BAD: the diagnostics' (line, code)."""
    from lsprotocol import types as lsp
    from pygls.lsp.client import LanguageClient

    async def run(cwd):
        client = LanguageClient("snippet-test", "1")
        published = asyncio.get_running_loop().create_future()

        @client.feature(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def on_publish(params):
            if not published.done():
                published.set_result(params.diagnostics)

        await client.start_io(*cli(list(argv)), cwd=cwd)
        await client.initialize_async(lsp.InitializeParams(
            capabilities=lsp.ClientCapabilities(), initialization_options=json.loads(options_json)))
        client.initialized(lsp.InitializedParams())
        uri = "untitled:bad.py"
        client.text_document_did_open(lsp.DidOpenTextDocumentParams(lsp.TextDocumentItem(uri, "python", 1, BAD)))
        diagnostics = await asyncio.wait_for(published, 120)
        await client.shutdown_async(None)
        client.exit(None)
        await client.stop()
        return [(d.range.start.line + 1, d.code) for d in diagnostics]

    with tempfile.TemporaryDirectory() as cwd:  # no project configuration around the unsaved file
        return asyncio.run(run(cwd))


@pytest.mark.parametrize("name", EDITOR_SNIPPETS)
def test_editor_snippet_starts_the_server(name):
    argv, options, languages = editor_server(name)
    assert argv == ["detachify", "server"] and "python" in languages
    expected = [(f.line, f.code) for f in check_source(BAD, "bad.py")]
    assert _session(tuple(argv), json.dumps(options)) == expected
