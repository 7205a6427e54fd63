"""The VM image under QEMU TCG: it boots with the launcher as PID 1, serves on a virtio NIC
through the direct stack, sealed, answers like NSD, logs to the console, and powers off when
the appliance stops (KVM hangs on these machines: -accel tcg -cpu qemu64)."""

import re
import subprocess

import pytest

from tests import difftool
from tests.conftest import DIFF_ZONES
from tests.nsdpeer import soa_query
from tests.qemuvm import QemuGuest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def guest(vm_qemu_dir, tmp_path_factory):
    g = QemuGuest(vm_qemu_dir, str(tmp_path_factory.mktemp("qemu"))).start()
    try:
        g.boot_seconds = g.first_answer(soa_query("example.com."))
        print("first answer %.1f s after QEMU started" % g.boot_seconds)
        yield g
    finally:
        g.close()


def test_dig_from_the_host_gets_answers(guest):
    out = subprocess.run(["dig", "@127.0.0.1", "-p", str(guest.port), "+time=3", "+tries=3",
                          "www.example.com", "A"], capture_output=True, text=True).stdout
    assert "status: NOERROR" in out and "198.18.0.80" in out, out
    assert re.search(r"flags: qr aa", out), out


def test_console_shows_pid1_boot_milestones_and_the_seal(guest):
    guest.wait_for(r"pvboot: PID 1 up: Linux 6\.1\.\S+-cloud-amd64; hypervisor: ")
    guest.wait_for(r"pvboot: loaded virtio_net")
    guest.wait_for(r"pvboot: eth0 is there")
    guest.wait_for(r"pvboot: \d+ MiB reserved; starting the appliance")
    line = guest.wait_for(r"^serving ")
    assert "afpacket:eth0 as 198.18.9.15/24" in line and "direct stack" in line, line
    assert "gateway 198.18.9.2" in line, line
    seal = guest.wait_for(r"^memory: ")
    assert re.search(r"sealed, \d+ system calls allowed \(Seccomp 2, NoNewPrivs 1\)", seal), seal


def test_differential_subset_through_the_vm_matches_nsd(guest, nsd):
    queries = difftool.generate(DIFF_ZONES, 600, seed=23)
    assert len(queries) >= 500
    theirs = nsd.query_many(queries)
    ours = guest.client().query_many(queries, timeout=4.0, window=20)
    diffs = []
    for q, o, t in zip(queries, ours, theirs, strict=True):
        d = difftool.compare(q, o, t)
        if d:
            diffs.append("%s: %s" % (difftool.describe(q), " | ".join(d)))
    assert not diffs, "\n".join(diffs[:20]) + "\n%d of %d differ" % (len(diffs), len(queries))


def test_counters_are_logged_to_the_console(guest):
    guest.client().query(soa_query("example.net."), timeout=3)
    guest.wait_for(r"^counters: queries=[1-9]\d*", timeout=30)


def test_ctrl_alt_del_stops_the_appliance_and_powers_off(guest):
    """Last: Ctrl-Alt-Del is SIGINT to PID 1; the appliance reports and the VM powers off."""
    guest.monitor("sendkey ctrl-alt-delete")
    line = guest.wait_for(r"^stopped by signal 2; counters: queries=\d+", timeout=60)
    assert int(re.search(r"queries=(\d+)", line).group(1)) >= 500
    guest.wait_for(r"pvboot: the appliance stopped \(status 0\): powering off", timeout=30)
    assert guest.wait_exit(60) == 0, guest.console()[-3000:]


def test_a_guest_that_cannot_serve_says_why_and_powers_off(vm_qemu_dir, tmp_path):
    with QemuGuest(vm_qemu_dir, str(tmp_path), append="console=ttyS0 quiet") as g:
        g.wait_for(r"pvboot: no appliance\.ip=A\.B\.C\.D/N on the kernel command line")
        g.wait_for(r"pvboot: the appliance stopped \(status 1\): powering off")
        assert g.wait_exit(60) == 0, g.console()[-3000:]
