"""Query files for the load generators: ``name TYPE`` per line (queryperf format, as dnsperf
and kxdpgun read it), with a stated mix of answer kinds, the same lines for the same seed.

The mix (``MIX``), each query's kind decided from the zone's content, not from name patterns:

========== ===== ==========================================================================
positive    70%  the name exists and has the type (or is a CNAME owner: A and AAAA only)
nodata      10%  the name exists (empty non-terminals included) but has not the type
nxdomain    10%  the name does not exist and no wildcard covers it
wildcard     5%  the name does not exist and ``*.<closest encloser>`` has the type
referral     5%  the name is a zone cut (NS below the apex) or lies below one
========== ===== ==========================================================================

Within a kind, the qtypes follow ``QTYPE_WEIGHTS`` (A, AAAA, MX, TXT, NS, SOA), renormalised
over the types that kind can have in the zone (positive NS and SOA exist only at the apex; the
wildcards of both bench zones hold A and TXT only, so wildcard queries are 80% A, 20% TXT).
The counts are exact, not drawn: ``count`` is split by MIX, each kind's share by its qtype
weights (largest remainders), so a file holds the stated mix to within one query per cell
(``expected_mix``; for the realistic zone overall: A 47.5%, AAAA 26.75%, MX 8%, TXT 9.75%,
NS 4%, SOA 4%). Only the names are random (seeded): positive and nodata ones uniformly among
the zone's names of that kind and type; nxdomain ones made-up labels under the apex (60%) or
under an existing name; wildcard ones one or two made-up labels under a wildcard's parent;
referral ones a made-up label below a cut (60%), or a cut or a name below one (glue). Every
proposed name is checked by ``ZoneIndex.classify`` and kept only if it is of the kind wanted.
The lines are shuffled.

``python -m bench.queries ZONE ORIGIN COUNT -o FILE [--seed N]``
"""

import argparse
import json
import random
import sys
from array import array

import zones
from zones import names

SEED = 20261202
MIX = {"positive": 0.70, "nodata": 0.10, "nxdomain": 0.10, "wildcard": 0.05, "referral": 0.05}
QTYPES = ("A", "AAAA", "MX", "TXT", "NS", "SOA")
QTYPE_WEIGHTS = {
    "positive": {"A": 50, "AAAA": 25, "MX": 8, "TXT": 9, "NS": 4, "SOA": 4},
    "nodata": {"A": 10, "AAAA": 50, "MX": 15, "TXT": 15, "NS": 5, "SOA": 5},
    "nxdomain": {"A": 50, "AAAA": 30, "MX": 5, "TXT": 5, "NS": 5, "SOA": 5},
    "wildcard": {"A": 60, "AAAA": 20, "MX": 5, "TXT": 15, "NS": 0, "SOA": 0},
    "referral": {"A": 50, "AAAA": 25, "MX": 8, "TXT": 9, "NS": 4, "SOA": 4},
}
TYPE_CODES = {"A": 1, "NS": 2, "SOA": 6, "MX": 15, "TXT": 16, "AAAA": 28}
TYPE_CNAME = 5
# Bits per name: one per qtype, then:
TYPE_BIT = {t: 1 << i for i, t in enumerate(QTYPES)}
CNAME = 1 << 6          # a CNAME owner
CUT = 1 << 7            # NS below the apex: a delegation point
BELOW = 1 << 8          # at or below a cut (answers are referrals)
WILD = 1 << 9           # a wildcard owner, or below one ("*" label somewhere)
WORDS = ("web", "mail", "shop", "test", "stage", "old", "new", "backup", "admin", "portal",
         "vpn", "dev", "beta", "api", "static", "files", "secure", "cloud", "remote", "login")
MAX_TRIES = 50          # proposals per wanted query before giving up on a kind


class ZoneIndex:
    """What each name of a zone holds, enough to classify any query in it.

    ``names`` are lower-cased wire names (owners and empty non-terminals), ``bits`` their flags.
    Only names and flags are kept, not the records. For the 1M-record zone of bench/genzone.py:
    load 7.7 s, index 1.9 s, about 100 MB for the index; the peak (~780 MB) is the load itself.
    """

    def __init__(self, zone):
        self.origin = names.key(zone.origin)
        self.names: list[bytes] = []
        self.index: dict[bytes, int] = {}
        bits = array("H")
        for (k, t) in zone.rrsets:
            i = self.index.get(k)
            if i is None:
                i = self.index[k] = len(self.names)
                self.names.append(k)
                bits.append(0)
            if t == TYPE_CNAME:
                bits[i] |= CNAME
            elif t == TYPE_CODES["NS"] and k != self.origin:
                bits[i] |= CUT
            for q, code in TYPE_CODES.items():
                if t == code:
                    bits[i] |= TYPE_BIT[q]
        self.ents = 0
        for k in list(self.names):            # empty non-terminals: missing ancestors
            p = names.parent(k)
            while k != self.origin and p != self.origin and p not in self.index:
                self.index[p] = len(self.names)
                self.names.append(p)
                bits.append(0)
                self.ents += 1
                p = names.parent(p)
        for i, k in enumerate(self.names):
            for s in self._ancestry(k):
                j = self.index[s]
                if bits[j] & CUT:
                    bits[i] |= BELOW
                if s[:2] == b"\x01*":
                    bits[i] |= WILD
        self.bits = bits

    @classmethod
    def load(cls, path: str, origin: str | None = None) -> "ZoneIndex":
        return cls(zones.load(path, origin))

    def _ancestry(self, k: bytes):
        """``k`` and its ancestors strictly below the origin (all are names of the zone)."""
        while k != self.origin:
            yield k
            k = k[1 + k[0]:]

    def shape(self) -> dict:
        b = self.bits
        return {"names": len(self.names), "empty_non_terminals": self.ents,
                "cuts": sum(1 for x in b if x & CUT),
                "wildcards": sum(1 for k in self.names if k[:2] == b"\x01*")}

    def classify(self, qname: bytes, qtype: str) -> str:
        """The kind of answer ``qname``/``qtype`` gets (RFC 1034 4.3.2, RFC 4592): one of
        MIX's kinds, or "wildcard-nodata". ``qname`` is a lower-cased wire name in the zone."""
        for s in self._ancestry(qname):
            j = self.index.get(s)
            if j is not None and self.bits[j] & CUT:
                return "referral"
        i = self.index.get(qname)
        if i is not None:
            b = self.bits[i]
            return "positive" if b & (TYPE_BIT[qtype] | CNAME) else "nodata"
        ce = names.parent(qname)
        while ce not in self.index and ce != self.origin:
            ce = names.parent(ce)
        w = self.index.get(b"\x01*" + ce)
        if w is None:
            return "nxdomain"
        return "wildcard" if self.bits[w] & (TYPE_BIT[qtype] | CNAME) else "wildcard-nodata"

    def select(self, keep) -> array:
        """Indices of the names whose bits satisfy ``keep(bits, name)``."""
        return array("I", (i for i, b in enumerate(self.bits) if keep(b, self.names[i])))


class Maker:
    """Draws queries of each kind from a ZoneIndex."""

    def __init__(self, zx: ZoneIndex, rng: random.Random):
        self.zx, self.rng = zx, rng
        self._pools: dict = {}

    def pool(self, kind: str, qtype: str) -> array:
        """The names a positive or nodata query of this type may ask for (cached)."""
        key = (kind, qtype)
        if key not in self._pools:
            tb = TYPE_BIT[qtype]
            ok = tb | CNAME if qtype in ("A", "AAAA") else tb
            if kind == "positive":
                self._pools[key] = self.zx.select(lambda b, k: not b & (BELOW | WILD) and b & ok)
            else:
                self._pools[key] = self.zx.select(
                    lambda b, k: not b & (BELOW | WILD | CNAME | tb))
        return self._pools[key]

    def allowed(self, kind: str) -> list[str]:
        """The qtypes a query of this kind can have in this zone (weight > 0 and a name)."""
        key = ("allowed", kind)
        if key not in self._pools:
            types = [t for t in QTYPES if QTYPE_WEIGHTS[kind][t]]
            if kind in ("positive", "nodata"):
                types = [t for t in types if len(self.pool(kind, t))]
            elif kind == "wildcard":
                types = [t for t in types if any(b & TYPE_BIT[t] for _, b in self.wildcards())]
            if not types:
                raise ValueError("the zone has no name for a %s query" % kind)
            self._pools[key] = types
        return self._pools[key]

    def weights(self, kind: str) -> dict[str, float]:
        """The share of each qtype within a kind: QTYPE_WEIGHTS over the allowed types."""
        w = QTYPE_WEIGHTS[kind]
        types = self.allowed(kind)
        total = sum(w[t] for t in types)
        return {t: (w[t] / total if t in types else 0.0) for t in QTYPES}

    def label(self) -> bytes:
        r = self.rng
        if r.random() < 0.5:
            s = "%s%d" % (r.choice(WORDS), r.randrange(1000))
        else:
            s = "%08x" % r.getrandbits(32)
        return bytes([len(s)]) + s.encode("ascii")

    def any_name(self) -> bytes:
        return self.zx.names[self.rng.randrange(len(self.zx.names))]

    def propose(self, kind: str, q: str) -> bytes:
        """A name that should get a ``kind`` answer to qtype ``q`` (``make`` checks it)."""
        zx, r = self.zx, self.rng
        if kind in ("positive", "nodata"):
            p = self.pool(kind, q)
            return zx.names[p[r.randrange(len(p))]]
        if kind == "nxdomain":
            under = zx.origin if r.random() < 0.6 else self.any_name()
            if zx.bits[zx.index[under]] & WILD:
                under = zx.origin
            return self.label() + under
        if kind == "wildcard":
            parent = r.choice([k for k, b in self.wildcards() if b & TYPE_BIT[q]])
            extra = self.label() if r.random() < 0.2 else b""
            return extra + self.label() + parent
        if kind == "referral":
            below = self.below()
            if not below:
                raise ValueError("the zone has no delegation")
            cut = zx.names[below[r.randrange(len(below))]]
            if r.random() < 0.6:
                while not zx.bits[zx.index[cut]] & CUT:
                    cut = names.parent(cut)
                return self.label() + cut
            return cut
        raise ValueError("unknown kind %r" % kind)

    def wildcards(self) -> list[tuple[bytes, int]]:
        if "wild" not in self._pools:
            zx = self.zx
            self._pools["wild"] = [(k[2:], zx.bits[i]) for i, k in enumerate(zx.names)
                                   if k[:2] == b"\x01*" and not zx.bits[i] & BELOW]
            if not self._pools["wild"]:
                raise ValueError("the zone has no wildcard")
        return self._pools["wild"]

    def below(self) -> array:
        if "below" not in self._pools:
            self._pools["below"] = self.zx.select(lambda b, k: b & BELOW)
        return self._pools["below"]

    def make(self, kind: str, n: int) -> list[tuple[bytes, str]]:
        """``n`` queries of ``kind``, each qtype ``quotas(n, weights(kind))`` times."""
        out = []
        for q, m in quotas(n, self.weights(kind)).items():
            tries, limit = 0, MAX_TRIES * m + 100
            while m:
                tries += 1
                if tries > limit:
                    raise ValueError("could not make %s queries of type %s in this zone"
                                     % (kind, q))
                qname = self.propose(kind, q)
                if len(qname) <= names.MAX_NAME and self.zx.classify(qname, q) == kind:
                    out.append((qname, q))
                    m -= 1
        return out


def quotas(n: int, shares: dict[str, float]) -> dict[str, int]:
    """``n`` split by ``shares`` (summing to 1), largest remainders first: the sum is ``n``."""
    exact = {k: n * s for k, s in shares.items()}
    out = {k: int(v) for k, v in exact.items()}
    rest = sorted(shares, key=lambda k: (out[k] - exact[k], list(shares).index(k)))
    for k in rest[:n - sum(out.values())]:
        out[k] += 1
    return out


def targets(count: int) -> dict[str, int]:
    """Queries per kind: ``count`` split by MIX (largest remainders)."""
    return quotas(count, MIX)


def make_queries(zx: ZoneIndex, count: int, seed: int = SEED) -> list[tuple[str, str, str]]:
    """``count`` queries as (name text, qtype, kind), shuffled."""
    rng = random.Random(seed)
    maker = Maker(zx, rng)
    out = []
    for kind, n in targets(count).items():
        if n:
            out += [(names.to_text(q), t, kind) for q, t in maker.make(kind, n)]
    rng.shuffle(out)
    return out


def expected_mix(zx: ZoneIndex) -> dict:
    """The stated mix for this zone: shares per kind (MIX), per qtype within each kind
    (``Maker.weights``) and per qtype overall."""
    m = Maker(zx, random.Random(0))
    within = {k: m.weights(k) for k in MIX}
    overall = {t: sum(MIX[k] * within[k][t] for k in MIX) for t in QTYPES}
    return {"categories": dict(MIX), "qtypes": overall, "by_category": within}


def summary(queries, seed: int) -> dict:
    """The achieved mix: counts per kind, per qtype and per kind and qtype."""
    kinds = {k: 0 for k in MIX}
    qtypes = {t: 0 for t in QTYPES}
    both = {k: {t: 0 for t in QTYPES} for k in MIX}
    for _, t, k in queries:
        kinds[k] += 1
        qtypes[t] += 1
        both[k][t] += 1
    return {"count": len(queries), "seed": seed, "mix": dict(MIX), "categories": kinds,
            "qtypes": qtypes, "by_category": both}


def write_queries(path: str, zone_path: str, origin: str | None, count: int,
                  seed: int = SEED) -> dict:
    """Write ``count`` queries for the zone at ``zone_path`` to ``path``; the achieved mix
    (``summary``), with the zone's ``shape`` and the paths."""
    zx = ZoneIndex.load(zone_path, origin)
    queries = make_queries(zx, count, seed)
    with open(path, "w", encoding="ascii", newline="\n") as f:
        f.write("".join("%s %s\n" % (name, t) for name, t, _ in queries))
    result = summary(queries, seed)
    result.update(zone=zone_path, origin=names.to_text(zx.origin), path=path, shape=zx.shape(),
                  expected=expected_mix(zx))
    return result


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.queries",
                                description=__doc__.split("\n")[0])
    p.add_argument("zone", metavar="ZONE")
    p.add_argument("origin", metavar="ORIGIN")
    p.add_argument("count", metavar="COUNT", type=int)
    p.add_argument("-o", "--output", required=True, metavar="FILE")
    p.add_argument("--seed", type=int, default=SEED)
    args = p.parse_args(argv)
    try:
        result = write_queries(args.output, args.zone, args.origin, args.count, args.seed)
    except (ValueError, zones.ZoneError) as e:
        print("bench.queries: %s" % e, file=sys.stderr)
        return 1
    json.dump(result, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
