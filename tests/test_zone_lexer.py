"""The lexer (records of raw tokens) and the presentation-format values in zones.text."""

import pytest

from zones import text
from zones.errors import BadName, BadRdata, BadTTL, LabelTooLong, NameTooLong, NoOrigin
from zones.lexer import records

ORIGIN = b"\x07example\x03com\x00"


def lex(source):
    return list(records(source))


# -- records ----------------------------------------------------------------------------------

def test_plain_line_is_split_on_spaces_and_tabs():
    assert lex("www\tIN  A 192.0.2.1\n") == [(1, False, ["www", "IN", "A", "192.0.2.1"], None)]


def test_line_starting_with_blank_has_blank_owner():
    assert lex("a A 1.2.3.4\n  A 1.2.3.5\n\tTXT x\n") == [
        (1, False, ["a", "A", "1.2.3.4"], None),
        (2, True, ["A", "1.2.3.5"], None),
        (3, True, ["TXT", "x"], None),
    ]


def test_empty_and_whitespace_lines_are_skipped_and_counted():
    assert lex("\n   \n\t\na A 1.2.3.4\n") == [(4, False, ["a", "A", "1.2.3.4"], None)]


def test_comment_is_dropped():
    assert lex("a A 1.2.3.4 ; the web server\n; whole line\n") == [
        (1, False, ["a", "A", "1.2.3.4"], None)]


def test_parentheses_join_lines_and_record_keeps_its_first_line():
    source = "x\n@ SOA ns host (\n  1 ; serial\n  2 3\n  4 5 )\ny A 1.2.3.4\n"
    assert lex(source) == [
        (1, False, ["x"], None),
        (2, False, ["@", "SOA", "ns", "host", "1", "2", "3", "4", "5"], None),
        (6, False, ["y", "A", "1.2.3.4"], None),
    ]


def test_comment_inside_parentheses_may_hold_parenthesis_and_quote():
    assert lex('a TXT ( "x" ; a ) and a " here\n "y" )\n') == [
        (1, False, ["a", "TXT", '"x"', '"y"'], None)]


def test_nested_parentheses():
    assert lex("a TXT ((x) y)\n") == [(1, False, ["a", "TXT", "x", "y"], None)]


def test_quoted_string_is_one_token_with_its_quotes_and_escapes():
    assert lex('a TXT "hello world" "semi;colon (paren)" "q\\"uote"\n') == [
        (1, False, ["a", "TXT", '"hello world"', '"semi;colon (paren)"', '"q\\"uote"'], None)]


def test_escapes_stay_in_words():
    assert lex("a\\.b\\032c TXT x\\;y\\(z\n") == [(1, False, ["a\\.b\\032c", "TXT", "x\\;y\\(z"],
                                                  None)]


def test_quote_after_the_first_character_is_part_of_the_word():
    assert lex('h HTTPS 1 . alpn="h2,h3"\n') == [
        (1, False, ["h", "HTTPS", "1", ".", 'alpn="h2,h3"'], None)]


def test_crlf_line_ends():
    assert lex("a A 1.2.3.4\r\nb TXT \"x\"\r\n") == [
        (1, False, ["a", "A", "1.2.3.4"], None), (2, False, ["b", "TXT", '"x"'], None)]


def test_non_ascii_octets_are_token_characters():
    assert lex("caf\xc3\xa9 A 1.2.3.4\n") == [(1, False, ["caf\xc3\xa9", "A", "1.2.3.4"], None)]


def test_unterminated_quote_is_an_error_at_the_record_line():
    out = lex('a TXT (\n "abc\n )\nb A 1.2.3.4\n')
    assert out[0][0] == 1 and out[0][3] == "quoted string not closed on its line"
    assert out[1] == (4, False, ["b", "A", "1.2.3.4"], None)


def test_close_without_open_is_an_error():
    assert lex("a A 1.2.3.4 )\n")[0][3] == "')' without '('"


def test_open_without_close_is_an_error_at_the_line_it_opened():
    out = lex("a A 1.2.3.4\nb TXT ( x\ny\n")
    assert out[-1][0] == 2 and out[-1][3] == "'(' not closed before the end of the file"


def test_backslash_at_end_of_line_is_an_error():
    assert lex("a TXT x\\\n")[0][3] == "backslash at the end of a line"


# -- names ------------------------------------------------------------------------------------

def test_absolute_name():
    assert text.name("www.example.com.", None) == b"\x03www\x07example\x03com\x00"


def test_relative_name_gets_the_origin():
    assert text.name("www", ORIGIN) == b"\x03www" + ORIGIN


def test_at_is_the_origin():
    assert text.name("@", ORIGIN) == ORIGIN


def test_root():
    assert text.name(".", ORIGIN) == b"\x00"


def test_case_is_kept():
    assert text.name("WwW", ORIGIN) == b"\x03WwW" + ORIGIN


def test_escaped_dot_is_inside_a_label():
    assert text.name("a\\.b.example.com.", None) == b"\x03a.b\x07example\x03com\x00"


def test_decimal_escape_is_one_octet():
    assert text.name("a\\032b\\255", ORIGIN) == b"\x04a b\xff" + ORIGIN


def test_character_escape_is_that_character():
    assert text.name("\\@\\;x", ORIGIN) == b"\x03@;x" + ORIGIN


def test_escaped_final_dot_keeps_the_name_relative():
    assert text.name("a\\.", ORIGIN) == b"\x02a." + ORIGIN


def test_utf8_octets_are_kept():
    assert text.name("caf\xc3\xa9.", None) == b"\x05caf\xc3\xa9\x00"


@pytest.mark.parametrize("token", ["a..b.", ".a.", "a..", "a\\..."])
def test_empty_label_is_refused(token):
    with pytest.raises(BadName, match="empty label"):
        text.name(token, ORIGIN)


@pytest.mark.parametrize("token", ["a\\256.", "a\\12x.", "a\\1."])
def test_bad_escape_is_refused(token):
    with pytest.raises(BadName):
        text.name(token, ORIGIN)


def test_label_of_63_is_fine_and_64_is_too_long():
    assert len(text.name("a" * 63 + ".", None)) == 65
    with pytest.raises(LabelTooLong):
        text.name("a" * 64 + ".", None)
    with pytest.raises(LabelTooLong):
        text.name("a\\046" * 32 + ".", None)


def test_name_of_255_is_fine_and_256_is_too_long():
    four = ".".join(["a" * 63] * 3 + ["b" * 61]) + "."
    assert len(text.name(four, None)) == 255
    with pytest.raises(NameTooLong):
        text.name("c." + four, None)


def test_name_made_too_long_by_the_origin():
    origin = text.name(".".join(["a" * 63] * 3) + ".", None)
    assert len(text.name("b" * 61, origin)) == 255
    with pytest.raises(NameTooLong):
        text.name("b" * 62, origin)
    with pytest.raises(NameTooLong):
        text.name("\\098" * 62, origin)


def test_relative_name_without_origin_is_refused():
    with pytest.raises(NoOrigin):
        text.name("www", None)
    with pytest.raises(NoOrigin):
        text.name("@", None)


# -- character-strings ------------------------------------------------------------------------

def test_quoted_string_loses_its_quotes():
    assert text.charstring('"hello world"') == b"hello world"


def test_unquoted_string():
    assert text.charstring("hello") == b"hello"


def test_string_escapes():
    assert text.charstring('"a\\"b\\\\c\\065\\255"') == b'a"b\\cA\xff'


def test_empty_string():
    assert text.charstring('""') == b""


def test_string_of_255_is_fine_and_256_is_too_long():
    assert len(text.charstring('"%s"' % ("x" * 255))) == 255
    with pytest.raises(BadRdata, match="over 255"):
        text.charstring('"%s"' % ("x" * 256))


def test_bad_string_escape():
    with pytest.raises(BadRdata):
        text.charstring('"a\\300"')


# -- TTLs and numbers -------------------------------------------------------------------------

@pytest.mark.parametrize("token,seconds", [
    ("0", 0), ("3600", 3600), ("1s", 1), ("2m", 120), ("3h", 10800), ("4d", 345600),
    ("1w", 604800), ("1W2D3H4M5S", 788645), ("1w2d3h4m5s", 788645), ("1h30m", 5400),
    ("2147483647", 2**31 - 1), ("0010", 10),
])
def test_ttl_forms(token, seconds):
    assert text.ttl(token) == seconds


@pytest.mark.parametrize("token", ["2147483648", "4294967295", "3551w", "9" * 100])
def test_ttl_over_2_31_is_refused(token):
    with pytest.raises(BadTTL, match="over 2147483647"):
        text.ttl(token)


@pytest.mark.parametrize("token", ["1x", "h", "1h30", "-1", "1.5", "+5", "5_0", "1hh", "\xb2"])
def test_ttl_garbage_is_refused(token):
    with pytest.raises(BadTTL):
        text.ttl(token)


def test_number_range():
    assert text.number("65535", 16) == 65535
    with pytest.raises(BadRdata):
        text.number("65536", 16)
    with pytest.raises(BadRdata):
        text.number("+1", 16)
