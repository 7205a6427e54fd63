"""One test per answer rule of DESIGN.md section 4, against the engine on a small zone set."""

import pytest
from dnslib import CLASS, QTYPE, DNSRecord

from tests.dnsq import ask, engine_for, header_fields, opt_record, query, rcode

EXAMPLE_COM = """\
$ORIGIN example.com.
$TTL 3600
@        IN SOA ns1 hostmaster 2026112701 7200 3600 1209600 300
@        IN NS  ns1
@        IN NS  ns.example.net.
@        IN MX  10 mail
ns1      IN A   198.18.0.53
ns1      IN AAAA 2001:2::53
mail     IN A   198.18.0.25
www      IN A   198.18.0.80
www      IN AAAA 2001:2::80
alias    IN CNAME www
chain1   IN CNAME chain2
chain2   IN CNAME www
tonet    IN CNAME www.example.net.
toout    IN CNAME www.example.org.
dangling IN CNAME nothing
tonodata IN CNAME mail
*.wild   IN A   198.18.0.99
*.wild   IN MX  10 mail
x.a.b    IN TXT "deep"
deleg    IN NS  ns1.deleg
deleg    IN DS  12345 13 2 8C91E3E6B1F87E3C6C5A5D8B1F3E4B8A6F1A2B3C4D5E6F708192A3B4C5D6E7F8
ns1.deleg IN A  198.18.2.53
ns1.deleg IN AAAA 2001:2::2:53
nods     IN NS  ns.example.net.
big      IN TXT "00 the quick brown fox jumps over the lazy dog, and again, and again"
big      IN TXT "01 the quick brown fox jumps over the lazy dog, and again, and again"
big      IN TXT "02 the quick brown fox jumps over the lazy dog, and again, and again"
big      IN TXT "03 the quick brown fox jumps over the lazy dog, and again, and again"
big      IN TXT "04 the quick brown fox jumps over the lazy dog, and again, and again"
big      IN TXT "05 the quick brown fox jumps over the lazy dog, and again, and again"
big      IN TXT "06 the quick brown fox jumps over the lazy dog, and again, and again"
big      IN TXT "07 the quick brown fox jumps over the lazy dog, and again, and again"
"""

EXAMPLE_NET = """\
$ORIGIN example.net.
$TTL 7200
@    IN SOA ns hostmaster 1 3600 900 604800 600
@    IN NS  ns
ns   IN A   198.18.5.53
www  IN A   198.18.5.80
"""

# RFC 4592 section 2.2.1, without "sub.*.example." (refused here: "*" not leftmost)
RFC4592 = """\
$ORIGIN example.
example.                 3600 IN  SOA   ns.example.com. hostmaster.example. 1 3600 900 604800 3600
example.                 3600     NS    ns.example.com.
example.                 3600     NS    ns.example.net.
*.example.               3600     TXT   "this is a wildcard"
*.example.               3600     MX    10 host1.example.
host1.example.           3600     A     192.0.2.1
_ssh._tcp.host1.example. 3600     SRV   0 0 22 host1.example.
_ssh._tcp.host2.example. 3600     SRV   0 0 22 host2.example.
subdel.example.          3600     NS    ns.example.com.
subdel.example.          3600     NS    ns.example.net.
"""


@pytest.fixture(scope="module")
def eng():
    return engine_for({"example.com.": EXAMPLE_COM, "example.net.": EXAMPLE_NET,
                       "example.": RFC4592}, identity="test-id", version="test-version")


def names_types(section):
    return [(str(rr.rname).lower(), QTYPE[rr.rtype]) for rr in section if rr.rtype != QTYPE.OPT]


# -- header bits -----------------------------------------------------------------------------
def test_authoritative_answer_has_aa_and_no_ra(eng):
    r = ask(eng, "www.example.com", "A")
    assert r.header.aa == 1 and r.header.ra == 0 and r.header.qr == 1
    assert rcode(r) == 0


def test_rd_is_copied_and_id_echoed(eng):
    for rd in (True, False):
        wire = eng.answer(query("www.example.com", "A", rd=rd, qid=0xBEEF))
        h = header_fields(wire)
        assert h["rd"] == int(rd) and h["id"] == 0xBEEF


def test_question_echoed_with_its_case(eng):
    wire = eng.answer(query("wWw.ExAmPlE.cOm", "A"))
    r = DNSRecord.parse(wire)
    assert str(r.q.qname) == "wWw.ExAmPlE.cOm."
    # and for a synthesised answer, whose question length differs from the template
    r = ask(eng, "AbC.WiLd.example.com", "A")
    assert str(r.q.qname) == "AbC.WiLd.example.com."
    assert str(r.rr[0].rname) == "AbC.WiLd.example.com."


# -- positive answers ------------------------------------------------------------------------
def test_positive_answer_carries_zone_ns_in_authority_and_glue(eng):
    r = ask(eng, "www.example.com", "A")
    assert [str(x.rdata) for x in r.rr] == ["198.18.0.80"]
    assert sorted(str(x.rdata) for x in r.auth) == ["ns.example.net.", "ns1.example.com."]
    assert all(x.rtype == QTYPE.NS and str(x.rname) == "example.com." for x in r.auth)
    # in-zone name server addresses, A before AAAA (NSD's additional order)
    assert names_types(r.ar) == [("ns1.example.com.", "A"), ("ns1.example.com.", "AAAA")]


def test_mx_answer_adds_exchange_address(eng):
    r = ask(eng, "example.com", "MX")
    assert ("mail.example.com.", "A") in names_types(r.ar)


# -- negative answers (RFC 2308) -------------------------------------------------------------
def test_nxdomain_has_soa_with_negative_ttl(eng):
    r = ask(eng, "nope.example.com", "A")
    assert rcode(r) == 3 and r.header.aa == 1 and not r.rr
    assert len(r.auth) == 1 and r.auth[0].rtype == QTYPE.SOA
    assert r.auth[0].ttl == 300          # min(SOA TTL 3600, MINIMUM 300)


def test_negative_ttl_is_soa_ttl_when_smaller():
    e = engine_for({"t.test.": "$TTL 60\n@ SOA ns h 1 2 3 4 3600\n@ NS ns\nns A 198.18.0.1\n"})
    r = ask(e, "x.t.test", "A")
    assert r.auth[0].ttl == 60


def test_nodata_has_soa_and_noerror(eng):
    r = ask(eng, "www.example.com", "TXT")
    assert rcode(r) == 0 and r.header.aa == 1 and not r.rr
    assert [x.rtype for x in r.auth] == [QTYPE.SOA] and r.auth[0].ttl == 300


def test_empty_non_terminal_is_nodata(eng):
    for name in ("a.b.example.com", "b.example.com"):
        r = ask(eng, name, "A")
        assert rcode(r) == 0 and not r.rr and r.auth[0].rtype == QTYPE.SOA, name


def test_below_empty_non_terminal_without_wildcard_is_nxdomain(eng):
    assert rcode(ask(eng, "zz.a.b.example.com", "TXT")) == 3


# -- CNAME (RFC 1034 4.3.2, RFC 6604) ----------------------------------------------------------
def test_cname_followed_in_zone(eng):
    r = ask(eng, "alias.example.com", "A")
    assert names_types(r.rr) == [("alias.example.com.", "CNAME"), ("www.example.com.", "A")]
    assert r.header.aa == 1


def test_cname_chain_of_two(eng):
    r = ask(eng, "chain1.example.com", "AAAA")
    assert names_types(r.rr) == [("chain1.example.com.", "CNAME"),
                                 ("chain2.example.com.", "CNAME"), ("www.example.com.", "AAAA")]


def test_cname_followed_into_another_served_zone(eng):
    r = ask(eng, "tonet.example.com", "A")
    assert names_types(r.rr) == [("tonet.example.com.", "CNAME"), ("www.example.net.", "A")]
    # the authority is the NS set of the zone the chain ended in
    assert {str(x.rname) for x in r.auth} == {"example.net."}


def test_cname_leaving_our_zones_stops(eng):
    r = ask(eng, "toout.example.com", "A")
    assert names_types(r.rr) == [("toout.example.com.", "CNAME")]
    assert rcode(r) == 0


def test_dangling_cname_rcode_from_end_of_chain(eng):
    r = ask(eng, "dangling.example.com", "A")
    assert names_types(r.rr) == [("dangling.example.com.", "CNAME")]
    assert rcode(r) == 3                  # RFC 6604: the rcode describes the last name


def test_qtype_cname_is_not_followed(eng):
    r = ask(eng, "alias.example.com", "CNAME")
    assert names_types(r.rr) == [("alias.example.com.", "CNAME")]


def test_cname_to_name_without_the_type_is_nodata(eng):
    r = ask(eng, "tonodata.example.com", "AAAA")
    assert names_types(r.rr) == [("tonodata.example.com.", "CNAME")]
    assert rcode(r) == 0


def test_cname_loop_terminates():
    e = engine_for({"l.test.": "$TTL 60\n@ SOA ns h 1 2 3 4 60\n@ NS ns\nns A 198.18.0.1\n"
                    "a CNAME b\nb CNAME a\n"})
    r = ask(e, "a.l.test", "A")
    assert names_types(r.rr) == [("a.l.test.", "CNAME"), ("b.l.test.", "CNAME")]


def test_long_cname_chain_followed_until_the_packet_is_full():
    # NSD has no hop limit: a chain is followed while it fits, then TC (NSD_BEHAVIOUR.md 4g)
    lines = "".join("c%d CNAME c%d\n" % (i, i + 1) for i in range(99)) + "c99 A 198.18.0.9\n"
    e = engine_for({"c.test.": "$TTL 60\n@ SOA ns h 1 2 3 4 60\n@ NS ns\nns A 198.18.0.1\n"
                    + lines})
    r = ask(e, "c87.c.test", "A")            # 12 links: all followed
    assert [t for _, t in names_types(r.rr)] == ["CNAME"] * 12 + ["A"]
    for edns, limit in ((None, 512), (1232, 1232)):
        wire = e.answer(query("c0.c.test", "A", edns=edns))
        h = header_fields(wire)
        assert h["tc"] == 1 and len(wire) <= limit
        r = DNSRecord.parse(wire)
        assert r.rr and all(x.rtype == QTYPE.CNAME for x in r.rr)
        assert len(wire) + 30 > limit        # filled, not cut early


# -- wildcards (RFC 4592) ----------------------------------------------------------------------
@pytest.mark.parametrize("qname,qtype,expect", [
    # RFC 4592 section 2.2.1's example queries and their outcomes
    ("host3.example", "MX", "synth"),
    ("host3.example", "A", "nodata"),
    ("foo.bar.example", "TXT", "synth"),
    ("host1.example", "MX", "nodata"),
    ("_telnet._tcp.host1.example", "SRV", "nxdomain"),
    ("host.subdel.example", "A", "referral"),
    ("ghost.*.example", "MX", "nxdomain"),
])
def test_rfc4592_examples(eng, qname, qtype, expect):
    r = ask(eng, qname, qtype)
    if expect == "synth":
        assert rcode(r) == 0 and r.header.aa == 1
        assert [str(x.rname).lower() for x in r.rr] == [qname + "."]
        assert QTYPE[r.rr[0].rtype] == qtype
    elif expect == "nodata":
        assert rcode(r) == 0 and not r.rr and r.auth[0].rtype == QTYPE.SOA
    elif expect == "nxdomain":
        assert rcode(r) == 3 and not r.rr and r.auth[0].rtype == QTYPE.SOA
    else:
        assert r.header.aa == 0 and not r.rr
        assert {str(x.rname) for x in r.auth} == {"subdel.example."}


def test_wildcard_literal_asterisk_query(eng):
    r = ask(eng, "*.example", "TXT")
    assert str(r.rr[0].rname) == "*.example." and r.header.aa == 1


def test_wildcard_synthesis_adds_mx_exchange_address(eng):
    r = ask(eng, "any.thing.wild.example.com", "MX")
    assert str(r.rr[0].rname) == "any.thing.wild.example.com."
    assert ("mail.example.com.", "A") in names_types(r.ar)


def test_wildcard_does_not_match_existing_name(eng):
    # x.a.b exists: nothing is synthesised for it (RFC 4592 2.2.1, host1.example MX)
    assert not ask(eng, "x.a.b.example.com", "A").rr


# -- referrals and DS ----------------------------------------------------------------------------
def test_referral_has_ns_and_glue_and_no_aa(eng):
    r = ask(eng, "www.deleg.example.com", "A")
    assert r.header.aa == 0 and rcode(r) == 0 and not r.rr
    assert names_types(r.auth) == [("deleg.example.com.", "NS")]
    assert names_types(r.ar) == [("ns1.deleg.example.com.", "A"),
                                 ("ns1.deleg.example.com.", "AAAA")]


def test_referral_at_the_cut_itself(eng):
    r = ask(eng, "deleg.example.com", "A")
    assert r.header.aa == 0 and names_types(r.auth) == [("deleg.example.com.", "NS")]


def test_glue_name_query_gets_referral(eng):
    r = ask(eng, "ns1.deleg.example.com", "A")
    assert r.header.aa == 0 and not r.rr


def test_ds_at_cut_answered_from_parent(eng):
    r = ask(eng, "deleg.example.com", "DS")
    assert r.header.aa == 1 and names_types(r.rr) == [("deleg.example.com.", "DS")]


def test_ds_at_cut_without_ds_is_nodata_from_parent(eng):
    r = ask(eng, "nods.example.com", "DS")
    assert r.header.aa == 1 and not r.rr and r.auth[0].rtype == QTYPE.SOA
    assert str(r.auth[0].rname) == "example.com."


def test_ds_below_cut_is_referral(eng):
    r = ask(eng, "x.deleg.example.com", "DS")
    assert r.header.aa == 0 and names_types(r.auth) == [("deleg.example.com.", "NS")]


# -- EDNS0 (RFC 6891) ------------------------------------------------------------------------------
def test_edns_answer_has_opt_with_our_size(eng):
    r = ask(eng, "www.example.com", "A", edns=4096)
    opt = opt_record(r)
    assert opt is not None and opt.rclass == 1232 and opt.ttl == 0


def test_edns_do_bit_echoed(eng):
    r = ask(eng, "www.example.com", "A", edns=1232, do=True)
    assert opt_record(r).ttl & 0x8000


def test_no_opt_without_edns(eng):
    assert opt_record(ask(eng, "www.example.com", "A")) is None


def test_edns_version_1_gets_badvers(eng):
    r = ask(eng, "www.example.com", "A", edns=1232, ednsver=1)
    assert rcode(r) == 16 and not r.rr
    assert opt_record(r).ttl >> 16 & 0xFF == 0      # we speak version 0


# -- truncation ----------------------------------------------------------------------------------
def test_large_answer_truncated_without_edns(eng):
    wire = eng.answer(query("big.example.com", "TXT"))
    assert len(wire) <= 512
    h = header_fields(wire)
    assert h["tc"] == 1 and h["an"] == 0


def test_large_answer_fits_with_edns(eng):
    wire = eng.answer(query("big.example.com", "TXT", edns=1232))
    h = header_fields(wire)
    assert h["tc"] == 0 and h["an"] == 8 and 512 < len(wire) <= 1232


def test_edns_size_below_512_means_512(eng):
    wire = eng.answer(query("big.example.com", "TXT", edns=100))
    assert len(wire) <= 512 and header_fields(wire)["tc"] == 1


def test_edns_size_above_ours_is_capped_at_1232(eng):
    wire = eng.answer(query("big.example.com", "TXT", edns=65000))
    assert len(wire) <= 1232


# -- ANY (RFC 8482) ------------------------------------------------------------------------------
def test_any_answered_with_one_rrset(eng):
    r = ask(eng, "www.example.com", "ANY")
    assert rcode(r) == 0 and r.header.aa == 1
    assert len({(x.rname, x.rtype) for x in r.rr}) == 1


def test_any_at_empty_non_terminal_is_nodata(eng):
    r = ask(eng, "b.example.com", "ANY")
    assert not r.rr and r.auth[0].rtype == QTYPE.SOA


# -- errors ----------------------------------------------------------------------------------------
def test_out_of_zone_is_refused(eng):
    r = ask(eng, "www.example.org", "A")
    assert rcode(r) == 5 and r.header.aa == 0 and str(r.q.qname) == "www.example.org."


def test_other_opcode_is_notimp(eng):
    wire = bytearray(query("www.example.com", "A"))
    wire[2] = (wire[2] & 0x87) | (2 << 3)      # opcode STATUS
    assert header_fields(eng.answer(bytes(wire)))["rcode"] == 4


def test_qdcount_two_is_formerr(eng):
    wire = bytearray(query("www.example.com", "A"))
    wire[5] = 2
    assert header_fields(eng.answer(bytes(wire)))["rcode"] == 1


def test_response_bit_set_is_dropped(eng):
    wire = bytearray(query("www.example.com", "A"))
    wire[2] |= 0x80
    assert eng.answer(bytes(wire)) is None


def test_short_message_is_dropped(eng):
    assert eng.answer(b"\x12\x34\x01\x00\x00\x01") is None


def test_non_in_class_is_refused(eng):
    r = DNSRecord.parse(eng.answer(query("www.example.com", "A", qclass=4)))
    assert rcode(r) == 5


# -- CHAOS -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name,text", [("id.server", "test-id"), ("hostname.bind", "test-id"),
                                       ("version.bind", "test-version"),
                                       ("version.server", "test-version")])
def test_chaos_txt_from_build_options(eng, name, text):
    r = DNSRecord.parse(eng.answer(query(name, "TXT", qclass=CLASS.CH)))
    assert rcode(r) == 0 and r.header.aa == 0
    assert r.rr[0].rclass == CLASS.CH and str(r.rr[0].rdata) == '"%s"' % text


def test_chaos_refused_when_unset():
    e = engine_for({"example.net.": EXAMPLE_NET})
    for name in ("id.server", "version.bind"):
        r = DNSRecord.parse(e.answer(query(name, "TXT", qclass=CLASS.CH)))
        assert rcode(r) == 5, name
