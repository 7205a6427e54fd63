"""The VM image as a guest of a real Xen 4.17 hypervisor (under QEMU TCG), PV and PVH.

tests/xenrig.py builds the hypervisor, dom0 and its toolstack from Debian's packages; dom0
`xl create`s our appliance.xl, queries the guest with dig over netfront/netback across a bridge,
and stops it with `xl shutdown`. The answers are checked against NSD's for the same zones, and
the guest's console proves it ran under Xen, sealed.
"""

import os
import re
import subprocess

import pytest

from tests.conftest import DIFF_ZONES, build_vm
from tests.qemuvm import ensure_qemu
from tests.xenrig import GUEST_IP, XenRig

pytestmark = pytest.mark.slow

# +ignore: a truncated answer is compared as it is (UDP only; the appliance serves no TCP)
DIG_OPTS = ["+nocookie", "+ignore", "+noall", "+comments", "+answer", "+authority",
            "+additional"]
# dig's note of a datagram lost and sent again (it retries on its own; the answers must match)
RETRIED = ";; communications error to %s#53: timed out"


def queries() -> list[str]:
    """dig batch lines: every RRset of example.com and example.net (owner and type), a name
    that does not exist and an unknown type in each, CHAOS id.server."""
    from zones import load, names
    from zones.rrtypes import type_name
    out = []
    for origin in ("example.com.", "example.net."):
        z = load(DIFF_ZONES[origin], origin)
        for (_, rtype), rrset in sorted(z.rrsets.items()):
            out.append("%s %s" % (names.to_text(rrset.name), type_name(rtype)))
        out.append("no-such-name.%s A" % origin)
        out.append("%s TYPE65280" % origin)
    out.append("id.server CH TXT")
    return out


def normalise(lines: list[str]) -> list[str]:
    out = []
    for line in lines:
        line = re.sub(r"id: \d+", "id: N", line.rstrip())
        if line and line != RETRIED % GUEST_IP:
            out.append(line)
    return out


def nsd_answers(nsd, batch: list[str], tmp_path) -> list[str]:
    f = tmp_path / "batch"
    f.write_text("\n".join(batch) + "\n")
    p = subprocess.run(["dig", "@127.0.0.1", "-p", str(nsd.port), *DIG_OPTS, "-f", str(f)],
                       capture_output=True, text=True, timeout=120)
    return normalise(p.stdout.splitlines())


@pytest.mark.parametrize("mode", ["pv", "pvh"])
def test_xen_guest_answers_from_dom0_over_netfront(mode, nsd, tmp_path):
    ensure_qemu()
    guest_dir = tmp_path / "guest"
    build_vm(guest_dir, "xen", "--xen-dir", "/guest", "--ip", GUEST_IP + "/24",
             *(["--pvh"] if mode == "pvh" else []))
    batch = queries()
    assert len(batch) >= 30
    dom0_batch = ["@%s %s %s" % (GUEST_IP, " ".join(DIG_OPTS), q) for q in batch]
    rig = XenRig(str(tmp_path), str(guest_dir), mode == "pvh", "example.com.", dom0_batch)
    log = rig.run(timeout=900)
    dom0 = "\n".join(rig.dom0_lines())
    assert "toolstack ready" in dom0, log[-8000:]
    assert re.search(r"first answer [\d.]+ s after xl create", dom0), dom0[-6000:]

    # the answers: as NSD gives them for the same zones
    answers = rig.section("DIG-BEGIN", "DIG-END")
    got = normalise(answers)
    # once the guest has answered, it loses nothing
    assert answers.count(RETRIED % GUEST_IP) == 0, "\n".join(answers)
    want = nsd_answers(nsd, batch, tmp_path)
    assert got and got == want, "\n".join(
        "%s | %s" % (g, w) for g, w in zip(got, want, strict=False) if g != w)[:6000]

    # the guest's console: Xen, PV or PVH, netfront, the direct stack, sealed
    console = "\n".join(rig.section("GUEST-CONSOLE-BEGIN", "GUEST-CONSOLE-END"))
    assert re.search(r"PID 1 up: Linux \S+-cloud-amd64; hypervisor: xen \(%s\)"
                     % mode.upper(), console), console
    assert "loaded xen_netfront" in console, console
    assert re.search(r"serving .* on afpacket:eth0 as %s/24" % re.escape(GUEST_IP), console)
    assert re.search(r"sealed, \d+ system calls allowed \(Seccomp 2, NoNewPrivs 1\)", console)
    # `xl shutdown`: the kernel runs /sbin/poweroff, PID 1 gets SIGTERM, the appliance
    # reports and the VM powers off
    assert re.search(r"stopped by signal 15; counters: queries=\d+", console), console
    assert "powering off" in console, console
    assert re.search(r"xl shutdown rc=0", dom0), dom0[-3000:]
    print("%s: whole run %.0f s; %s" % (mode, rig.seconds,
                                       re.search(r"first answer .*", dom0).group(0)))
    assert os.path.getsize(guest_dir / "initrd.img") > 0
