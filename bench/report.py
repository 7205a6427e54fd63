"""The benchmark's results as a reader sees them: markdown tables and PNG charts.

Reads the JSON that ``make bench`` writes (bench/results/<date>-<host>.json, every round's raw
figures) and writes, beside it or into ``--outdir``:

- ``<stem>.md``: per zone, a table of medians per server, a table of ratios to each peer and to
  the harness ceiling; the footprint table; how the figures were taken and how to reproduce them.
- ``<stem>-qps-<zone>.png`` and ``<stem>-latency-<zone>.png``.

    .venv/bin/python -m bench.report bench/results/2026-11-27-host.json [--outdir DIR]

Any figure may be null (not measured) and any server may lack runs: such cells show "-" and the
reason is given once, in a note under the table.
"""

import argparse
import json
import math
import os
import statistics
import sys
import textwrap

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter

PEERS = ("nsd", "knot", "bind")
MISSING = "-"
NA = "n/a"
LOSS_FREE_PCT = 1.0     # "loss-free" in the harness means under 1% loss

# Where each per-run figure sits in a run record. Latency comes from the run's "latency"
# measurement (dnsperf at a fixed, moderate rate) when it has one: closed-loop latency at
# saturation measures the generator's queue more than the server.
METRICS = {
    "qps": ("dnsperf", "qps"),
    "loss": ("dnsperf", "loss_pct"),
    "lat_avg": ("dnsperf", "latency_avg_ms"),
    "lat_p99": ("dnsperf", "latency_p99_ms"),
    "lossfree": ("kxdpgun", "loss_free_qps"),
    "cpu_q": ("fixed", "cpu_us_per_query"),
    "sirq_q": ("fixed", "softirq_us_per_query"),
    "cpu_pct": ("fixed", "cpu_pct"),
    "fixed_loss": ("fixed", "loss_pct"),
    "rss": ("rss_kib",),
}
LATENCY = ("lat_avg", "lat_p99")

# Chart geometry: fixed, so that the same results give the same bytes.
FIGSIZE = (9.0, 4.8)
DPI = 100


def get(d, *path):
    """The value at ``path`` inside nested dicts, or None where any step is missing."""
    for key in path:
        if not isinstance(d, dict):
            return None
        d = d.get(key)
    return d


def text(v) -> str | None:
    """``v`` as text for the report, or None when it is null or empty."""
    return None if v is None or v == "" else str(v)


def as_dict(v) -> dict:
    return v if isinstance(v, dict) else {}


def as_list(v) -> list:
    return v if isinstance(v, list) else []


def number(v) -> float | None:
    """``v`` as a finite float, or None (null, missing, not a number, NaN)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    v = float(v)
    return v if math.isfinite(v) else None


def value(run: dict, metric: str, latency_run: bool = False):
    """One figure of one run, as a number or None; latency from the run's separate latency
    measurement when ``latency_run`` (the zone has them)."""
    path = METRICS[metric]
    if metric in LATENCY and latency_run:
        path = ("latency",) + path[1:]
    return number(get(run, *path))


class Stats:
    """The median, minimum and maximum of one figure over the rounds that measured it."""

    def __init__(self, values):
        self.values = [v for v in values if v is not None]
        self.n = len(self.values)
        self.median = statistics.median(self.values) if self.values else None
        self.min = min(self.values) if self.values else None
        self.max = max(self.values) if self.values else None


# ---- formatting -----------------------------------------------------------------------------

def fmt_int(v) -> str:
    return MISSING if v is None else f"{v:,.0f}"


def fmt_fixed(digits):
    return lambda v: MISSING if v is None else f"{v:,.{digits}f}"


def fmt_pct(digits=2):
    return lambda v: MISSING if v is None else f"{v:.{digits}f}%"


def fmt_kib(v) -> str:
    return MISSING if v is None else fmt_bytes(v * 1024)


def fmt_bytes(v) -> str:
    if v is None:
        return MISSING
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if v >= scale:
            return f"{v / scale:,.1f} {unit}"
    return f"{v:,.0f} B"


def fmt_ratio(v) -> str:
    return MISSING if v is None else f"x{v:.2f}"


def with_range(fmt, s: Stats) -> str:
    """The median, and the min-max across rounds when there was more than one and they differ."""
    if s.median is None:
        return MISSING
    if s.n > 1 and s.min != s.max:
        return f"{fmt(s.median)} ({fmt(s.min)}-{fmt(s.max)})"
    return fmt(s.median)


def cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def md_table(header, aligns, rows) -> list[str]:
    out = ["| " + " | ".join(cell(h) for h in header) + " |",
           "|" + "|".join("---:" if a == "r" else "---" for a in aligns) + "|"]
    out += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return out


def join_names(names) -> str:
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


class Notes:
    """Why cells are "-": each reason said once, with the servers it applies to."""

    def __init__(self):
        self.missing = {}   # reason -> {server label: [columns]}
        self.other = []

    def add(self, column, reason, who):
        columns = self.missing.setdefault(reason, {}).setdefault(who, [])
        if column not in columns:
            columns.append(column)

    def say(self, text):
        if text not in self.other:
            self.other.append(text)

    def lines(self, everyone) -> list[str]:
        out = []
        for reason, by_server in self.missing.items():
            # Servers missing the same columns for the same reason share one line.
            groups = {}
            for who, columns in by_server.items():
                groups.setdefault(tuple(columns), []).append(who)
            for columns, names in groups.items():
                who = ("every server" if len(everyone) > 1 and set(names) >= set(everyone)
                       else join_names(names))
                out.append(f"- {join_names(columns)}, {who}: {reason}.")
        out += [f"- {t}" for t in self.other]
        return out


# ---- reading the results --------------------------------------------------------------------

class Results:
    """The results JSON, indexed: servers and zones in order, runs by zone and server."""

    def __init__(self, results: dict):
        self.raw = results if isinstance(results, dict) else {}
        r = self.raw
        self.settings = as_dict(get(r, "settings"))
        self.server_info = as_dict(get(r, "servers"))
        self.zone_info = as_dict(get(r, "zones"))
        runs = [x for x in as_list(get(r, "runs")) if isinstance(x, dict)]
        self.servers = list(self.server_info)
        self.zones = list(self.zone_info)
        self.runs = {}
        for run in runs:
            zone, server = run.get("zone"), run.get("server")
            if zone is None or server is None:
                continue
            zone, server = str(zone), str(server)
            if server not in self.servers:
                self.servers.append(server)
            if zone not in self.zones:
                self.zones.append(zone)
            self.runs.setdefault(zone, {}).setdefault(server, []).append(run)
        for by_server in self.runs.values():
            for rs in by_server.values():
                rs.sort(key=lambda x: number(x.get("round")) or 0)
        self.peers = [p for p in PEERS if p in self.servers]

    def label(self, server) -> str:
        return text(get(self.server_info, server, "label")) or server

    def version(self, server) -> str | None:
        return text(get(self.server_info, server, "version"))

    def full_label(self, server) -> str:
        v = self.version(server)
        return f"{self.label(server)} {v}" if v else self.label(server)

    def all_runs(self, zone, server) -> list[dict]:
        """Every run record, failed ones (with an "error") included."""
        return self.runs.get(zone, {}).get(server, [])

    def server_runs(self, zone, server) -> list[dict]:
        """The runs that measured something (no "error")."""
        return [r for r in self.all_runs(zone, server) if not r.get("error")]

    def stats(self, zone, server, metric) -> Stats:
        sep = metric in LATENCY and self.separate_latency(zone)
        return Stats(value(run, metric, sep) for run in self.server_runs(zone, server))

    def generator_bound(self, zone, server) -> bool:
        """Whether kxdpgun, not the server, set the loss-free rate in any round: the figure is
        then a lower bound."""
        return any(get(r, "kxdpgun", "generator_bound") is True
                   and number(get(r, "kxdpgun", "loss_free_qps")) is not None
                   for r in self.server_runs(zone, server))

    def ceiling_bound(self, zone) -> bool:
        rows = as_list(get(self.raw, "ceiling", zone))
        return any(isinstance(x, dict) and x.get("generator_bound") is True for x in rows)

    def latency_rate(self):
        """The offered rate of the separate latency run, when the JSON says it."""
        return number(get(self.settings, "latency_rate"))

    def separate_latency(self, zone=None) -> bool:
        """Whether latency was measured in runs of its own (on ``zone``, or on any zone)."""
        zones = [self.runs.get(zone, {})] if zone is not None else self.runs.values()
        return any(isinstance(r.get("latency"), dict) for z in zones
                   for rs in z.values() for r in rs)

    def ceiling(self, zone) -> Stats:
        rows = as_list(get(self.raw, "ceiling", zone))
        return Stats(number(get(x, "loss_free_qps")) for x in rows if isinstance(x, dict))

    def records(self, zone):
        return number(get(self.zone_info, zone, "records"))

    def rounds(self):
        return number(get(self.settings, "rounds"))

    def kxdpgun_unavailable(self) -> str | None:
        """Why kxdpgun did not run, or None when it did (or nothing says it did not)."""
        k = as_dict(get(self.settings, "kxdpgun"))
        if k.get("available") is False:
            return text(k.get("why")) or "no reason recorded"
        return None

    def fixed_rate(self):
        return number(get(self.settings, "fixed_rate"))

    def no_runs_reason(self, server) -> str:
        why = (text(get(self.server_info, server, "error"))
               or text(get(self.server_info, server, "why")))
        if why:
            return str(why)
        return "no runs recorded (the server did not start, or was not part of this run)"

    def zone_has_runs(self, zone) -> bool:
        return any(self.server_runs(zone, s) for s in self.servers)

    def failures(self, zone, server) -> list[str]:
        """The distinct errors of the failed runs, first line of each."""
        out = []
        for r in self.all_runs(zone, server):
            err = r.get("error")
            if err:
                line = str(err).strip().splitlines()[0] if str(err).strip() else "failed"
                if line not in out:
                    out.append(line)
        return out


def missing_reason(res: Results, zone, server, metric) -> str:
    """Why ``metric`` has no value for ``server`` on ``zone``, as precisely as the JSON tells."""
    runs = res.server_runs(zone, server)
    section = METRICS[metric][0]
    if metric == "lossfree":
        why = res.kxdpgun_unavailable()
        if why:
            return f"kxdpgun not usable here: {why}"
        trials = [t for r in runs for t in as_list(get(r, "kxdpgun", "trials"))
                  if isinstance(t, dict)]
        losses = [number(t.get("loss_pct")) for t in trials]
        rates = [number(t.get("rate")) for t in trials]
        if trials and all(x is not None and x >= LOSS_FREE_PCT for x in losses):
            low = min((x for x in rates if x is not None), default=None)
            at = f" (lowest {low:,.0f}/s)" if low is not None else ""
            return f"lost {LOSS_FREE_PCT:g}% or more at every trial rate{at}"
    if metric in LATENCY and res.separate_latency(zone):
        section = "latency"
    if len(METRICS[metric]) > 1 and all(get(r, section) is None for r in runs):
        return f"no {section} measurement recorded"
    if metric == "lat_p99":
        return "the load generator gave no p99 latency"
    return "not measured (null in the results)"


# ---- the markdown ---------------------------------------------------------------------------

def server_table(res: Results, zone) -> tuple[list[str], list[str]]:
    """The medians per server for one zone: table lines and note lines."""
    rate = res.fixed_rate()
    at = f"at {rate:,.0f}/s" if rate is not None else "at the fixed rate"
    lat = latency_where(res, zone)
    columns = [
        ("dnsperf qps (min-max)", "qps", fmt_int, True),
        ("dnsperf loss", "loss", fmt_pct(2), False),
        (f"mean latency{lat} (ms)", "lat_avg", fmt_fixed(2), False),
        (f"p99 latency{lat} (ms)", "lat_p99", fmt_fixed(2), False),
        ("kxdpgun loss-free qps (min-max)", "lossfree", fmt_int, True),
        (f"CPU per query {at} (us)", "cpu_q", fmt_fixed(2), False),
        (f"softirq per query {at} (us)", "sirq_q", fmt_fixed(2), False),
        (f"server CPU {at}", "cpu_pct", fmt_pct(1), False),
        ("RSS", "rss", fmt_kib, False),
    ]
    notes = Notes()
    rows, measured = [], []
    expected = res.rounds()
    for server in res.servers:
        runs = res.server_runs(zone, server)
        label = res.full_label(server)
        failed = res.failures(zone, server)
        if not runs:
            rows.append([label] + [MISSING] * len(columns))
            why = ("failed: " + "; ".join(failed)) if failed else res.no_runs_reason(server)
            notes.say(f"{label}: {why}.")
            continue
        if failed:
            n_all = len(res.all_runs(zone, server))
            notes.say(f"{label}: {n_all - len(runs)} of {n_all} rounds failed: "
                      f"{'; '.join(failed)}.")
        measured.append(label)
        row = [label]
        for title, metric, fmt, ranged in columns:
            s = res.stats(zone, server, metric)
            if s.median is None:
                notes.add(title, missing_reason(res, zone, server, metric), label)
            elif s.n < len(runs):
                notes.add(title, f"median of the {s.n} of {len(runs)} rounds that measured it",
                          label)
            text = with_range(fmt, s) if ranged else fmt(s.median)
            if metric == "lossfree" and s.median is not None and res.generator_bound(zone,
                                                                                   server):
                text = "≥ " + text
                notes.add(title, "≥: kxdpgun could send no faster, so the server sustained at "
                          "least this (a bound of the generator, not of the server)", label)
            row.append(text)
        rows.append(row)
        if expected is not None and len(runs) < expected:
            notes.say(f"{label}: {len(runs)} of {expected:.0f} rounds.")
        fixed_loss = res.stats(zone, server, "fixed_loss").median
        if fixed_loss is not None and fixed_loss >= LOSS_FREE_PCT:
            notes.say(f"{label} lost {fixed_loss:.2f}% {at}: its CPU per query is per answered "
                      "query, at a rate it did not sustain.")
    lines = md_table(["server"] + [c[0] for c in columns], "l" + "r" * len(columns), rows)
    return lines, notes.lines(measured)


def latency_where(res: Results, zone) -> str:
    """Where the latency columns come from, for their titles."""
    if not res.separate_latency(zone):
        return ""
    rate = res.latency_rate()
    return f" at {rate:,.0f}/s" if rate is not None else ", fixed-rate run"


def ratio(a, b):
    return a / b if a is not None and b else None


def ratio_table(res: Results, zone) -> tuple[list[str], list[str]]:
    """Each server against each peer (ratios of medians) and against the harness ceiling."""
    figures = (("loss-free", "lossfree"), ("dnsperf qps", "qps"), ("CPU/query", "cpu_q"))
    ceiling = res.ceiling(zone).median
    header = ["server"]
    for name, _ in figures:
        header += [f"{name} / {res.label(p)}" for p in res.peers]
    header.append("loss-free, % of ceiling")
    rows, gaps, both_bound = [], False, False
    for server in res.servers:
        if not res.server_runs(zone, server):
            continue
        row = [res.full_label(server)]
        for _, metric in figures:
            mine = res.stats(zone, server, metric).median
            for p in res.peers:
                r = ratio(mine, res.stats(zone, p, metric).median)
                gaps |= r is None
                text = fmt_ratio(r)
                if metric == "lossfree" and r is not None:
                    # A rate kxdpgun capped is a lower bound; so is a ratio over it, or an upper
                    # bound when it is the divisor; with both capped nothing is known.
                    num, den = res.generator_bound(zone, server), res.generator_bound(zone, p)
                    if num and den and server != p:
                        text, both_bound = "?", True
                    elif num != den:
                        text = ("≥ " if num else "≤ ") + text
                row.append(text)
        pct = ratio(res.stats(zone, server, "lossfree").median, ceiling)
        gaps |= pct is None
        text = fmt_pct(0)(None if pct is None else 100 * pct)
        if pct is not None and res.generator_bound(zone, server) and not res.ceiling_bound(zone):
            text = "≥ " + text
        row.append(text)
        rows.append(row)
    notes = ["- Ratios are of the medians above: this server's figure divided by the peer's. "
             "For qps higher is better; for CPU per query lower is better."]
    if gaps:
        notes.append("- \"-\": one of the two figures is missing (see the notes above).")
    if both_bound:
        notes.append("- \"?\": kxdpgun capped both loss-free rates, so their ratio is unknown; "
                     "the CPU per query tells these servers apart.")
    if not rows:
        return [], ["- No server has runs on this zone."]
    return md_table(header, "l" + "r" * (len(header) - 1), rows), notes


def ceiling_line(res: Results, zone) -> str:
    c = res.ceiling(zone)
    if c.median is None:
        return ("Harness ceiling (a trivial reflector in C over AF_PACKET, highest rate under "
                f"{LOSS_FREE_PCT:g}% loss): - (not measured).")
    bound = ("≥ ", " kxdpgun could send no faster: the reflector sustained at least this, and "
             "the percentages below are of this bound.") if res.ceiling_bound(zone) else ("", "")
    return ("Harness ceiling (a trivial reflector in C over AF_PACKET, highest rate under "
            f"{LOSS_FREE_PCT:g}% loss): {bound[0]}{with_range(fmt_int, c)} qps, median of {c.n} "
            f"round{'s' if c.n != 1 else ''}.{bound[1]}")


def mix_text(mix) -> str | None:
    if not isinstance(mix, dict) or not mix:
        return None
    parts = []
    for k, v in mix.items():
        n = number(v)
        if n is not None and 0 <= n <= 1 and isinstance(v, float):
            parts.append(f"{k} {100 * n:g}%")
        elif isinstance(v, dict):
            parts.append(f"{k} ({mix_text(v) or '-'})")
        else:
            parts.append(f"{k} {v}")
    return ", ".join(parts)


def zone_title(res: Results, zone) -> str:
    origin = text(get(res.zone_info, zone, "origin"))
    n = res.records(zone)
    what = ", ".join(x for x in (origin, None if n is None else f"{n:,.0f} records") if x)
    return f"{zone} zone ({what})" if what else f"{zone} zone"


def footprint_table(res: Results) -> tuple[list[str], list[str]]:
    fp = as_dict(get(res.raw, "footprint"))
    images = as_dict(get(fp, "image_bytes"))
    image_zones = [z for z in res.zones if z in images] + [z for z in images if z not in res.zones]
    at_rest = as_dict(get(fp, "rss_at_rest_1m_kib"))
    header = (["server"] + [f"sealed image, {z} zone" for z in image_zones]
              + ["installed size (package closure)", "closure without required packages",
                 "memory at rest, 1M zone"])
    notes = Notes()
    rows, shown = [], []
    for server in res.servers:
        label = res.full_label(server)
        shown.append(label)
        ours = server.startswith("ours")
        row = [label]
        for z in image_zones:
            if ours:
                v = number(images.get(z))
                if v is None:
                    notes.add(f"sealed image, {z} zone", "not measured", label)
                row.append(fmt_bytes(v))
            else:
                row.append(NA)
        if ours:
            v = number(get(fp, "ours", "kib"))
            if v is None:
                notes.add("installed size (package closure)", "not measured", label)
            row += [fmt_kib(v), NA]
        else:
            pk = as_dict(get(fp, "packages", server))
            for key, col in (("kib", "installed size (package closure)"),
                             ("kib_without_required", "closure without required packages")):
                v = number(pk.get(key))
                if v is None:
                    notes.add(col, "not measured", label)
                row.append(fmt_kib(v))
            names = [str(x) for x in as_list(pk.get("packages"))]
            if names:
                notes.say(f"{label}: {len(names)} package{'s' if len(names) != 1 else ''}: "
                          f"{', '.join(names)}.")
        v = number(at_rest.get(server))
        if v is None:
            notes.add("memory at rest, 1M zone", "not measured", label)
        row.append(fmt_kib(v))
        rows.append(row)
    what = text(get(fp, "ours", "what"))
    if what:
        notes.say(f"Installed size of the appliance: {what}.")
    lines = md_table(header, "l" + "r" * (len(header) - 1), rows)
    return lines, notes.lines(shown)


def method_lines(res: Results) -> list[str]:
    r, s = res.raw, res.settings
    m = as_dict(get(r, "machine"))
    rounds, seconds = res.rounds(), number(get(s, "seconds"))
    machine = ", ".join(x for x in (
        text(m.get("cpu")),
        f"{m['cores']} cores" if text(m.get("cores")) else None,
        f"Linux {m['kernel']}" if text(m.get("kernel")) else None,
        f"Python {m['python']}" if text(m.get("python")) else None) if x)
    when = ", ".join(x for x in (text(r.get("date")), text(r.get("host"))) if x) or "date unknown"
    rounds_text = ("- rounds" if rounds is None
                   else f"{rounds:.0f} round{'s' if rounds != 1 else ''}")
    seconds_text = MISSING if seconds is None else f"{seconds:g} s"
    smoke = " (smoke mode)" if get(s, "smoke") else ""
    out = [f"{when}; {machine or 'machine unknown'}. {rounds_text} of {seconds_text}{smoke} "
           "per measurement, the servers interleaved within each round. **Every figure is the "
           "median over the rounds** (min-max across rounds in brackets where shown); every ratio "
           "is a ratio of medians."]
    dp = as_dict(get(s, "dnsperf"))
    kx = as_dict(get(s, "kxdpgun"))
    how = []
    if dp:
        how.append(f"dnsperf closed loop (`-c {dp.get('clients') or '?'} -q "
                   f"{dp.get('outstanding') or '?'}`)")
    why = res.kxdpgun_unavailable()
    if why:
        how.append(f"kxdpgun not usable here ({why})")
    elif kx:
        trial = number(kx.get("trial_seconds"))
        how.append("kxdpgun open loop, highest rate with under "
                   f"{LOSS_FREE_PCT:g}% loss" + (f" ({trial:g} s trials)" if trial else ""))
    rate = res.fixed_rate()
    gens = sorted({str(g) for z in res.runs.values() for rs in z.values() for x in rs
                   if (g := get(x, "fixed", "generator"))})
    if rate is not None:
        by = f" offered by {join_names(gens)}" if gens else ""
        how.append(f"server CPU (utime+stime from /proc, and its CPU's softirq time from "
                   f"/proc/stat, separately) per answered query at a fixed {rate:,.0f} qps{by}")
    if res.separate_latency():
        lr = res.latency_rate()
        how.append("latency from a separate dnsperf run at a fixed "
                   + (f"{lr:,.0f} qps" if lr is not None else "rate"))
    sc, cc = get(s, "server_cpu"), get(s, "client_cpu")
    if sc is not None:
        how.append(f"server pinned to CPU {sc}, load generators to "
                   + (f"CPU {cc}" if cc is not None else "the other CPU"))
    if how:
        out.append("Measured by: " + "; ".join(how) + ".")
    out.append("Reproduce: `make bench` (as root: it builds the namespace and veth, installs the "
               "peers if missing, and removes everything at the end); `python -m bench.report "
               "RESULTS.json` redraws these tables and charts from the JSON.")
    return out


def markdown(res: Results, charts: dict, link_dir: str) -> str:
    out = ["# The appliance against NSD, Knot and BIND", ""]
    if get(res.raw, "interrupted"):
        out += ["**Interrupted: these are partial results.**", ""]
    out += sum(([x, ""] for x in method_lines(res)), [])
    for zone in res.zones:
        out += [f"## {zone_title(res, zone)}", ""]
        mix = mix_text(get(res.zone_info, zone, "mix"))
        if mix:
            out += [f"Query mix: {mix}.", ""]
        if not res.zone_has_runs(zone):
            # Nothing to tabulate or draw: say so, with the failures if there were any.
            out += ["No server has runs on this zone.", ""]
            failed = [f"- {res.full_label(s)}: failed: {'; '.join(res.failures(zone, s))}."
                      for s in res.servers if res.failures(zone, s)]
            out += failed + ([""] if failed else [])
            continue
        table, notes = server_table(res, zone)
        out += ["### Per server (medians)", ""] + table + [""]
        if notes:
            out += notes + [""]
        table, notes = ratio_table(res, zone)
        out += ["### Ratios to each peer and to the harness ceiling", "", ceiling_line(res, zone),
                ""]
        out += (table + [""] if table else []) + notes + [""]
        for kind, path in charts.get(zone, []):
            rel = os.path.relpath(path, link_dir)
            out += [f"![{kind}, {zone} zone]({rel})", ""]
    table, notes = footprint_table(res)
    out += ["## Footprint", ""] + table + [""]
    if notes:
        out += notes + [""]
    return "\n".join(out).rstrip("\n") + "\n"


# ---- the charts -----------------------------------------------------------------------------

def tick_label(res: Results, server) -> str:
    label = "\n".join(textwrap.wrap(res.label(server), 16)) or server
    v = res.version(server)
    return f"{label}\n{v}" if v else label


def kilo(v, _pos=None) -> str:
    return f"{v / 1000:,.0f}k" if abs(v) >= 1000 or v == 0 else f"{v:g}"


def bar_chart(path, title, ylabel, ticks, series, hline=None, yfmt=None, value_fmt=None):
    """Grouped bars (medians) with min-max whiskers; "n/a" where a series has no value.

    ``series`` is a list of (legend name, colour, [Stats per tick]). Drawn on a bare Figure with
    the Agg canvas (no pyplot state); PNG metadata without the Software key, so equal inputs
    give equal files.
    """
    fig = Figure(figsize=FIGSIZE, dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    n = max(len(series), 1)
    width = 0.8 / n
    xs = list(range(len(ticks)))
    handles, top = [], []
    for i, (name, colour, stats) in enumerate(series):
        offset = (i - (n - 1) / 2) * width
        have = [(x + offset, s) for x, s in zip(xs, stats, strict=True) if s.median is not None]
        for x, s in zip(xs, stats, strict=True):
            if s.median is None:
                ax.text(x + offset, 0, NA, ha="center", va="bottom", fontsize=7, color="grey")
        if not have:
            handles.append(Patch(color=colour, label=f"{name} (not measured)"))
            continue
        pos = [p for p, _ in have]
        med = [s.median for _, s in have]
        err = [[s.median - s.min for _, s in have], [s.max - s.median for _, s in have]]
        handles.append(ax.bar(pos, med, width, yerr=err, capsize=3, label=name, color=colour,
                              error_kw={"elinewidth": 1, "ecolor": "black"}))
        top += [s.max for _, s in have]
        if value_fmt:
            for p, s in have:
                ax.annotate(value_fmt(s.median), (p, s.max), xytext=(0, 2),
                            textcoords="offset points", ha="center", va="bottom", fontsize=7)
    if hline is not None:
        value, label = hline
        handles.insert(0, ax.axhline(value, color="tab:red", linestyle="--", linewidth=1,
                                     label=label))
        top.append(value)
    if not top:
        ax.text(0.5, 0.5, "no measurements", transform=ax.transAxes, ha="center",
                va="center", color="grey")
        ax.set_yticks([])
    # Headroom above the highest whisker for the value labels and the legend.
    ax.set_ylim(0, 1.3 * max(top) if top and max(top) > 0 else 1)
    ax.set_xlim(-0.5, max(len(ticks), 1) - 0.5)
    ax.set_xticks(xs)
    ax.set_xticklabels(ticks, fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_xlabel("server")
    if yfmt:
        ax.yaxis.set_major_formatter(FuncFormatter(yfmt))
    ax.grid(axis="y", linewidth=0.5, alpha=0.5)
    ax.set_axisbelow(True)
    ax.set_title(title, fontsize=10)
    ax.legend(handles=handles, loc="upper right", fontsize=8, ncols=len(handles))
    # Fixed margins rather than tight_layout: room for four-line tick labels, and the same
    # layout whatever the data.
    fig.subplots_adjust(left=0.09, right=0.98, top=0.88, bottom=0.22)
    fig.savefig(path, format="png", dpi=DPI, metadata={"Software": None})
    return path


def charts_for_zone(res: Results, zone, outdir, stem) -> list[tuple[str, str]]:
    servers = [s for s in res.servers if res.server_runs(zone, s)]
    ticks = [tick_label(res, s) for s in servers]
    n = res.records(zone)
    head = f"{zone} zone" + (f" ({n:,.0f} records)" if n is not None else "")
    rounds = max((len(res.server_runs(zone, s)) for s in servers), default=0)
    sub = "one round" if rounds == 1 else f"median of {rounds} rounds; whiskers: min-max"
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in zone)
    out = []

    ceiling = res.ceiling(zone).median
    hline = None if ceiling is None else (ceiling, f"harness ceiling ({kilo(ceiling)} qps)")
    kx_name = "kxdpgun highest loss-free rate"
    if res.kxdpgun_unavailable():
        kx_name = "kxdpgun loss-free rate"
    path = bar_chart(
        os.path.join(outdir, f"{stem}-qps-{safe}.png"),
        f"{head}: queries per second\n{sub}", "queries per second", ticks,
        [("dnsperf (closed loop)", "tab:blue", [res.stats(zone, s, "qps") for s in servers]),
         (kx_name, "tab:orange", [res.stats(zone, s, "lossfree") for s in servers])],
        hline=hline, yfmt=kilo, value_fmt=kilo)
    out.append(("queries per second", path))

    path = bar_chart(
        os.path.join(outdir, f"{stem}-latency-{safe}.png"),
        f"{head}: dnsperf latency{latency_where(res, zone)}\n{sub}", "latency (ms)", ticks,
        [("mean", "tab:green", [res.stats(zone, s, "lat_avg") for s in servers]),
         ("p99", "tab:purple", [res.stats(zone, s, "lat_p99") for s in servers])],
        value_fmt=lambda v: f"{v:.2f}")
    out.append(("latency", path))
    return out


# ---- entry points ---------------------------------------------------------------------------

def report(results: dict, outdir: str, stem: str, link_dir: str | None = None) -> dict:
    """Write ``<stem>.md`` and the charts into ``outdir``; return their paths and the markdown.

    Image links in the markdown are relative to ``link_dir`` (default: ``outdir``, where the
    markdown is), so the same text can be pasted into a README elsewhere.
    """
    os.makedirs(outdir, exist_ok=True)
    res = Results(results)
    charts = {zone: charts_for_zone(res, zone, outdir, stem) for zone in res.zones
              if res.zone_has_runs(zone)}
    text = markdown(res, charts, link_dir or outdir)
    md = os.path.join(outdir, f"{stem}.md")
    with open(md, "w") as f:
        f.write(text)
    return {"markdown": md, "charts": [p for zone in charts for _, p in charts[zone]],
            "table": text}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("results", help="the results JSON written by make bench")
    p.add_argument("--outdir", help="where to write (default: beside the JSON)")
    a = p.parse_args(argv)
    with open(a.results) as f:
        results = json.load(f)
    outdir = a.outdir or os.path.dirname(os.path.abspath(a.results))
    stem = os.path.splitext(os.path.basename(a.results))[0]
    out = report(results, outdir, stem)
    sys.stdout.write(out["table"])
    print(f"\nwrote {out['markdown']}" + "".join(f"\nwrote {c}" for c in out["charts"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
