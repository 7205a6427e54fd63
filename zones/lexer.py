"""Split master-file text into records: lists of raw tokens (RFC 1035 5.1).

A record is one line, or several joined by parentheses. Tokens keep their escapes (a name needs
them to tell ``a\\.b`` from ``a.b``); a quoted string is one token that still starts and ends with
its ``"``. Parentheses and ``;`` comments are consumed here. Whitespace is space, tab and CR.

Each record is reported at the line where it starts, and so is any problem found in it: one rule
for every message, whether the record spans one line or ten.

Most lines of a large zone hold nothing but plain words; those are split with ``str.split`` and
only lines holding a quote, parenthesis, semicolon, backslash or a control or non-ASCII octet go
through the regular expression. (Everything ``str.split`` treats as whitespace other than space,
tab and CR counts as special, so both paths split the same way.)
"""

import re

# printable ASCII except " ( ) ; \ , plus tab and CR: the characters a plain line is made of
_SPECIAL = re.compile(r"[^\t\r !#-'*-:<-\[\]-~]")

# Alternatives start with disjoint characters, so the scan never backtracks more than linearly.
_TOKEN = re.compile(r"""
    (?P<ws>[ \t\r]+)
  | (?P<comment>;.*)
  | (?P<quoted>"(?:[^"\\]|\\.)*")
  | (?P<open>\()
  | (?P<close>\))
  | (?P<word>(?:[^ \t\r"();\\]|\\.)(?:[^ \t\r();\\]|\\.)*)
  | (?P<badquote>")
  | (?P<badescape>\\)
""", re.X | re.S)


def records(text: str):
    """Yield ``(line, owner_blank, tokens, error)`` for each record in ``text``.

    ``owner_blank`` is true when the record's first line starts with a space or tab (the owner is
    the previous one). ``error`` is None, or a message saying why the record cannot be used; its
    tokens are then incomplete.
    """
    special = _SPECIAL.search
    depth = 0
    tokens = None
    start = 0
    blank = False
    error = None
    lineno = 0
    for line in text.split("\n"):
        lineno += 1
        if depth == 0:
            if special(line) is None:
                words = line.split()
                if words:
                    yield lineno, line[0] in " \t", words, None
                continue
            tokens = []
            start = lineno
            blank = line[:1] in (" ", "\t")
            error = None
        for m in _TOKEN.finditer(line):
            kind = m.lastgroup
            if kind == "word" or kind == "quoted":
                tokens.append(m.group())
            elif kind == "open":
                depth += 1
            elif kind == "close":
                if depth:
                    depth -= 1
                elif error is None:
                    error = "')' without '('"
            elif kind == "badquote":
                if error is None:
                    error = "quoted string not closed on its line"
                break
            elif kind == "badescape":
                if error is None:
                    error = "backslash at the end of a line"
        if depth == 0 and (tokens or error):
            yield start, blank, tokens, error
            tokens = None
    if depth:
        yield start, blank, tokens, "'(' not closed before the end of the file"
