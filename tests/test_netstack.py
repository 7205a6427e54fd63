"""The stack over memory: frames in, frames out, every drop counted under its reason."""

import pytest
from scapy.all import ARP, DNS, ICMP, IP, UDP, Ether, raw

from netstack.stack import NetStack
from tests import hostile

OUR_MAC = "02:00:00:00:00:02"
PEER_MAC = "02:00:00:00:00:01"
GW_MAC = "02:00:00:00:00:fe"
SEC = 1_000_000_000


@pytest.fixture
def stack(engine):
    return NetStack(engine, bytes.fromhex(OUR_MAC.replace(":", "")), hostile.OUR_IP, 24,
                    gateway="198.18.0.254")


def learn_peer(stack, mac=PEER_MAC, ip=hostile.PEER_IP, now=0):
    out = stack.feed(raw(Ether(dst="ff:ff:ff:ff:ff:ff", src=mac)
                         / ARP(op=1, hwsrc=mac, psrc=ip, pdst=hostile.OUR_IP)), now)
    assert len(out) == 1
    return Ether(out[0])


def valid_checksums(pkt):
    again = Ether(raw(pkt))
    del again[IP].chksum
    if UDP in again:
        del again[UDP].chksum
    if ICMP in again:
        del again[ICMP].chksum
    again = Ether(raw(again))
    ok = again[IP].chksum == pkt[IP].chksum
    if UDP in pkt:
        ok = ok and again[UDP].chksum == pkt[UDP].chksum
    if ICMP in pkt:
        ok = ok and again[ICMP].chksum == pkt[ICMP].chksum
    return ok


def test_answers_arp_request_for_our_address(stack):
    reply = learn_peer(stack)
    assert reply[ARP].op == 2 and reply[ARP].hwsrc == OUR_MAC
    assert reply[ARP].psrc == hostile.OUR_IP and reply.dst == PEER_MAC
    assert stack.counters()["arp_requests_answered"] == 1


def test_gratuitous_arp_at_start(stack):
    (f,) = stack.announce()
    p = Ether(f)
    assert p.dst == "ff:ff:ff:ff:ff:ff" and p[ARP].op == 1
    assert p[ARP].psrc == p[ARP].pdst == hostile.OUR_IP and p[ARP].hwsrc == OUR_MAC


def test_dns_query_answered_with_valid_checksums(stack):
    learn_peer(stack)
    (f,) = stack.feed(hostile.good_query(OUR_MAC, PEER_MAC, sport=5353))
    p = Ether(f)
    assert p.dst == PEER_MAC and p.src == OUR_MAC
    assert p[IP].src == hostile.OUR_IP and p[IP].dst == hostile.PEER_IP
    assert p[UDP].sport == 53 and p[UDP].dport == 5353
    assert p[DNS].id == 0x4242 and p[DNS].an.rdata == "198.18.0.80"
    assert valid_checksums(p)


def test_unknown_neighbour_is_resolved_then_answered(stack):
    # a query from an address we never heard an ARP request from: we ask, then answer
    out = stack.feed(hostile.good_query(OUR_MAC, PEER_MAC), 0)
    assert len(out) == 1 and Ether(out[0])[ARP].op == 1
    assert Ether(out[0])[ARP].pdst == hostile.PEER_IP
    out = stack.feed(raw(Ether(dst=OUR_MAC, src=PEER_MAC)
                         / ARP(op=2, hwsrc=PEER_MAC, psrc=hostile.PEER_IP, hwdst=OUR_MAC,
                               pdst=hostile.OUR_IP)), 1000)
    assert len(out) == 1 and Ether(out[0])[DNS].id == 0x4242
    assert Ether(out[0]).dst == PEER_MAC


def test_off_link_client_answered_through_the_gateway(stack):
    learn_peer(stack, GW_MAC, "198.18.0.254")
    (f,) = stack.feed(hostile.good_query(OUR_MAC, GW_MAC, peer_ip="198.18.1.9"))
    p = Ether(f)
    assert p.dst == GW_MAC and p[IP].dst == "198.18.1.9"


def test_no_gateway_means_no_route(engine):
    s = NetStack(engine, bytes.fromhex(OUR_MAC.replace(":", "")), hostile.OUR_IP, 24)
    assert s.feed(hostile.good_query(OUR_MAC, PEER_MAC, peer_ip="198.18.9.9")) == []
    assert s.counters()["ip_no_route"] == 1


def test_parked_response_expires(stack):
    stack.feed(hostile.good_query(OUR_MAC, PEER_MAC), 0)
    assert stack.tick(1 * SEC)                      # asks again
    assert stack.tick(4 * SEC) == []
    assert stack.counters()["arp_timeout"] == 1


def test_ping_is_answered(stack):
    learn_peer(stack)
    (f,) = stack.feed(raw(Ether(dst=OUR_MAC, src=PEER_MAC)
                          / IP(src=hostile.PEER_IP, dst=hostile.OUR_IP)
                          / ICMP(id=7, seq=3) / b"payload-123"))
    p = Ether(f)
    assert p[ICMP].type == 0 and p[ICMP].id == 7 and p[ICMP].seq == 3
    assert bytes(p[ICMP].payload) == b"payload-123" and valid_checksums(p)


def test_port_unreachable_is_rate_limited(engine):
    s = NetStack(engine, bytes.fromhex(OUR_MAC.replace(":", "")), hostile.OUR_IP, 24,
                 unreach_rate=10)
    learn_peer(s)
    probe = raw(Ether(dst=OUR_MAC, src=PEER_MAC) / IP(src=hostile.PEER_IP, dst=hostile.OUR_IP)
                / UDP(sport=1, dport=9) / b"x")
    sent = sum(len(s.feed(probe, 0)) for _ in range(50))
    assert sent == 10
    c = s.counters()
    assert c["icmp_unreach_sent"] == 10 and c["icmp_unreach_limited"] == 40
    (f,) = s.feed(probe, SEC // 5)                  # 0.2 s later: two tokens back
    p = Ether(f)
    assert p[ICMP].type == 3 and p[ICMP].code == 3 and valid_checksums(p)


@pytest.mark.parametrize("case", hostile.frames(OUR_MAC, PEER_MAC), ids=lambda c: c[0])
def test_hostile_frame_is_counted(stack, case):
    name, frame, counter = case
    learn_peer(stack)
    before = stack.counters()
    out = stack.feed(frame)
    after = stack.counters()
    assert after[counter] == before[counter] + 1, (name, after)
    if counter != "udp_no_port":
        assert out == []
    changed = {k for k in after if after[k] != before[k]} - {"frames", "icmp_unreach_sent"}
    assert changed == {counter}, changed
    # and it still answers
    assert stack.feed(hostile.good_query(OUR_MAC, PEER_MAC))


def test_at_least_twenty_kinds():
    assert len({c for _, _, c in hostile.frames(OUR_MAC, PEER_MAC)}) >= 20


def test_arp_cache_stays_bounded_and_learns(stack):
    # requests for us from 10,000 different addresses: all answered, at most 256 remembered
    for i in range(10000):
        ip = "198.18.%d.%d" % (100 + i // 250, i % 250 + 1)
        stack.feed(raw(Ether(dst="ff:ff:ff:ff:ff:ff", src=PEER_MAC)
                       / ARP(op=1, hwsrc=PEER_MAC, psrc=ip, pdst=hostile.OUR_IP)), i)
    assert stack.counters()["arp_requests_answered"] == 10000
    table = stack.arp_table()
    assert 200 < len(table) <= 256
    assert table["198.18.139.250"] == bytes.fromhex(PEER_MAC.replace(":", ""))


def test_learned_neighbour_expires(stack):
    learn_peer(stack, now=0)
    assert hostile.PEER_IP in stack.arp_table(now=299 * SEC)
    assert hostile.PEER_IP not in stack.arp_table(now=301 * SEC)
    # after expiry a response waits for a fresh ARP reply
    out = stack.feed(hostile.good_query(OUR_MAC, PEER_MAC), 301 * SEC)
    assert len(out) == 1 and ARP in Ether(out[0])
