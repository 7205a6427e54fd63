"""Reading master files: every accepted construct, and the wire RDATA of every type.

The expected RDATA below is what BIND 9.18's ``named-compilezone -F raw`` wrote for the same
text (an implementation independent of ours and of dnslib).
"""

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import zones
from zones import text
from zones.errors import BadClass, BadRdata, BadType, NoOrigin, SyntaxProblem, ZoneError

HEAD = """$ORIGIN example.com.
$TTL 300
@ SOA ns1 hostmaster 1 7200 3600 1209600 300
@ NS ns1
ns1 A 192.0.2.1
"""


def load(body, **kw):
    return zones.load_text(HEAD + body, **kw)


def wire(name):
    return text.name(name, text.name("example.com.", None))


def rdatas(zone, owner, rtype):
    return zone.get_rrset(wire(owner), rtype).rdatas


def problems(source, **kw):
    with pytest.raises(ZoneError) as e:
        zones.load_text(source, **kw)
    return e.value.problems


DNSKEY_HEX = "0101030803010001a80020a955"
VECTORS = [
    ("A", "192.0.2.10", "c000020a"),
    ("AAAA", "2001:db8::1", "20010db8000000000000000000000001"),
    ("AAAA", "::ffff:192.0.2.1", "00000000000000000000ffffc0000201"),
    ("NS", "ns1.example.net.", "036e7331076578616d706c65036e657400"),
    ("CNAME", "www", "03777777076578616d706c6503636f6d00"),
    ("PTR", "host.example.net.", "04686f7374076578616d706c65036e657400"),
    ("MX", "10 mail", "000a046d61696c076578616d706c6503636f6d00"),
    ("TXT", '"v=spf1 -all" "second string"',
     "0b763d73706631202d616c6c0d7365636f6e6420737472696e67"),
    ("TXT", '"a\\"b\\\\c\\065\\255" plain\\032word', "076122625c6341ff0a706c61696e20776f7264"),
    ("TXT", '"a;b(c)d"', "07613b6228632964"),
    ("SRV", "10 60 5060 sip", "000a003c13c403736970076578616d706c6503636f6d00"),
    ("NAPTR", '100 10 "S" "SIP+D2U" "!^.*$!sip:info@example.com!" _sip._udp',
     "0064000a0153075349502b4432551b215e2e2a24217369703a696e666f406578616d706c652e636f6d21"
     "045f736970045f756470076578616d706c6503636f6d00"),
    ("DS", "60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118",
     "ec4505012bb183af5f22588179a53b0a98631fad1a292118"),
    ("DS", "60485 5 1 2BB183AF5F22588179A5 3B0A98631FAD1A292118",
     "ec4505012bb183af5f22588179a53b0a98631fad1a292118"),
    ("DNSKEY", "257 3 8 AwEAAagAIKlV", DNSKEY_HEX),
    ("DNSKEY", "257 3 8 ( AwEA\n AagAIKlV )", DNSKEY_HEX),
    ("RRSIG", "A 8 3 300 20990201000000 20240101000000 12345 example.com. dGVzdHNpZ25hdHVyZQ==",
     "000108030000012cf2ce0200659200803039076578616d706c6503636f6d00746573747369676e617475"
     "7265"),
    ("RRSIG", "a 8 3 300 4073587200 1704067200 12345 example.com. dGVzdHNpZ25hdHVyZQ==",
     "000108030000012cf2ce0200659200803039076578616d706c6503636f6d00746573747369676e617475"
     "7265"),
    ("NSEC", "next.example.com. A MX RRSIG NSEC TYPE1234",
     "046e657874076578616d706c6503636f6d000006400100000003041b00000000000000000000000000000000"
     "0000000000000000000020"),
    ("CAA", '0 issue "letsencrypt.org"', "000569737375656c657473656e63727970742e6f7267"),
    ("HTTPS", "1 . alpn=h2,h3 port=443 ipv4hint=192.0.2.1",
     "000100000100060268320268330003000201bb00040004c0000201"),
    ("HTTPS", "1 . ech=AEX+DQBB8wAgACCGYRNRGRfwoj7TkP5Z5bGsGfqPMHjkK1O5lN4rR+LHCgAEAAEAAQASY2xvdWRm"
     'bGFyZS1lY2guY29tAAA= alpn="h2,h3"',
     "00010000010006026832026833000500470045fe0d0041f300200020866113511917f0a23ed390fe59e5b1"
     "ac19fa8f3078e42b53b994de2b47e2c70a0004000100010012636c6f7564666c6172652d6563682e636f6d"
     "0000"),
    ("SVCB", "1 svc.example.net. alpn=h2 port=8443",
     "000103737663076578616d706c65036e657400000100030268320003000220fb"),
    ("SSHFP", "4 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
     "04020123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
    ("TLSA", "3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
     "0301010123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
    ("LOC", "52 22 23.000 N 4 53 32.000 E -2.00m 0.00m 10000m 10m",
     "000016138b3cf018810cbce0009895b8"),
    ("LOC", "42 21 54 N 71 06 18 W -24m 30m", "0033161389172dd070be15f000988d20"),
    ("LOC", "37 14 12.094 N 115 48 14.649 W 1381m 15m 950m 0.5m",
     "0013945187fd78fe6726b147009ab1f4"),
    ("RP", "admin.example.com. txt.example.com.",
     "0561646d696e076578616d706c6503636f6d0003747874076578616d706c6503636f6d00"),
    ("HINFO", '"INTEL-386" "UNIX"', "09494e54454c2d33383604554e4958"),
    ("SPF", '"v=spf1 -all"', "0b763d73706631202d616c6c"),
    ("DNAME", "example.net.", "076578616d706c65036e657400"),
    ("CDS", "60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118",
     "ec4505012bb183af5f22588179a53b0a98631fad1a292118"),
    ("CDNSKEY", "257 3 8 AwEAAagAIKlV", DNSKEY_HEX),
    ("URI", '10 1 "ftp://ftp1.example.com/public"',
     "000a00016674703a2f2f667470312e6578616d706c652e636f6d2f7075626c6963"),
]


@pytest.mark.parametrize("mnemonic,rdata,expected", VECTORS)
def test_rdata_of_every_type_matches_bind(mnemonic, rdata, expected):
    zone = load("x %s %s\n" % (mnemonic, rdata))
    rtype = zones.rrtypes.type_code(mnemonic)
    assert rdatas(zone, "x", rtype) == [bytes.fromhex(expected)]


def test_soa_rdata_matches_bind():
    zone = zones.load_text("@ SOA ns1 hostmaster 2024010101 7200 3600 1209600 300\n@ NS ns1\n",
                           origin="example.com")
    assert zone.soa.rdatas == [bytes.fromhex(
        "036e7331076578616d706c6503636f6d000a686f73746d6173746572076578616d706c6503636f6d0078a3f1"
        "7500001c2000000e10001275000000012c")]
    assert zone.serial == 2024010101


def test_soa_timers_take_units_and_parentheses_with_comments():
    zone = zones.load_text("@ SOA ns1 hostmaster ( 2024010101 ; serial\n 2h ; refresh\n 1H\n"
                           " 2w; expire\n 5m )\n@ NS ns1\n", origin="example.com")
    assert zone.soa.rdatas[0][-20:] == bytes.fromhex("78a3f17500001c2000000e10001275000000012c")


def test_type_mnemonics_ignore_case():
    zone = load("x a 192.0.2.10\nx Mx 10 mail\nx in txt y\n")
    assert rdatas(zone, "x", 1) == [bytes.fromhex("c000020a")]
    assert rdatas(zone, "x", 15) == [bytes.fromhex("000a046d61696c076578616d706c6503636f6d00")]
    assert rdatas(zone, "x", 16) == [b"\x01y"]


def test_type_number_form_reads_text_of_a_known_type():
    assert rdatas(load("x TYPE1 192.0.2.10\n"), "x", 1) == [bytes.fromhex("c000020a")]


def test_unknown_type_in_rfc3597_form_with_hex_in_several_words():
    assert rdatas(load("x TYPE65280 \\# 4 ab cd EF01\n"), "x", 65280) == [b"\xab\xcd\xef\x01"]


def test_unknown_type_with_empty_rdata():
    assert rdatas(load("x TYPE65280 \\# 0\n"), "x", 65280) == [b""]


def test_known_type_in_rfc3597_form():
    zone = load("x A \\# 4 c000020a\nx MX \\# 3 000a00\nx TXT \\# 3 0261 62\n")
    assert rdatas(zone, "x", 1) == [bytes.fromhex("c000020a")]
    assert rdatas(zone, "x", 15) == [bytes.fromhex("000a00")]
    assert rdatas(zone, "x", 16) == [b"\x02ab"]


def test_known_type_in_rfc3597_form_with_a_name():
    zone = load("x NS \\# 3 016100\n")
    assert rdatas(zone, "x", 2) == [b"\x01a\x00"]


@pytest.mark.parametrize("head", ["x CLASS1 A", "x IN A", "x in A", "x 300 CLASS1 A"])
def test_class_in_written_any_way(head):
    assert rdatas(load(head + " 192.0.2.10\n"), "x", 1) == [bytes.fromhex("c000020a")]


@pytest.mark.parametrize("line", ["x 600 IN A 192.0.2.10", "x IN 600 A 192.0.2.10",
                                  "x 10m A 192.0.2.10", "x IN 10M A 192.0.2.10"])
def test_ttl_and_class_in_either_order(line):
    assert load(line + "\n").get_rrset(wire("x"), 1).ttl == 600


def test_blank_owner_is_the_previous_owner():
    zone = load("x A 192.0.2.10\n  TXT one\n\tAAAA ::1\n")
    assert [r.rtype for r in zone.rrsets.values()][-3:] == [1, 16, 28]
    assert {r.name for r in list(zone.rrsets.values())[-3:]} == {wire("x")}


def test_at_is_the_origin_and_names_are_relative_to_it():
    zone = load("@ MX 10 mail\nwww CNAME @\n")
    assert rdatas(zone, "www", 5) == [wire("example.com.")]
    assert rdatas(zone, "example.com.", 15) == [b"\x00\x0a" + wire("mail")]


def test_origin_directive_changes_relative_names_in_owners_and_rdata():
    zone = load("$ORIGIN sub.example.com.\nx MX 10 mail\n$ORIGIN other.example.com.\ny CNAME z\n")
    assert rdatas(zone, "x.sub", 15) == [b"\x00\x0a" + wire("mail.sub")]
    assert rdatas(zone, "y.other", 5) == [wire("z.other")]


def test_relative_origin_directive_is_relative_to_the_current_origin():
    zone = load("$ORIGIN sub\nx A 192.0.2.10\n")
    assert zone.get_rrset(wire("x.sub"), 1) is not None


def test_owner_keeps_its_case_and_rrsets_merge_without_case():
    zone = load("WWW A 192.0.2.10\nwww A 192.0.2.11\n")
    rrset = zone.get_rrset(wire("www"), 1)
    assert rrset.name == wire("WWW")
    assert len(rrset.rdatas) == 2


def test_escaped_owner():
    zone = load("a\\.b\\065 TXT x\n")
    assert zone.get_rrset(b"\x04a.bA" + wire("example.com."), 16) is not None


def test_rrsets_keep_first_appearance_order_and_rdatas_file_order():
    zone = load("b A 192.0.2.2\na A 192.0.2.1\nb A 192.0.2.1\nb A 192.0.2.2\n")
    keys = list(zone.rrsets)[-2:]
    assert keys == [(wire("b"), 1), (wire("a"), 1)]
    assert rdatas(zone, "b", 1) == [bytes([192, 0, 2, 2]), bytes([192, 0, 2, 1])]


def test_ttl_directive_is_the_default_and_explicit_ttl_wins():
    zone = load("a A 192.0.2.1\nb 60 A 192.0.2.2\nc A 192.0.2.3\n$TTL 1h\nd A 192.0.2.4\n")
    ttls = [zone.get_rrset(wire(n), 1).ttl for n in "abcd"]
    assert ttls == [300, 60, 300, 3600]


def test_without_ttl_directive_soa_uses_its_minimum_and_records_carry_the_previous_ttl():
    zone = zones.load_text("@ SOA ns1 hostmaster 1 2 3 4 500\n@ NS ns1\nns1 60 A 192.0.2.1\n"
                           "www A 192.0.2.2\n", origin="example.com")
    assert zone.soa.ttl == 500
    assert zone.get_rrset(wire("example.com."), 2).ttl == 500
    assert zone.get_rrset(wire("www"), 1).ttl == 60
    assert zone.warnings == []


def test_record_before_any_ttl_gets_3600_with_a_warning():
    zone = zones.load_text("www A 192.0.2.2\n@ SOA ns1 hostmaster 1 2 3 4 500\n@ NS ns1\n",
                           origin="example.com")
    assert zone.get_rrset(wire("www"), 1).ttl == 3600
    assert zone.soa.ttl == 3600
    assert [str(w) for w in zone.warnings] == [
        "<text>:1: warning: no TTL, no $TTL and no earlier record to take one from; using 3600"]
    assert isinstance(zone.warnings[0], zones.errors.DefaultTTL)


def test_non_ascii_octets_survive_exactly(tmp_path):
    path = tmp_path / "z.zone"
    path.write_bytes(HEAD.encode() + b"caf\xc3\xa9 TXT \"\xff\xfe\"\nbin\xff TXT x\n")
    zone = zones.load(str(path))
    assert zone.get_rrset(b"\x05caf\xc3\xa9" + wire("example.com."), 16).rdatas == [
        b"\x02\xff\xfe"]
    assert zone.get_rrset(b"\x04bin\xff" + wire("example.com."), 16) is not None


def test_load_text_reads_unicode_as_utf8():
    zone = load("café TXT \"é\"\n")
    assert zone.get_rrset(b"\x05caf\xc3\xa9" + wire("example.com."), 16).rdatas == [
        b"\x02\xc3\xa9"]


# -- $INCLUDE ---------------------------------------------------------------------------------

def test_include_is_relative_to_the_including_file(tmp_path, monkeypatch):
    (tmp_path / "zones" / "parts").mkdir(parents=True)
    main = tmp_path / "zones" / "main.zone"
    main.write_text(HEAD + "$INCLUDE parts/hosts.zone\nafter A 192.0.2.9\n")
    (tmp_path / "zones" / "parts" / "hosts.zone").write_text("inc A 192.0.2.8\n")
    monkeypatch.chdir(tmp_path)  # not the directory of main.zone
    zone = zones.load("zones/main.zone")
    assert zone.get_rrset(wire("inc"), 1).where == zones.Where("zones/parts/hosts.zone", 1)
    assert zone.get_rrset(wire("after"), 1).where == zones.Where("zones/main.zone", 7)


def test_include_with_origin_then_origin_and_owner_come_back_and_ttl_stays(tmp_path):
    (tmp_path / "inc.zone").write_text("$TTL 99\nx A 192.0.2.1\n@ TXT here\n")
    (tmp_path / "main.zone").write_text(
        HEAD + "y A 192.0.2.2\n$INCLUDE inc.zone sub\n  TXT back\nz A 192.0.2.3\n")
    zone = zones.load(str(tmp_path / "main.zone"))
    assert zone.get_rrset(wire("x.sub"), 1).ttl == 99
    assert rdatas(zone, "sub", 16) == [b"\x04here"]
    assert rdatas(zone, "y", 16) == [b"\x04back"]
    assert zone.get_rrset(wire("z"), 1).ttl == 99


def test_files_and_source_hash_cover_every_file_in_read_order(tmp_path):
    main = HEAD + '$INCLUDE "a.zone"\n$INCLUDE b.zone\n'
    (tmp_path / "main.zone").write_text(main)
    (tmp_path / "a.zone").write_text("a A 192.0.2.1\n")
    (tmp_path / "b.zone").write_text("b A 192.0.2.2\n")
    zone = zones.load(str(tmp_path / "main.zone"))
    assert zone.files == [str(tmp_path / n) for n in ("main.zone", "a.zone", "b.zone")]
    expected = hashlib.sha256((main + "a A 192.0.2.1\nb A 192.0.2.2\n").encode()).hexdigest()
    assert zone.source_sha256 == expected


def test_load_text_includes_are_relative_to_the_working_directory(tmp_path, monkeypatch):
    (tmp_path / "inc.zone").write_text("inc A 192.0.2.1\n")
    monkeypatch.chdir(tmp_path)
    zone = load("$INCLUDE inc.zone\n")
    assert zone.files == ["<text>", "inc.zone"]
    assert zone.get_rrset(wire("inc"), 1).where == zones.Where("inc.zone", 1)


# -- the origin -------------------------------------------------------------------------------

@pytest.mark.parametrize("origin", ["example.com", "example.com.", "EXAMPLE.com",
                                    b"\x07example\x03com\x00"])
def test_origin_argument(origin):
    zone = zones.load_text("@ SOA ns1 hostmaster 1 2 3 4 5\n@ NS ns1\n", origin=origin)
    assert zones.names.key(zone.origin) == wire("example.com.")


def test_origin_argument_wins_over_directive():
    zone = zones.load_text("$ORIGIN example.org.\nexample.com. SOA ns1 hostmaster 1 2 3 4 5\n"
                           "example.com. NS ns1\n", origin="example.com")
    assert zone.origin == wire("example.com.")


def test_origin_from_soa_owner_even_after_another_origin_directive():
    # the shape of BIND's dumps
    zone = zones.load_text("$ORIGIN .\n$TTL 300\nexample.com IN SOA ns1.example.com. h 1 2 3 4 5\n"
                           "$ORIGIN example.com.\n@ NS ns1\nns1 A 192.0.2.1\n")
    assert zone.origin == wire("example.com.")


def test_origin_from_first_origin_directive_when_there_is_no_soa():
    errors = problems("$ORIGIN example.com.\n@ NS ns1\n")
    assert "zone example.com. has no SOA record at its origin" in [str(p) for p in errors]


def test_no_origin_at_all_is_a_problem():
    errors = problems("www.example.com. A 192.0.2.1\n")
    assert [type(p) for p in errors] == [NoOrigin]


def test_relative_name_without_origin_is_a_problem_at_its_line():
    errors = problems("example.com. SOA ns1.example.com. h. 1 2 3 4 5\nwww A 192.0.2.1\n")
    assert any(isinstance(p, NoOrigin) and str(p).startswith("<text>:2: ") for p in errors)


def test_bad_origin_argument():
    with pytest.raises(ZoneError, match="bad origin"):
        zones.load_text("", origin="a..b")
    with pytest.raises(ZoneError, match="not a wire-format name"):
        zones.load_text("", origin=b"\x05ab\x00")


# -- what is not a record ---------------------------------------------------------------------

@pytest.mark.parametrize("line,kind,message", [
    ("x CH A 192.0.2.1", BadClass, "class CH not supported (only IN)"),
    ("x CLASS3 A 192.0.2.1", BadClass, "class CLASS3 not supported (only IN)"),
    ("x HS 300 A 192.0.2.1", BadClass, "class HS not supported (only IN)"),
    ("x BOGUS 1", BadType, "unknown type 'BOGUS'"),
    ("x ANY 1", BadType, "type ANY cannot appear in a zone"),
    ("x TYPE41 \\# 0", BadType, "type OPT cannot appear in a zone"),
    ("x TYPE0 \\# 0", BadType, "type TYPE0 cannot appear in a zone"),
    ("x NSEC3PARAM 1 0 0 -", BadRdata, "NSEC3PARAM: has no text form here; write it as \\# "
                                       "length hex (RFC 3597)"),
    ("x 300 300 A 192.0.2.1", SyntaxProblem, "two TTLs in one record"),
    ("x IN IN A 192.0.2.1", SyntaxProblem, "two classes in one record"),
    ("x 300 IN", SyntaxProblem, "record has no type"),
    ("x", SyntaxProblem, "record has no type"),
    ("$GENERATE 1-10 h$ A 192.0.2.$", SyntaxProblem, "unknown directive $GENERATE"),
    ("$ORIGIN", SyntaxProblem, "$ORIGIN takes one name"),
    ("$TTL 1 2", SyntaxProblem, "$TTL takes one TTL"),
    ("$INCLUDE", SyntaxProblem, "$INCLUDE takes a file name and an optional origin"),
])
def test_refused_lines(line, kind, message):
    errors = problems(HEAD + line + "\n")
    assert len(errors) == 1
    assert isinstance(errors[0], kind)
    assert str(errors[0]) == "<text>:6: " + message


def test_blank_owner_with_no_previous_owner():
    errors = problems("  A 192.0.2.1\n", origin="example.com")
    assert str(errors[0]) == "<text>:1: no owner, and no earlier record to take it from"


def test_followers_of_an_unreadable_owner_are_skipped_quietly():
    errors = problems(HEAD + "a..b A 192.0.2.1\n  A 1\n")
    assert [str(p) for p in errors] == ["<text>:6: empty label in name 'a..b'"]


def test_owner_after_an_unreadable_owner_is_read_again():
    errors = problems(HEAD + "www A 192.0.2.1\na..b A 192.0.2.1\nwww TXT x\n  TXT y\n")
    assert [str(p) for p in errors] == ["<text>:7: empty label in name 'a..b'"]


def test_followers_of_a_record_with_a_syntax_error_are_skipped_quietly():
    errors = problems(HEAD + "www A 192.0.2.1\nbad TXT \"x\n  A 1\n")
    assert [str(p) for p in errors] == ["<text>:7: quoted string not closed on its line"]


def test_every_problem_is_reported_in_line_order():
    errors = problems(HEAD + "a A 300.1.1.1\nb MX x y\nc A 192.0.2.1\nd 1y A 192.0.2.1\n")
    assert [str(p).split(":")[1] for p in errors] == ["6", "7", "9"]


# -- robustness -------------------------------------------------------------------------------

VOCABULARY = ["$ORIGIN", "$TTL", "@", "IN", "CH", "A", "AAAA", "NS", "MX", "SOA", "TXT", "CNAME",
              "TYPE99", "\\#", "(", ")", ";", '"', "\\", "1", "300", "1h", "192.0.2.1", "::1",
              "www", "a.b.", "ns1", "\\065", "*", "..", "99999999999", "\xff", " ", "\t", "\n",
              "HTTPS", "LOC", "NSEC", "RRSIG", "CAA", "SRV", "NAPTR", "DS", "N", "E", "ab"]


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=300))
def test_random_text_raises_nothing_but_zone_error(source):
    try:
        zones.load_text(source, origin="example.com")
    except ZoneError:
        pass


@settings(max_examples=600, deadline=None)
@given(st.lists(st.sampled_from(VOCABULARY), max_size=60))
def test_random_zone_words_raise_nothing_but_zone_error(words):
    source = HEAD + " ".join(words)
    try:
        zones.load_text(source)
    except ZoneError:
        pass
