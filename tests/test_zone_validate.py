"""Every refusal and every warning, each with the file:line it must point at."""

import pytest

import zones
from zones import errors, text
from zones.errors import ZoneError

HEAD = """$ORIGIN example.com.
$TTL 300
@ SOA ns1 hostmaster 1 7200 3600 1209600 300
@ NS ns1
ns1 A 192.0.2.1
"""  # the body below starts at line 6


def refuse(body, head=HEAD):
    with pytest.raises(ZoneError) as e:
        zones.load_text(head + body, filename="z.zone")
    return [(type(p), str(p)) for p in e.value.problems]


def warn(body, head=HEAD):
    zone = zones.load_text(head + body, filename="z.zone")
    return zone, [(type(w), str(w)) for w in zone.warnings]


def wire(name):
    return text.name(name, text.name("example.com.", None))


# -- the apex ---------------------------------------------------------------------------------

def test_no_soa():
    assert refuse("@ NS ns1\n", head="$ORIGIN example.com.\n$TTL 1\n") == [
        (errors.NoSOA, "zone example.com. has no SOA record at its origin")]


def test_second_soa_record():
    assert refuse("@ SOA ns1 hostmaster 2 7200 3600 1209600 300\n") == [
        (errors.MultipleSOA, "z.zone:6: a second SOA record for example.com.")]


def test_soa_not_at_origin():
    assert refuse("sub SOA ns1 hostmaster 1 7200 3600 1209600 300\n") == [
        (errors.SOANotAtOrigin,
         "z.zone:6: SOA record at sub.example.com., which is not the origin example.com.")]


def test_no_ns_at_apex_points_at_the_soa():
    assert refuse("", head="$ORIGIN example.com.\n$TTL 1\n\n@ SOA ns1 h 1 2 3 4 5\n") == [
        (errors.NoNS, "z.zone:4: zone example.com. has no NS records at its apex")]


# -- CNAME ------------------------------------------------------------------------------------

def test_data_after_cname_is_blamed():
    assert refuse("c CNAME www\nc A 192.0.2.1\nc TXT x\n") == [
        (errors.CNAMEAndOtherData, "z.zone:7: CNAME and other data (A) at c.example.com."),
        (errors.CNAMEAndOtherData, "z.zone:8: CNAME and other data (TXT) at c.example.com."),
    ]


def test_cname_after_data_is_blamed():
    assert refuse("c A 192.0.2.1\nc MX 1 mx\nc CNAME www\n") == [
        (errors.CNAMEAndOtherData, "z.zone:8: CNAME and other data (A MX) at c.example.com.")]


def test_cname_at_apex_conflicts_with_soa_and_ns():
    assert refuse("@ CNAME www\n") == [
        (errors.CNAMEAndOtherData, "z.zone:6: CNAME and other data (SOA NS) at example.com.")]


def test_cname_may_have_rrsig_and_nsec():
    zone = zones.load_text(HEAD + "c CNAME www\nc RRSIG CNAME 8 3 300 20990201000000 "
                           "20240101000000 1 example.com. AAAA\nc NSEC d CNAME RRSIG NSEC\n")
    assert zone.get_rrset(wire("c"), 47) is not None


def test_second_cname_record():
    assert refuse("c CNAME www\nc CNAME ftp\nc CNAME mail\n") == [
        (errors.MultipleCNAME, "z.zone:7: a second CNAME record at c.example.com."),
        (errors.MultipleCNAME, "z.zone:8: a second CNAME record at c.example.com."),
    ]


def test_same_cname_twice_is_only_a_duplicate():
    _, warnings = warn("c CNAME www\nc CNAME WWW\n")
    assert warnings == [(errors.DuplicateRecord,
                         "z.zone:7: warning: duplicate c.example.com. CNAME record ignored")]


def test_second_dname_record():
    assert refuse("d DNAME example.net.\nd DNAME example.org.\n") == [
        (errors.MultipleDNAME, "z.zone:7: a second DNAME record at d.example.com.")]


# -- names ------------------------------------------------------------------------------------

def test_owner_outside_the_zone_once_per_owner():
    assert refuse("www.example.org. A 192.0.2.1\n TXT x\nexample.com.evil. A 192.0.2.1\n") == [
        (errors.OutsideZone, "z.zone:6: www.example.org. is outside the zone example.com."),
        (errors.OutsideZone, "z.zone:8: example.com.evil. is outside the zone example.com."),
    ]


def test_name_that_only_ends_with_the_origin_text_is_outside():
    assert refuse("badexample.com. A 192.0.2.1\n") == [
        (errors.OutsideZone, "z.zone:6: badexample.com. is outside the zone example.com.")]


def test_wildcard_not_leftmost():
    assert refuse("a.*.b A 192.0.2.1\n") == [
        (errors.BadWildcard, "z.zone:6: a.*.b.example.com. has '*' in a label other than the "
                             "leftmost")]


def test_leftmost_wildcard_and_star_inside_a_label_are_fine():
    zone = zones.load_text(HEAD + "* A 192.0.2.1\n*.b A 192.0.2.1\na* A 192.0.2.1\nb.a*c TXT x\n"
                           "x CNAME a.*.b\n")
    assert zone.get_rrset(wire("a*"), 1) is not None


@pytest.mark.parametrize("body,kind,message", [
    ("%s A 192.0.2.1" % ("a" * 64), errors.LabelTooLong,
     "label of 64 octets in '%s' is over 63" % ("a" * 64)),
    ("x CNAME %s." % ("a" * 64), errors.LabelTooLong,
     "label of 64 octets in '%s.' is over 63" % ("a" * 64)),
    ("x MX 1 a\\300b", errors.BadName, "escape \\300 is over 255"),
    (".".join(["a" * 63] * 4) + " A 192.0.2.1", errors.NameTooLong,
     "name '%s' is 269 octets (with the origin), over 255" % ".".join(["a" * 63] * 4)),
    ("x NS " + ".".join(["a" * 63] * 3) + "." + "b" * 62 + ".", errors.NameTooLong,
     "name '%s' is 256 octets (with the origin), over 255" % (".".join(["a" * 63] * 3) + "." +
                                                             "b" * 62 + ".")),
    ("x SRV 1 2 3 " + ".".join(["a" * 63] * 3) + "." + "b" * 50, errors.NameTooLong,
     "name '%s' is 256 octets (with the origin), over 255" % (".".join(["a" * 63] * 3) + "." +
                                                             "b" * 50)),
])
def test_labels_and_names_too_long_anywhere(body, kind, message):
    assert refuse(body + "\n") == [(kind, "z.zone:6: " + message)]


# -- RDATA and TTLs ---------------------------------------------------------------------------

@pytest.mark.parametrize("body,message", [
    ("x A 300.1.1.1", "A: invalid IPv4 address '300.1.1.1'"),
    ("x A 1.2.3", "A: invalid IPv4 address '1.2.3'"),
    ("x A 01.2.3.4", "A: invalid IPv4 address '01.2.3.4'"),
    ("x A 1.2.3.4 5.6.7.8", "A: takes one IPv4 address, not 2 fields"),
    ("x AAAA 1::2::3", "AAAA: invalid IPv6 address '1::2::3'"),
    ("x MX 65536 mail", "MX: preference 65536 is over 65535"),
    ("x MX +1 mail", "MX: preference '+1' is not a number"),
    ("x TXT", "TXT: needs at least one character-string"),
    ('x TXT "%s"' % ("a" * 256), "TXT: character-string of 256 octets is over 255"),
    ("x HINFO one", "HINFO: takes two character-strings (CPU and OS), not 1 field"),
    ("x SRV 1 2 mail", "SRV: takes 4 fields, not 3"),
    ("x SOA ns1 h 1 2 3 4 1x", "SOA: minimum '1x' is not a number of seconds or a number with "
                               "units (1w2d3h4m5s)"),
    ("x DS 1 5 1 XYZW", "DS: does not parse: Non-hexadecimal digit found"),
    ("x DS 1 5 1 ABC", "DS: does not parse: Odd-length string"),
    ("x DNSKEY 257 3 8 AwEA!AQ==", "DNSKEY: has bad base64 'AwEA!AQ=='"),
    ("x DNSKEY 257 3 256 AwEAAQ==", "DNSKEY: algorithm 256 is over 255"),
    ("x RRSIG A 8 3 300 20241301000000 20240101000000 1 example.com. AAAA",
     "RRSIG: signature time 20241301000000 is not a date"),
    ("x RRSIG BOGUS 8 3 300 1 2 1 example.com. AAAA", "RRSIG: unknown type 'BOGUS'"),
    ("x NSEC next A BOGUS", "NSEC: unknown type 'BOGUS'"),
    ("x CAA 0 is-sue x", "CAA: tag 'is-sue' is not letters and digits"),
    ("x URI 1 2 \"\"", "URI: target is empty"),
    ("x HTTPS 1 . port=1 port=2", "HTTPS: repeats a SvcParamKey"),
    ("x HTTPS 1 . bogus=1", "HTTPS: does not parse: Error reading HTTPS from zone: "
                            "unrecognized SvcParamKey"),
    ("x LOC 91 N 0 E 0m", "LOC: latitude 91 0 0 is out of range"),
    ("x LOC 1 60 N 0 E 0m", "LOC: latitude 1 60 0 is out of range"),
    ("x LOC 1 N 0 W", "LOC: is not 'd [m [s]] N|S d [m [s]] E|W alt[m] [size [hp [vp]]]'"),
    ("x TYPE999 \\# 3 abcd", "TYPE999: \\# length 3 does not match the 2 octets given"),
    ("x TYPE999 \\# 2 abc", "TYPE999: \\# data is not pairs of hex digits"),
    ("x TYPE999 \\# two ab", "TYPE999: \\# needs a length in octets"),
    ("x A \\# 3 c00002", "A: RDATA of 3 octets is too short"),
    ("x A \\# 5 c000020101", "A: RDATA has 1 octets too many"),
    ("x NS \\# 2 c00c", "NS: name holds a compression pointer or a label of 192 octets"),
    ("x TXT \\# 0", "TXT: RDATA needs at least one character-string"),
    ("x TXT \\# 2 0561", "TXT: RDATA of 2 octets is too short"),
    ("x LOC \\# 16 010016138b3cf018810cbce0009895b8", "LOC: version 1 is not 0 (RFC 1876)"),
    ("x HTTPS \\# 7 00010000010005", "HTTPS: RDATA does not unpack: Error unpacking HTTPS: "
                                     "Not enough bytes [offset=7,remaining=0,requested=5]b''"),
])
def test_bad_rdata(body, message):
    assert refuse(body + "\n") == [(errors.BadRdata, "z.zone:6: " + message)]


def test_bad_ttl_on_a_record_and_in_ttl_directive():
    assert refuse("a 2147483648 A 192.0.2.1\n$TTL 1y\nb 1h30 A 192.0.2.1\n") == [
        (errors.BadTTL, "z.zone:6: TTL 2147483648 is over 2147483647"),
        (errors.BadTTL, "z.zone:7: TTL '1y' is not a number of seconds or a number with units "
                        "(1w2d3h4m5s)"),
        (errors.BadTTL, "z.zone:8: TTL '1h30' is not a number of seconds or a number with units "
                        "(1w2d3h4m5s)"),
    ]


# -- files ------------------------------------------------------------------------------------

def test_include_cycle_points_at_the_include_that_closes_it(tmp_path):
    (tmp_path / "a.zone").write_text(HEAD + "$INCLUDE b.zone\n")
    (tmp_path / "b.zone").write_text("x A 192.0.2.1\n$INCLUDE a.zone\n")
    with pytest.raises(ZoneError) as e:
        zones.load(str(tmp_path / "a.zone"))
    assert [(type(p), str(p)) for p in e.value.problems] == [
        (errors.IncludeCycle, "%s:2: $INCLUDE of '%s' would read it again inside itself" % (
            tmp_path / "b.zone", tmp_path / "a.zone"))]


def test_file_including_itself(tmp_path):
    (tmp_path / "a.zone").write_text(HEAD + "$INCLUDE a.zone\n")
    with pytest.raises(ZoneError) as e:
        zones.load(str(tmp_path / "a.zone"))
    assert isinstance(e.value.problems[0], errors.IncludeCycle)
    assert e.value.problems[0].where == zones.Where(str(tmp_path / "a.zone"), 6)


def test_missing_include_points_at_the_include(tmp_path):
    (tmp_path / "a.zone").write_text(HEAD + "$INCLUDE nope.zone\n")
    with pytest.raises(ZoneError) as e:
        zones.load(str(tmp_path / "a.zone"))
    assert [(type(p), str(p)) for p in e.value.problems] == [
        (errors.FileProblem, "%s:6: cannot read '%s': No such file or directory" % (
            tmp_path / "a.zone", tmp_path / "nope.zone"))]


def test_unreadable_zone_file(tmp_path):
    for path, reason in ((tmp_path / "nope", "No such file or directory"),
                         (tmp_path, "Is a directory")):
        with pytest.raises(ZoneError) as e:
            zones.load(str(path))
        assert [(type(p), str(p)) for p in e.value.problems] == [
            (errors.FileProblem, "cannot read '%s': %s" % (path, reason))]


# -- warnings ---------------------------------------------------------------------------------

def test_ttl_mismatch_warns_and_the_set_gets_the_lowest():
    zone, warnings = warn("a 600 A 192.0.2.1\na 60 A 192.0.2.2\na 120 A 192.0.2.3\n")
    assert zone.get_rrset(wire("a"), 1).ttl == 60
    assert warnings == [
        (errors.TTLMismatch, "z.zone:7: warning: TTL 60 of this a.example.com. A record differs "
                             "from the TTL 600 of its RRset; the set gets the lowest "
                             "(RFC 2181 5.2)"),
        (errors.TTLMismatch, "z.zone:8: warning: TTL 120 of this a.example.com. A record "
                             "differs from the TTL 60 of its RRset; the set gets the lowest "
                             "(RFC 2181 5.2)"),
    ]


def test_rrsigs_over_different_types_may_differ_in_ttl():
    _, warnings = warn("a 600 RRSIG A 8 3 600 1 2 1 example.com. AAAA\n"
                       "a 60 RRSIG TXT 8 3 60 1 2 1 example.com. AAAA\n")
    assert warnings == []


def test_duplicate_record_warns_and_one_is_kept():
    zone, warnings = warn("a A 192.0.2.1\na A 192.0.2.1\nb NS ns.Example.NET.\n"
                          " NS NS.example.net.\n")
    assert zone.get_rrset(wire("a"), 1).rdatas == [bytes([192, 0, 2, 1])]
    assert zone.get_rrset(wire("b"), 2).rdatas == [text.name("ns.Example.NET.", None)]
    assert warnings == [
        (errors.DuplicateRecord, "z.zone:7: warning: duplicate a.example.com. A record ignored"),
        (errors.DuplicateRecord, "z.zone:9: warning: duplicate b.example.com. NS record ignored"),
    ]


def test_duplicates_in_a_big_set_are_found():
    body = "".join("a A 10.0.0.%d\n" % i for i in range(40)) + "a A 10.0.0.7\n"
    zone, warnings = warn(body)
    assert len(zone.get_rrset(wire("a"), 1).rdatas) == 40
    assert warnings == [
        (errors.DuplicateRecord, "z.zone:46: warning: duplicate a.example.com. A record ignored")]


def test_missing_glue_points_at_the_ns_record_that_lacks_it():
    _, warnings = warn("sub NS ns1.sub\nsub NS ns2.sub\nsub NS ns.example.net.\n"
                       "ns1.sub A 192.0.2.1\ndeep NS ns.deep\ndeep NS x.deep\nns.deep AAAA ::1\n"
                       "x.deep A 192.0.2.7\n")
    assert warnings == [(errors.MissingGlue,
                         "z.zone:7: warning: delegation sub.example.com. NS ns2.sub.example.com. "
                         "has no glue: no A or AAAA record for ns2.sub.example.com.")]


def test_apex_ns_without_address_and_sibling_ns_need_no_glue_warning():
    _, warnings = warn("@ NS ns9\nsub NS ns1.other\n")
    assert warnings == []


def test_occluded_data_below_a_cut_is_kept():
    zone, warnings = warn("sub NS ns.example.net.\nhost.sub A 192.0.2.1\n")
    assert zone.get_rrset(wire("host.sub"), 1) is not None
    assert warnings == []


def test_problems_also_carry_the_warnings():
    with pytest.raises(ZoneError) as e:
        zones.load_text(HEAD + "a A 192.0.2.1\na A 192.0.2.1\nb A 1\n", filename="z.zone")
    assert [str(w) for w in e.value.warnings] == [
        "z.zone:7: warning: duplicate a.example.com. A record ignored"]
    assert [str(p) for p in e.value.problems] == ["z.zone:8: A: invalid IPv4 address '1'"]
