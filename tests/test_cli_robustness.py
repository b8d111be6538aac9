"""Bad input and bad moments: encodings, binary and broken files, links, permissions, interrupted fixes.

Each bad file gets one `path: error: ...` line on stderr and exit status 2; the other files are still checked
(and fixed), and a bad file is never rewritten.
"""
from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time

import pytest

from cli_support import BAD, CLEAN, run_main, write
from detachify import fix_source
from detachify.files import SourceError, write_atomic, write_fixed

FIXED = fix_source(BAD)


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def assert_one_error(err, path, fragment):
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"{path}: error: ") and fragment in lines[0], err


def check_and_fix_around(capsys, project, bad_name, fragment):
    """The bad file is reported once, the good one beside it is still reported, then fixed; the bad one stays."""
    bad_before = (project / bad_name).read_bytes() if not os.path.islink(project / bad_name) else None
    good = write(project, "good.py", BAD)
    status, out, err = run_main(capsys, "check", ".")
    assert status == 2
    assert_one_error(err, bad_name, fragment)
    assert out.startswith("good.py:4:")
    status, out, err = run_main(capsys, "fix", ".")
    assert status == 2
    assert_one_error(err, bad_name, fragment)
    assert good.read_text() == FIXED
    if bad_before is not None:
        assert (project / bad_name).read_bytes() == bad_before
    assert not [p for p in os.listdir(project) if p.endswith(".detachify-tmp")]


# ---------------------------------------------------------------------------------------------------------------
# encodings and newlines survive a fix


def test_pep263_latin1_is_decoded_and_written_back_as_latin1(project, capsys):
    source = "# -*- coding: latin-1 -*-\n# caf\xe9 \xb5\n" + BAD
    path = write(project, "latin.py", source.encode("latin-1"))
    status, out, _ = run_main(capsys, "check", "-q", "latin.py")
    assert status == 1 and out.startswith("latin.py:6:")
    assert run_main(capsys, "fix", "latin.py")[0] == 0
    assert path.read_bytes() == fix_source(source).encode("latin-1")
    assert b"caf\xe9 \xb5" in path.read_bytes()


def test_utf8_bom_is_kept(project, capsys):
    path = write(project, "bom.py", b"\xef\xbb\xbf" + ("# \u00fcber\n" + BAD).encode())
    assert run_main(capsys, "fix", "bom.py")[0] == 0
    assert path.read_bytes() == b"\xef\xbb\xbf" + ("# \u00fcber\n" + FIXED).encode()


def test_crlf_is_kept(project, capsys):
    path = write(project, "crlf.py", BAD.replace("\n", "\r\n").encode())
    status, out, _ = run_main(capsys, "check", "-q", "crlf.py")
    assert status == 1 and out.startswith("crlf.py:4:")
    assert run_main(capsys, "fix", "crlf.py")[0] == 0
    assert path.read_bytes() == FIXED.replace("\n", "\r\n").encode()
    _, diff, _ = run_main(capsys, "fix", "--diff", "crlf.py")
    assert diff == ""


def test_crlf_diff_keeps_line_endings(project, capsys):
    write(project, "crlf.py", BAD.replace("\n", "\r\n").encode())
    _, diff, _ = run_main(capsys, "fix", "--diff", "crlf.py")
    assert "-print(out.numpy())\r\n+print(out.detach().cpu().numpy())\r\n" in diff


def test_no_newline_at_end_of_file(project, capsys):
    path = write(project, "eof.py", BAD.rstrip("\n"))
    _, diff, _ = run_main(capsys, "fix", "--diff", "eof.py")
    assert diff.endswith("+print(out.detach().cpu().numpy())\n\\ No newline at end of file\n")
    assert run_main(capsys, "fix", "eof.py")[0] == 0
    assert path.read_text() == FIXED.rstrip("\n")


def test_empty_file_is_clean(project, capsys):
    write(project, "empty.py", "")
    assert run_main(capsys, "check", "empty.py") == (0, "All checks passed!\n", "")
    assert run_main(capsys, "fix", "empty.py")[0] == 0
    assert (project / "empty.py").read_bytes() == b""


# ---------------------------------------------------------------------------------------------------------------
# files that cannot be checked


def test_undecodable_bytes(project, capsys):
    write(project, "bad_utf8.py", b"import torch\nx = '\xff\xfe'\nprint(torch.ones(1).numpy())\n")
    check_and_fix_around(capsys, project, "bad_utf8.py", "cannot decode: 'utf-8' codec can't decode byte 0xff")


def test_unknown_coding_cookie(project, capsys):
    write(project, "cookie.py", b"# -*- coding: klingon -*-\nimport torch\n")
    check_and_fix_around(capsys, project, "cookie.py", "cannot decode: unknown encoding: klingon")


def test_binary_file_named_py(project, capsys):
    write(project, "blob.py", bytes(range(256)) * 4)
    check_and_fix_around(capsys, project, "blob.py", "cannot read: binary file")


def test_unparsable_file(project, capsys):
    """Not an unreadable file: an E999 finding at CPython's position, among the findings (tests/test_syntax.py)."""
    broken = write(project, "broken.py", "import torch\ndef f(:\n    return torch.ones(1).numpy()\n")
    before = broken.read_bytes()
    good = write(project, "good.py", BAD)
    for command in ("check", "fix"):
        status, out, err = run_main(capsys, command, ".")
        assert (status, err) == (2, "")
        assert out.startswith("broken.py:2:7: E999 SyntaxError: invalid syntax\n")
    assert good.read_text() == FIXED
    assert broken.read_bytes() == before


def test_unreadable_file(project, capsys):
    path = write(project, "secret.py", BAD)
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("running as a user who can read a mode-000 file (root)")
        check_and_fix_around(capsys, project, "secret.py", "cannot read: Permission denied")
    finally:
        path.chmod(0o644)


def test_symlink_loop(project, capsys):
    os.symlink("loop.py", project / "loop.py")
    check_and_fix_around(capsys, project, "loop.py", "cannot read: Too many levels of symbolic links")


def test_dangling_symlink(project, capsys):
    os.symlink("nowhere.py", project / "dangling.py")
    check_and_fix_around(capsys, project, "dangling.py", "cannot read: No such file or directory")


def test_directory_named_like_a_python_file(project, capsys):
    write(project, "pkg.py/inner.py", BAD)
    status, out, err = run_main(capsys, "check", "-q", ".")
    assert (status, err) == (1, "") and out.startswith(os.path.join("pkg.py", "inner.py") + ":4:")
    status, out, err = run_main(capsys, "check", "-q", "pkg.py")  # named explicitly: walked, not read
    assert (status, err) == (1, "")


def test_several_bad_files_one_line_each_in_order(project, capsys):
    write(project, "a_bin.py", b"\0\0")
    write(project, "b_broken.py", "import torch\nx = (torch.numpy\n")
    write(project, "c_good.py", BAD)
    os.symlink("d_loop.py", project / "d_loop.py")
    status, out, err = run_main(capsys, "check", ".")
    assert status == 2
    assert [line.split(":")[0] for line in err.splitlines()] == ["a_bin.py", "d_loop.py"]
    assert out.startswith("b_broken.py:2:5: E999 SyntaxError: '(' was never closed\nc_good.py:4:")


def test_exit_zero_does_not_hide_errors(project, capsys):
    write(project, "blob.py", b"\0")
    assert run_main(capsys, "check", "--exit-zero", ".")[0] == 2


# ---------------------------------------------------------------------------------------------------------------
# writing


def test_fix_keeps_the_file_mode(project, capsys):
    path = write(project, "script.py", "#!/usr/bin/env python\n" + BAD)
    path.chmod(0o750)
    assert run_main(capsys, "fix", "script.py")[0] == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o750
    assert path.read_text() == fix_source("#!/usr/bin/env python\n" + BAD)


def test_fix_writes_through_a_symlink(project, capsys):
    target = write(project, "real/target.py", BAD)
    os.symlink(os.path.join("real", "target.py"), project / "link.py")
    assert run_main(capsys, "fix", "link.py")[0] == 0
    assert os.path.islink(project / "link.py")
    assert target.read_text() == FIXED


def test_atomic_write_cleans_up_when_interrupted(tmp_path, monkeypatch):
    path = write(tmp_path, "a.py", BAD)

    def interrupted(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(str(path), FIXED.encode())
    assert path.read_text() == BAD and os.listdir(tmp_path) == ["a.py"]


def test_file_changed_during_the_run_is_left_alone(tmp_path):
    path = write(tmp_path, "a.py", BAD)
    import hashlib
    digest = hashlib.sha256(BAD.encode()).hexdigest()
    path.write_text(BAD + "# edited meanwhile\n")
    with pytest.raises(SourceError, match="changed on disk"):
        write_fixed(str(path), FIXED.encode(), digest)
    assert path.read_text() == BAD + "# edited meanwhile\n"


def test_read_only_directory_is_an_error_not_a_crash(project, capsys):
    path = write(project, "ro/a.py", BAD)
    (project / "ro").chmod(0o555)
    try:
        if os.access(project / "ro", os.W_OK):
            pytest.skip("running as a user who can write to a mode-555 directory (root)")
        status, _, err = run_main(capsys, "fix", "ro")
        assert status == 2 and "cannot write" in err and path.read_text() == BAD
    finally:
        (project / "ro").chmod(0o755)


def test_write_failure_is_reported_per_file(project, capsys, monkeypatch):
    import tempfile
    a = write(project, "a.py", BAD)
    b = write(project, "b.py", BAD)
    real = tempfile.mkstemp

    def mkstemp(*args, dir=None, **kwargs):
        if dir == str(project.resolve()) and kwargs.get("prefix", "").startswith(".a.py"):
            raise PermissionError(13, "Permission denied")
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    status, _, err = run_main(capsys, "fix", ".")
    assert status == 2
    assert_one_error(err, "a.py", "cannot write: Permission denied")
    assert a.read_text() == BAD and b.read_text() == FIXED


def test_checked_code_is_never_executed(project, capsys):
    marker = project / "executed"
    source = f"import torch\nopen({str(marker)!r}, 'w').close()\nprint(torch.ones(1, requires_grad=True).numpy())\n"
    write(project, "evil.py", source)
    write(project, "torch.py", f"open({str(marker)!r}, 'w').close()\n")  # shadowing torch changes nothing
    assert run_main(capsys, "check", ".")[0] == 1
    assert run_main(capsys, "fix", "--unsafe-fixes", ".")[0] in (0, 1)
    assert not marker.exists()


# ---------------------------------------------------------------------------------------------------------------
# interrupted runs: every file is either the original or the fully fixed text


# Big enough that a run takes seconds, so the signal lands mid-run; all files alike, so one fix_source call
# gives the expected text for every one of them.
SLOW = BAD + "".join(f"def f{k}(x):\n    y = model(x) * {k}\n    return y.numpy()\n" for k in range(25))


@pytest.mark.parametrize("signum, jobs", [
    pytest.param(signum, jobs, id=f"{signum.name}-jobs{jobs}")
    for signum, jobs in [(signal.SIGTERM, "1"), (signal.SIGINT, "1"), (signal.SIGTERM, "2"), (signal.SIGINT, "2"),
                         (signal.SIGKILL, "1")]])
def test_interrupted_fix_leaves_every_file_old_or_new(tmp_path, signum, jobs):
    names = [f"m{i:03}.py" for i in range(150)]
    for name in names:
        write(tmp_path, name, SLOW)
    proc = subprocess.Popen([sys.executable, "-m", "detachify", "fix", "-q", "--jobs", jobs, "."],
                            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            if any((tmp_path / name).read_text() != SLOW for name in names):
                break
            time.sleep(0.005)
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    fixed_text = fix_source(SLOW)
    states = [(tmp_path / name).read_text() for name in names]
    assert all(text in (SLOW, fixed_text) for text in states)
    fixed = sum(text == fixed_text for text in states)
    assert 1 <= fixed < len(names)  # it was stopped mid-run
    if signum != signal.SIGKILL:
        assert proc.returncode == 128 + signum, err
        assert b"interrupted" in err and b"Traceback" not in err
        assert not [p for p in os.listdir(tmp_path) if p.endswith(".detachify-tmp")]


def test_clean_files_are_not_rewritten(project, capsys):
    path = write(project, "clean.py", CLEAN)
    before = path.stat().st_mtime_ns
    inode = path.stat().st_ino
    time.sleep(0.01)
    assert run_main(capsys, "fix", ".")[0] == 0
    assert path.stat().st_mtime_ns == before and path.stat().st_ino == inode
