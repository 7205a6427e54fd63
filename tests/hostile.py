"""Hostile and malformed frames for the stack, each with the counter that must record it.

Shared by the in-memory stack tests and the direct-stack tests over veth/TAP.
"""

import struct

from scapy.all import ARP, DNS, DNSQR, ICMP, IP, UDP, Ether, raw

OUR_IP = "198.18.0.2"
PEER_IP = "198.18.0.1"


def frames(our_mac: str, peer_mac: str, our_ip=OUR_IP, peer_ip=PEER_IP):
    """(name, frame bytes, counter that must go up by one)."""
    eth = Ether(dst=our_mac, src=peer_mac)
    ip = IP(src=peer_ip, dst=our_ip)
    query = DNS(rd=1, qd=DNSQR(qname="www.example.com"))
    good_udp = raw(eth / ip / UDP(sport=4000, dport=53) / query)

    def ip_bytes(pkt):
        return raw(pkt)

    def fix_ip_checksum(b: bytes) -> bytes:
        ihl = (b[14] & 0xF) * 4
        hdr = bytearray(b[14:14 + ihl])
        hdr[10:12] = b"\x00\x00"
        s = sum(struct.unpack("!%dH" % (ihl // 2), bytes(hdr)))
        while s >> 16:
            s = (s & 0xFFFF) + (s >> 16)
        hdr[10:12] = struct.pack("!H", ~s & 0xFFFF)
        return b[:14] + bytes(hdr) + b[14 + ihl:]

    bad_version = bytearray(good_udp)
    bad_version[14] = 0x65
    bad_ihl = bytearray(good_udp)
    bad_ihl[14] = 0x44
    too_long = bytearray(good_udp)
    too_long[16:18] = struct.pack("!H", len(good_udp) - 14 + 40)
    bad_ip_csum = bytearray(good_udp)
    bad_ip_csum[24] ^= 0xFF
    udp_len_bad = bytearray(good_udp)
    udp_len_bad[38:40] = struct.pack("!H", len(good_udp) - 34 + 10)
    bad_udp_csum = bytearray(good_udp)
    bad_udp_csum[40] ^= 0xFF
    if bad_udp_csum[40:42] == b"\x00\x00":
        bad_udp_csum[41] = 1

    return [
        ("runt frame", b"\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a", "eth_runt"),
        ("oversized frame", raw(eth / ip / UDP(sport=4000, dport=53) / (b"x" * 1600)),
         "eth_oversized"),
        ("frame for another MAC", raw(Ether(dst="02:99:99:99:99:99", src=peer_mac) / ip
                                      / UDP(sport=4000, dport=53) / query), "eth_not_for_us"),
        ("multicast source MAC", raw(Ether(dst=our_mac, src="01:00:5e:00:00:01") / ip
                                     / UDP(sport=4000, dport=53) / query), "eth_bad_source"),
        ("unknown ethertype", raw(Ether(dst=our_mac, src=peer_mac, type=0x88B5) / (b"z" * 50)),
         "eth_unknown_type"),
        ("broadcast junk", raw(Ether(dst="ff:ff:ff:ff:ff:ff", src=peer_mac, type=0x1234)
                               / (b"\xff" * 46)), "eth_unknown_type"),
        ("truncated ARP", raw(Ether(dst="ff:ff:ff:ff:ff:ff", src=peer_mac, type=0x0806))
         + b"\x00\x01\x08\x00\x06\x04", "arp_runt"),
        ("ARP with a bad hardware type", raw(Ether(dst="ff:ff:ff:ff:ff:ff", src=peer_mac)
                                             / ARP(hwtype=6, hwlen=6, plen=4, op=1, hwsrc=peer_mac,
                                                   psrc=peer_ip, pdst=our_ip)),
         "arp_bad_format"),
        ("ARP for another address", raw(Ether(dst="ff:ff:ff:ff:ff:ff", src=peer_mac)
                                        / ARP(op=1, hwsrc=peer_mac, psrc=peer_ip,
                                              pdst="198.18.0.77")), "arp_not_for_us"),
        ("ARP with an unknown op", raw(Ether(dst="ff:ff:ff:ff:ff:ff", src=peer_mac)
                                       / ARP(op=9, hwsrc=peer_mac, psrc=peer_ip, pdst=our_ip)),
         "arp_bad_op"),
        ("unsolicited ARP reply", raw(eth / ARP(op=2, hwsrc="02:66:66:66:66:66",
                                                psrc="198.18.0.66", hwdst=our_mac,
                                                pdst=our_ip)), "arp_unsolicited"),
        ("IPv4 runt", raw(Ether(dst=our_mac, src=peer_mac, type=0x0800) / (b"\x45" * 10)),
         "ip_runt"),
        ("IPv4 with version 6", bytes(bad_version), "ip_bad_version"),
        ("IHL < 5", bytes(bad_ihl), "ip_bad_ihl"),
        ("total length beyond the frame", fix_ip_checksum(bytes(too_long)), "ip_bad_length"),
        ("bad IPv4 header checksum", bytes(bad_ip_csum), "ip_bad_checksum"),
        ("IPv4 for another address", raw(eth / IP(src=peer_ip, dst="198.18.0.99")
                                         / UDP(sport=4000, dport=53) / query), "ip_not_for_us"),
        ("IPv4 from a broadcast address", raw(eth / IP(src="255.255.255.255", dst=our_ip)
                                              / UDP(sport=4000, dport=53) / query),
         "ip_bad_source"),
        ("IPv4 from loopback", raw(eth / IP(src="127.0.0.1", dst=our_ip)
                                   / UDP(sport=4000, dport=53) / query), "ip_bad_source"),
        ("first fragment", raw(eth / IP(src=peer_ip, dst=our_ip, flags="MF")
                               / UDP(sport=4000, dport=53) / query), "ip_fragment"),
        ("later fragment", raw(eth / IP(src=peer_ip, dst=our_ip, frag=100, proto=17)
                               / (b"f" * 40)), "ip_fragment"),
        ("unknown IP protocol", raw(eth / IP(src=peer_ip, dst=our_ip, proto=47) / (b"g" * 20)),
         "ip_unknown_proto"),
        ("UDP shorter than its header", raw(eth / IP(src=peer_ip, dst=our_ip, proto=17)
                                            / b"\x00\x35\x00"), "udp_runt"),
        ("UDP length beyond the packet", fix_ip_checksum(bytes(udp_len_bad)), "udp_bad_length"),
        ("bad UDP checksum", bytes(bad_udp_csum), "udp_bad_checksum"),
        ("UDP from port 0", raw(eth / ip / UDP(sport=0, dport=53) / query), "udp_bad_port"),
        ("bad ICMP checksum", raw(eth / ip / ICMP(chksum=0x1234) / b"ping"),
         "icmp_bad_checksum"),
        ("ICMP timestamp request", raw(eth / ip / ICMP(type=13) / (b"\x00" * 12)),
         "icmp_ignored"),
        ("truncated DNS", raw(eth / ip / UDP(sport=4000, dport=53) / b"\x12\x34\x01"),
         "dns_dropped"),
        ("a DNS response sent to us", raw(eth / ip / UDP(sport=4000, dport=53)
                                          / DNS(qr=1, qd=DNSQR(qname="www.example.com"))),
         "dns_dropped"),
        ("UDP to a closed port", raw(eth / ip / UDP(sport=4000, dport=9999) / b"hello"),
         "udp_no_port"),
    ]


def good_query(our_mac: str, peer_mac: str, qname="www.example.com", sport=4000,
               our_ip=OUR_IP, peer_ip=PEER_IP, qid=0x4242) -> bytes:
    return raw(Ether(dst=our_mac, src=peer_mac) / IP(src=peer_ip, dst=our_ip)
               / UDP(sport=sport, dport=53) / DNS(id=qid, rd=1, qd=DNSQR(qname=qname)))
