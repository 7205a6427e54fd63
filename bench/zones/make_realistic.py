"""Write ``realistic.test.zone``: a company's zone as it might look, the same bytes every run.

``python bench/zones/make_realistic.py [-o FILE]`` (default: ``realistic.test.zone`` beside this
script). The content, all under ``realistic.test.`` with ``$TTL 3600``:

- apex: SOA, three NS (``ns1`` and ``ns2`` in the zone with A and AAAA, one out of the zone),
  A, AAAA, two MX, TXT (SPF and a site-verification string), CAA;
- 300 hosts with an A record (a few with several), about 40% also with AAAA, some with TXT:
  service names (``www``, ``vpn``, ``api``, ``cdn``, ...), ``ENV-ROLE-N`` (``prod-web-3``,
  ``dev-db-1``), ``host-NNN``, and a few under ``corp`` (an empty non-terminal);
- mail: ``mx1``-``mx3``, ``smtp``, ``imap``, ... , MX at ``lists``, ``support``, ``newsletter``,
  DKIM keys at ``selectorN._domainkey`` (``_domainkey`` is an empty non-terminal), ``_dmarc``,
  ``_mta-sts``, ``_smtp._tls``;
- 40 CNAMEs: 28 to hosts of the zone, 12 to names elsewhere (SaaS-style targets under
  ``example.``, RFC 2606);
- SRV records (``_sip._tcp``, ``_xmpp-server._tcp``, ``_kerberos._udp``, ...);
- one wildcard, ``*.apps`` with A and TXT, beside an ordinary ``console.apps``;
- six delegations: ``eu`` (with DS), ``us``, ``asia``, ``lab``, ``k8s`` have two in-bailiwick
  name servers with glue (A, and AAAA for most); ``partners`` has out-of-bailiwick servers only.

Addresses lie only in 198.18.0.0/15 and 2001:2::/48 (RFC 2544, RFC 5180). No DNAME (the
appliance refuses it). Everything random is drawn from ``random.Random(SEED)``.
"""

import argparse
import base64
import os
import random
import sys

SEED = 20261201
ORIGIN = "realistic.test."
HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "realistic.test.zone")
HOSTS = 300
COL = 24                                # owner column width

# Service hosts; ``*`` marks one with two A records (load-balanced front ends).
SERVICES = (
    "www*", "api*", "cdn*", "static", "assets", "img", "vpn", "vpn2", "portal", "intranet",
    "wiki", "git", "ci", "jira", "confluence", "grafana", "prometheus", "kibana", "sso", "auth",
    "login", "ldap", "radius", "ntp1", "ntp2", "proxy", "gw", "fw1", "fw2", "backup", "files",
    "sftp", "monitor", "crm", "erp", "hr", "app*", "dashboard", "sip1", "sip2", "xmpp",
    "kdc1", "kdc2", "calendar", "chat", "meet", "registry", "s3", "vault", "search",
)
MAIL_HOSTS = ("mx1", "mx2", "mx3", "smtp", "smtp-out", "imap", "pop3", "webmail",
              "autoconfig", "mta-sts")
MAIL_DOMAINS = (("lists", "mx1"), ("support", "mx2"), ("newsletter", "mx3"))
ENVS = (("prod", 6), ("stage", 3), ("dev", 2))
ROLES = ("web", "app", "db", "cache", "queue")
CORP = ("dc1", "dc2", "nas", "printer-1", "printer-2", "wifi-ctrl", "voip-gw", "badge")
TXT_NOTES = ("owner=platform-team", "owner=web-team", "owner=data-team", "owner=it-ops",
             "decommission=2027-06", "ticket=OPS-%d", "rack=B%d")
EXTERNAL_CNAMES = (
    ("status", "status.statuspage-host.example."),
    ("autodiscover", "autodiscover.mail-provider.example."),
    ("helpdesk", "realistic.helpdesk-saas.example."),
    ("shop", "shops.storefront.example."),
    ("careers", "realistic-test.jobs-board.example."),
    ("events", "custom.event-platform.example."),
    ("mailchimp._domainkey", "dkim.mcsv.example."),
    ("em4821", "u4821.wl.sendgrid-like.example."),
    ("go", "links.shortener.example."),
    ("cdn-edge", "realistic-test.edge-cdn.example."),
    ("docs-public", "realistic.docs-host.example."),
    ("survey", "realistic.survey-tool.example."),
)
IN_ZONE_CNAMES = ("ftp", "blog", "docs", "help", "m", "www2", "web", "mobile", "downloads",
                  "media", "images", "cloud", "remote", "owa", "mail", "email", "calendar2",
                  "git2", "code", "builds", "metrics", "logs", "alerts", "id", "account",
                  "partners-portal", "kb", "news")
SRV = (
    ("_sip._tcp", 10, 60, 5060, ("sip1", "sip2")),
    ("_sip._udp", 10, 60, 5060, ("sip1", "sip2")),
    ("_sips._tcp", 10, 100, 5061, ("sip1",)),
    ("_xmpp-client._tcp", 5, 0, 5222, ("xmpp",)),
    ("_xmpp-server._tcp", 5, 0, 5269, ("xmpp",)),
    ("_ldap._tcp", 0, 100, 389, ("ldap",)),
    ("_kerberos._udp", 0, 100, 88, ("kdc1", "kdc2")),
    ("_kerberos._tcp", 0, 100, 88, ("kdc1", "kdc2")),
    ("_imaps._tcp", 0, 1, 993, ("imap",)),
    ("_submission._tcp", 0, 1, 587, ("smtp",)),
    ("_caldavs._tcp", 0, 1, 443, ("calendar",)),
)
# (name, glue: "a" A only, "a+aaaa" both, None out-of-bailiwick servers only, DS?)
DELEGATIONS = (("eu", "a+aaaa", True), ("us", "a+aaaa", False), ("asia", "a+aaaa", False),
               ("lab", "a", False), ("k8s", "a+aaaa", False), ("partners", None, False))


class Writer:
    """Zone lines with the owner in a fixed column; an owner is written once per group."""

    def __init__(self):
        self.lines: list[str] = []
        self.last = None

    def comment(self, text: str):
        self.lines.append("\n; %s" % text)
        self.last = None

    def rr(self, owner: str, rtype: str, rdata: str, ttl: int | None = None):
        shown = "" if owner == self.last else owner
        self.last = owner
        ttl_text = "%-6d" % ttl if ttl else "      "
        self.lines.append("%-*s %s IN  %-5s %s" % (COL, shown, ttl_text, rtype, rdata))

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


class Addresses:
    """Distinct addresses from 198.18.0.0/15 and 2001:2::/48, drawn per subnet."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.used4: set[int] = set()
        self.used6: set[int] = set()

    def v4(self, subnet: int) -> str:
        """A free address in 198.18.0.0/15's /24 number ``subnet`` (0..511), host 10-250."""
        while True:
            n = (subnet << 8) | self.rng.randint(10, 250)
            if n not in self.used4:
                self.used4.add(n)
                return "198.%d.%d.%d" % (18 + (n >> 16), (n >> 8) & 0xFF, n & 0xFF)

    def v6(self, subnet: int) -> str:
        """A free address in 2001:2:0:SUBNET::/64."""
        while True:
            n = self.rng.randint(0x10, 0xFFFF)
            if (subnet, n) not in self.used6:
                self.used6.add((subnet, n))
                return "2001:2:0:%x::%x" % (subnet, n)


def _b64(rng: random.Random, nbytes: int, urlsafe=False) -> str:
    raw = bytes(rng.getrandbits(8) for _ in range(nbytes))
    return (base64.urlsafe_b64encode(raw).rstrip(b"=") if urlsafe
            else base64.b64encode(raw)).decode("ascii")


def _strings(text: str, size: int = 255) -> str:
    """A TXT value as quoted character-strings of at most ``size`` octets each."""
    return " ".join('"%s"' % text[i:i + size] for i in range(0, len(text), size))


def host_names() -> list[tuple[str, int]]:
    """The 300 hosts as (relative name, number of A records), in zone order."""
    out = [(s.rstrip("*"), 2 if s.endswith("*") else 1) for s in SERVICES]
    out += [(m, 1) for m in MAIL_HOSTS] + [(d, 1) for d, _ in MAIL_DOMAINS]
    out += [("%s.corp" % c, 1) for c in CORP]
    for env, n in ENVS:
        for role in ROLES:
            out += [("%s-%s-%d" % (env, role, i), 1) for i in range(1, n + 1)]
    i = 0
    while len(out) < HOSTS:
        out.append(("host-%03d" % i, 1))
        i += 1
    return out


def generate(seed: int = SEED) -> str:
    """The zone text."""
    rng = random.Random(seed)
    addr = Addresses(rng)
    w = Writer()
    w.lines += [
        "; realistic.test: a company's zone for the benchmarks (bench/zones/make_realistic.py,",
        "; seed %d; regenerate rather than edit). Addresses: 198.18.0.0/15, 2001:2::/48 only."
        % seed,
        "$ORIGIN %s" % ORIGIN,
        "$TTL 3600",
    ]
    w.comment("apex")
    w.rr("@", "SOA", "ns1.%s hostmaster.%s 2026120101 7200 3600 1209600 300" % (ORIGIN, ORIGIN))
    for ns in ("ns1", "ns2", "ns.dns-provider.example."):
        w.rr("@", "NS", ns, 86400)
    w.rr("@", "A", "198.18.0.10", 300)
    w.rr("@", "AAAA", "2001:2::10", 300)
    w.rr("@", "MX", "10 mx1")
    w.rr("@", "MX", "20 mx2")
    w.rr("@", "TXT", '"v=spf1 ip4:198.18.0.0/24 ip6:2001:2::/64 mx include:_spf.mail-provider'
         '.example -all"')
    w.rr("@", "TXT", '"site-verification=%s"' % _b64(rng, 32, urlsafe=True))
    w.rr("@", "CAA", '0 issue "ca.example"')
    w.rr("@", "CAA", '0 issuewild ";"')
    w.rr("@", "CAA", '0 iodef "mailto:security@realistic.test"')
    w.rr("ns1", "A", "198.18.0.53", 86400)
    w.rr("ns1", "AAAA", "2001:2::53", 86400)
    w.rr("ns2", "A", "198.18.1.53", 86400)
    w.rr("ns2", "AAAA", "2001:2:0:1::53", 86400)

    w.comment("hosts")
    hosts = host_names()
    services = {s.rstrip("*") for s in SERVICES} | set(MAIL_HOSTS)
    for i, (name, n_a) in enumerate(hosts):
        subnet = 2 + i // 40                       # 40 hosts per /24 and per /64
        ttl = 300 if n_a > 1 else None
        for _ in range(n_a):
            w.rr(name, "A", addr.v4(subnet), ttl)
        if n_a > 1 or rng.random() < (0.7 if name in services else 0.3):
            w.rr(name, "AAAA", addr.v6(subnet), ttl)
        if rng.random() < 0.06:
            note = rng.choice(TXT_NOTES)
            if "%d" in note:
                note %= rng.randint(100, 9999)
            w.rr(name, "TXT", '"%s"' % note)

    w.comment("mail")
    for domain, mx in MAIL_DOMAINS:
        w.rr(domain, "MX", "10 %s" % mx)
        w.rr(domain, "MX", "20 mx3" if mx != "mx3" else "20 mx1")
    w.rr("newsletter", "TXT", '"v=spf1 ip4:198.18.3.0/24 -all"')
    for sel in ("selector1", "selector2"):
        key = "v=DKIM1; k=rsa; p=" + _b64(rng, 294)     # a 2048-bit RSA public key's size
        w.rr("%s._domainkey" % sel, "TXT", _strings(key))
    w.rr("_dmarc", "TXT", '"v=DMARC1; p=quarantine; pct=100; rua=mailto:dmarc@realistic.test; '
         'ruf=mailto:dmarc-forensic@realistic.test; fo=1"')
    w.rr("_mta-sts", "TXT", '"v=STSv1; id=20261201T000000"')
    w.rr("_smtp._tls", "TXT", '"v=TLSRPTv1; rua=mailto:tlsrpt@realistic.test"')

    w.comment("aliases")
    targets = [h for h, _ in hosts if "." not in h]
    for name in IN_ZONE_CNAMES:
        w.rr(name, "CNAME", rng.choice(targets))
    for name, target in EXTERNAL_CNAMES:
        w.rr(name, "CNAME", target)

    w.comment("services")
    for owner, prio, weight, port, servers in SRV:
        for s in servers:
            w.rr(owner, "SRV", "%d %d %d %s" % (prio, weight, port, s))

    w.comment("the application platform: every other name below apps is synthesised")
    w.rr("*.apps", "A", "198.18.200.10", 300)
    w.rr("*.apps", "TXT", '"v=app-router; cluster=apps-1"', 300)
    w.rr("console.apps", "A", "198.18.200.11", 300)

    w.comment("delegations")
    for k, (cut, glue, ds) in enumerate(DELEGATIONS):
        if glue is None:
            servers = ["ns1.partner-dns.example.", "ns2.partner-dns.example."]
        else:
            servers = ["ns1.%s" % cut, "ns2.%s" % cut]
        for s in servers:
            w.rr(cut, "NS", s, 86400)
        if ds:
            digest = "".join("%02X" % rng.getrandbits(8) for _ in range(32))
            w.rr(cut, "DS", "%d 13 2 %s" % (rng.randint(1, 65535), digest), 86400)
        if glue is None:
            continue
        for j, s in enumerate(servers):
            w.rr(s, "A", "198.18.%d.%d" % (250 + k, 53 + j), 86400)
            if glue == "a+aaaa":
                w.rr(s, "AAAA", "2001:2:0:%x::%x" % (0xfa + k, 0x53 + j), 86400)
    return w.text()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("-o", "--output", default=DEFAULT_OUT, metavar="FILE")
    p.add_argument("--seed", type=int, default=SEED)
    args = p.parse_args(argv)
    text = generate(args.seed)
    with open(args.output, "w", encoding="ascii", newline="\n") as f:
        f.write(text)
    print("wrote %s: %d lines" % (args.output, text.count("\n")), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
