"""``appliance check-zone``: nsd-checkzone's report and exit status, in process and as a command."""

import os
import shutil
import subprocess
import sys

import pytest

from zones import check

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

GOOD = """$ORIGIN example.com.
$TTL 300
@ SOA ns1 hostmaster 1 7200 3600 1209600 300
@ NS ns1
ns1 A 192.0.2.1
"""
BAD = GOOD + "www A 300.1.1.1\nc CNAME www\nc TXT x\n"


@pytest.fixture
def zonefile(tmp_path):
    def write(content, name="z.zone"):
        path = tmp_path / name
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        return str(path)
    return write


def test_good_zone_is_ok_and_exits_0(zonefile, capsys):
    path = zonefile(GOOD)
    assert check.main([path]) == 0
    out, err = capsys.readouterr()
    assert out == "zone example.com is ok\n"
    assert err == ""


def test_bad_zone_lists_problems_on_stderr_counts_them_on_stdout_and_exits_1(zonefile, capsys):
    path = zonefile(BAD)
    assert check.main([path]) == 1
    out, err = capsys.readouterr()
    assert out == "zone example.com file %s has 2 errors\n" % path
    assert err.splitlines() == [
        "%s:6: A: invalid IPv4 address '300.1.1.1'" % path,
        "%s:8: CNAME and other data (TXT) at c.example.com." % path,
    ]


def test_warnings_go_to_stderr_and_keep_exit_0(zonefile, capsys):
    path = zonefile(GOOD + "a A 192.0.2.1\na A 192.0.2.1\n")
    assert check.main([path]) == 0
    out, err = capsys.readouterr()
    assert out == "zone example.com is ok\n"
    assert err == "%s:7: warning: duplicate a.example.com. A record ignored\n" % path


def test_several_files_each_get_a_line_and_any_failure_fails(zonefile, capsys):
    good = zonefile(GOOD, "good.zone")
    bad = zonefile(BAD, "bad.zone")
    assert check.main([good, bad, good]) == 1
    out, _ = capsys.readouterr()
    assert out.splitlines() == ["zone example.com is ok",
                                "zone example.com file %s has 2 errors" % bad,
                                "zone example.com is ok"]


def test_origin_option(zonefile, capsys):
    path = zonefile("@ SOA ns1 hostmaster 1 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.1\n")
    assert check.main([path, "--origin", "example.net"]) == 0
    assert capsys.readouterr().out == "zone example.net is ok\n"


def test_problem_without_a_line_is_prefixed_with_the_file(zonefile, capsys):
    path = zonefile("$ORIGIN example.com.\n$TTL 1\n@ NS ns1\n")
    assert check.main([path]) == 1
    out, err = capsys.readouterr()
    assert err == "%s: zone example.com. has no SOA record at its origin\n" % path
    assert out == "zone example.com file %s has 1 errors\n" % path


@pytest.mark.parametrize("content", [
    bytes(range(256)) * 4,
    b"\x7fELF\x02\x01\x01\x00" + os.urandom(512),
    b"www.example.com. TXT \"caf\xe9\"\n\xff\xfe\n",
    b"(((((((\n",
    b"",
])
def test_junk_never_gives_a_traceback(zonefile, capsys, content):
    path = zonefile(content)
    assert check.main([path]) == 1
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "internal error" not in err
    assert out.startswith("zone ") and " has " in out


def test_directory_and_missing_file(tmp_path, capsys):
    assert check.main([str(tmp_path), str(tmp_path / "nope")]) == 1
    out, err = capsys.readouterr()
    assert err.splitlines() == [
        "%s: cannot read '%s': Is a directory" % (tmp_path, tmp_path),
        "%s: cannot read '%s': No such file or directory" % (tmp_path / "nope",
                                                           tmp_path / "nope"),
    ]
    assert out.splitlines() == ["zone ? file %s has 1 errors" % tmp_path,
                                "zone ? file %s has 1 errors" % (tmp_path / "nope")]


def test_bad_origin_option(zonefile, capsys):
    assert check.main([zonefile(GOOD), "--origin", "a..b"]) == 1
    out, err = capsys.readouterr()
    assert "bad origin: empty label" in err
    assert out.startswith("zone a..b file ")


def test_usage_errors_exit_2(capsys):
    assert check.main([]) == 2
    assert "usage: appliance check-zone" in capsys.readouterr().err


def run(*args):
    return subprocess.run([sys.executable, "-m", "zones.check", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_command_exits_0_for_a_good_zone(zonefile):
    result = run(zonefile(GOOD))
    assert result.returncode == 0
    assert result.stdout == "zone example.com is ok\n"


def test_command_exits_1_for_a_bad_zone_without_a_traceback(zonefile):
    result = run(zonefile(BAD), zonefile(b"\x00\xff\xfe(", "junk.zone"))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert len(result.stdout.splitlines()) == 2


@pytest.mark.skipif(shutil.which("nsd-checkzone") is None, reason="needs NSD's nsd-checkzone")
@pytest.mark.parametrize("content", [GOOD, GOOD + "www A 300.1.1.1\nfoo.org. A 192.0.2.1\n"])
def test_stdout_matches_nsd_checkzone(zonefile, content):
    path = zonefile(content)
    nsd = subprocess.run(["nsd-checkzone", "example.com", path], capture_output=True, text=True)
    ours = run(path, "--origin", "example.com")
    assert (ours.returncode, ours.stdout) == (nsd.returncode, nsd.stdout)
