"""The site's status page: ``GET /`` for a browser (``Accept: text/html``).

Rendered on the server, so it works without JavaScript; with scripts on, it refreshes itself
from ``/status`` every few seconds with the same markup. Self-contained: its one style sheet
and one script are inline, allowed by their hashes in a strict Content-Security-Policy, and it
loads nothing else. All text from probes is escaped (here by ``html.escape``, in the script by
``textContent``); in the history, controls and bidi overrides are also shown as escapes
(``visible``, and its copy in the script), so a summary cannot reorder or break the lines.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from exporter.config import Site
from exporter.history import History, Kept
from exporter.status import Status
from exporter.store import ProbeView
from exporter.visible_text import visible
from exporter.web.history_doc import clock, history_document
from exporter.web.status_doc import site_document, view_document

#: Seconds between two refreshes from /status while the page is open.
REFRESH_SECONDS = 5

STYLE = """
:root{color-scheme:light dark;--bg:#fff;--fg:#1b1f24;--muted:#57606a;--line:#d0d7de;
--card:#f6f8fa;--ok:#1a7f37;--warning:#9a6700;--critical:#cf222e;--unknown:#6e40c9}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9198a1;
--line:#30363d;--card:#161b22;--ok:#3fb950;--warning:#d29922;--critical:#f85149;
--unknown:#a371f7}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:16px/1.45 system-ui,-apple-system,
"Segoe UI",Roboto,sans-serif}
header,main,footer{max-width:60rem;margin:0 auto;padding:1rem}
.rollup{border-left:.6rem solid var(--c);background:var(--card);border-radius:.4rem;
display:flex;flex-wrap:wrap;gap:.5rem 1.5rem;align-items:center;margin:1rem auto 0;
width:calc(100% - 2rem);max-width:58rem}
.word{font-size:clamp(2.2rem,9vw,3.6rem);font-weight:800;letter-spacing:.02em;color:var(--c)}
.word::before,.badge::before{content:var(--icon);margin-right:.3em}
h1{font-size:1.3rem;margin:0;overflow-wrap:anywhere}
dl{margin:0}
.facts{display:flex;flex-wrap:wrap;gap:.1rem 1rem;color:var(--muted)}
.facts div,.times div{display:flex;gap:.35rem}
dt{color:var(--muted)}
dd{margin:0;font-weight:600;color:var(--fg)}
.maint{color:var(--warning)}
.banner{max-width:58rem;width:calc(100% - 2rem);margin:.6rem auto 0;padding:.5rem .8rem;
border-radius:.4rem;border:1px solid var(--line);background:var(--card)}
.banner.now{border-color:var(--warning);color:var(--warning);font-weight:600}
.counts{margin:.2rem 0 0;color:var(--muted)}
.probes{list-style:none;margin:0;padding:0;display:grid;gap:.6rem}
#history h2{font-size:1.1rem;margin:1.4rem 0 .4rem}
.history{list-style:none;margin:0;padding:0;display:grid;gap:.2rem}
.change{border-left:.3rem solid var(--c);padding:.1rem .6rem;overflow-wrap:anywhere}
.change time,.held,.why,.note{color:var(--muted)}.subject{font-weight:600}
.why{display:block;font-size:.9em}.note{font-size:.85em}
.flaps{margin:0 0 .5rem;font-weight:600;overflow-wrap:anywhere}
.probe{border:1px solid var(--line);border-left:.35rem solid var(--c);border-radius:.4rem;
padding:.6rem .8rem;background:var(--bg)}
.line{display:flex;flex-wrap:wrap;gap:.25rem .6rem;align-items:baseline}
.badge{font-weight:800;color:var(--c)}
.name{font-weight:600;overflow-wrap:anywhere}
.kind{color:var(--muted);font-size:.9em}
.summary{margin:.25rem 0;overflow-wrap:anywhere}
.times{display:flex;flex-wrap:wrap;gap:.1rem 1.2rem;font-size:.9em}
.flag{display:inline-block;border:1px solid var(--line);border-radius:1rem;padding:0 .5rem;
font-size:.85em;margin:.3rem .3rem 0 0}
details{margin-top:.3rem}
summary{cursor:pointer;color:var(--muted)}
pre{background:var(--card);padding:.5rem;border-radius:.3rem;overflow:auto;font-size:.85em;
white-space:pre-wrap;overflow-wrap:anywhere}
nav a{margin-right:1rem;color:inherit}
footer p{color:var(--muted);font-size:.9em}
.s-ok{--c:var(--ok);--icon:"\\2714"}
.s-warning{--c:var(--warning);--icon:"\\25B2"}
.s-critical{--c:var(--critical);--icon:"\\2716"}
.s-unknown{--c:var(--unknown);--icon:"?"}
""".strip()

SCRIPT = """
"use strict";
(function () {
  var SEVERITY = {OK: 0, WARNING: 1, UNKNOWN: 2, CRITICAL: 3};
  var every = Number(document.body.dataset.refresh || 5) * 1000;
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }
  function duration(s) {
    if (s === null || s === undefined) return "\\u2014";
    if (s < 1) return Math.round(s * 1000) + " ms";
    if (s < 90) return Math.round(s) + " s";
    var m = Math.round(s / 60);
    if (m < 90) return m + " min";
    var h = Math.floor(m / 60);
    if (h < 48) return h + " h " + (m % 60) + " min";
    return Math.floor(h / 24) + " d " + (h % 24) + " h";
  }
  var UNSAFE =  // exporter/visible_text.py's _UNSAFE
    /[\\x00-\\x1f\\x7f-\\x9f\\u061c\\u200e\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ud800-\\udfff]/gu;
  var NAMED = {"\\n": "\\\\n", "\\r": "\\\\r", "\\t": "\\\\t"};
  function visible(text) {  // and its visible()
    return String(text).replace(UNSAFE, function (c) {
      var code = c.charCodeAt(0), hex = code.toString(16);
      return NAMED[c] || (code < 256 ? "\\\\x" + ("0" + hex).slice(-2) :
        "\\\\u" + ("000" + hex).slice(-4));
    });
  }
  function clock(at, now) {
    var iso = new Date(at * 1000).toISOString();
    var today = new Date(now * 1000).toISOString().slice(0, 10);
    return (iso.slice(0, 10) === today ? "" : iso.slice(0, 10) + " ") + iso.slice(11, 19);
  }
  function fact(parent, label, value, cls) {
    var row = el("div");
    row.appendChild(el("dt", "", label));
    row.appendChild(el("dd", cls || "", value));
    parent.appendChild(row);
  }
  function probeItem(p, open) {
    var item = el("li", "probe s-" + p.status.toLowerCase());
    item.dataset.name = p.name;
    item.dataset.status = p.status;
    var line = el("div", "line");
    line.appendChild(el("span", "badge", p.status));
    line.appendChild(el("span", "name", p.name));
    line.appendChild(el("span", "kind", p.kind));
    item.appendChild(line);
    item.appendChild(el("p", "summary", p.summary));
    var times = el("dl", "times");
    fact(times, "in this status", duration(p.status_seconds));
    fact(times, "last run", p.result_age_seconds === null ? "never" :
      duration(p.result_age_seconds) + " ago");
    fact(times, "took", duration(p.duration_seconds));
    item.appendChild(times);
    if (!p.critical) item.appendChild(el("span", "flag", "critical: false"));
    if (p.blocked_by) item.appendChild(el("span", "flag", "blocked by " + p.blocked_by));
    if (p.stale) item.appendChild(el("span", "flag", "stale"));
    if (p.running) item.appendChild(el("span", "flag", "running"));
    var details = el("details");
    details.open = open;
    details.appendChild(el("summary", "", "details"));
    details.appendChild(el("pre", "", JSON.stringify(p.details, null, 2)));
    item.appendChild(details);
    return item;
  }
  function changeItem(c, now) {
    var subject = visible(c.probe === null ? "site" : c.probe);
    var item = el("li", "change s-" + c.status.toLowerCase());
    item.dataset.subject = subject;
    var time = el("time", "", clock(c.at, now));
    time.setAttribute("datetime", new Date(c.at * 1000).toISOString());
    var held = duration(c.held_seconds);
    item.append(time, " ", el("span", "subject", subject),
      " " + (c.previous_status || "(start)") + " \\u2192 ", el("span", "badge", c.status), " ",
      el("span", "held", c.ended_at === null ? held + " so far" : "for " + held));
    if (c.summary) item.appendChild(el("span", "why", visible(c.summary)));
    return item;
  }
  function showHistory(h, now) {
    document.getElementById("history").hidden = !h.changes.length;
    document.getElementById("history-summary").textContent = visible(h.text);
    var items = document.createDocumentFragment();
    h.changes.forEach(function (c) { items.appendChild(changeItem(c, now)); });
    document.getElementById("history-list").replaceChildren(items);
    document.getElementById("history-note").textContent = "The last " + h.changes.length +
      " (at most " + h.limit + "), times UTC, kept by the exporter since it started.";
  }
  function show(doc) {
    var word = doc.status;
    var rollup = document.getElementById("rollup");
    rollup.className = "rollup s-" + word.toLowerCase();
    document.getElementById("rollup-status").textContent = word;
    var maint = document.getElementById("site-maintenance");
    maint.textContent = doc.maintenance ? "in maintenance" : "no";
    maint.className = doc.maintenance ? "maint" : "";
    var banner = document.getElementById("maintenance-banner");
    var w = doc.maintenance_window || doc.next_maintenance;
    banner.hidden = !w;
    banner.className = "banner" + (doc.maintenance_window ? " now" : "");
    var words = doc.maintenance_window ? "In maintenance: " : "Next maintenance: ";
    banner.textContent = !w ? "" : words + w.text + (w.reason ? ", " + w.reason : "");
    document.title = word + " \\u00b7 " + doc.site.name + " \\u00b7 site-status";
    var list = document.getElementById("probes");
    var open = {};
    list.querySelectorAll("li").forEach(function (li) {
      var d = li.querySelector("details");
      if (d && d.open) open[li.dataset.name] = true;
    });
    var probes = doc.probes.slice().sort(function (a, b) {
      return SEVERITY[b.status] - SEVERITY[a.status];
    });
    var counts = {};
    probes.forEach(function (p) { counts[p.status] = (counts[p.status] || 0) + 1; });
    document.getElementById("counts").textContent = ["CRITICAL", "UNKNOWN", "WARNING", "OK"]
      .filter(function (s) { return counts[s]; })
      .map(function (s) { return counts[s] + " " + s; }).join(" \\u00b7 ");
    var items = document.createDocumentFragment();
    probes.forEach(function (p) { items.appendChild(probeItem(p, !!open[p.name])); });
    list.replaceChildren(items);
    if (doc.history) showHistory(doc.history, doc.generated_at);
    document.getElementById("updated").textContent =
      "Updated " + new Date(doc.generated_at * 1000).toISOString().slice(11, 19) + " UTC";
  }
  function refresh() {
    fetch("/status", {cache: "no-store", headers: {Accept: "application/json"}})
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(show)
      .catch(function () {
        document.getElementById("updated").textContent = "Not updated: /status did not answer";
      })
      .finally(function () { setTimeout(refresh, every); });
  }
  setTimeout(refresh, every);
})();
""".strip()


def _hash(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"


#: Nothing but the inline style and script, and fetches of our own /status.
CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; style-src {_hash(STYLE)}; script-src {_hash(SCRIPT)}; "
    "connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
PAGE_HEADERS = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-store"),
)


def wants_html(accept: str) -> bool:
    """A browser's navigation asks for text/html; curl's ``*/*`` keeps the plain index."""
    return "text/html" in accept


def duration_words(seconds: float | None) -> str:
    """The same words the script writes (``duration`` there)."""
    if seconds is None:
        return "\u2014"
    if seconds < 1:
        return f"{round(seconds * 1000)} ms"
    if seconds < 90:
        return f"{round(seconds)} s"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"{minutes} min"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} h {minutes % 60} min"
    return f"{hours // 24} d {hours % 24} h"


def worst_first(views: Iterable[ProbeView]) -> list[ProbeView]:
    """By status, worst first (CRITICAL, UNKNOWN, WARNING, OK); config order within."""
    return sorted(views, key=lambda view: -view.status.severity)


def render_page(
    site: Site,
    views: list[ProbeView],
    now: float | None = None,
    history: Kept | None = None,
) -> bytes:
    now = time.time() if now is None else now
    kept = history if history is not None else History(started=now).kept()
    document = site_document(site, views, now)
    rollup = document["status"]
    ordered = worst_first(views)
    counts = [
        f"{n} {status.name}"
        for status in (Status.CRITICAL, Status.UNKNOWN, Status.WARNING, Status.OK)
        if (n := sum(view.status is status for view in ordered))
    ]
    e = html.escape
    maintenance = "in maintenance" if document["maintenance"] else "no"
    facts = "".join(
        f'<div><dt>{label}</dt><dd id="site-{label}"{extra}>{e(value)}</dd></div>'
        for label, value, extra in (
            *((("cluster", site.cluster, ""),) if site.cluster else ()),
            ("environment", site.environment, ""),
            ("tier", site.tier, ""),
            ("profile", site.profile, ""),
            ("maintenance", maintenance, ' class="maint"' if document["maintenance"] else ""),
        )
    )
    probes = "".join(_probe_item(view_document(view, now)) for view in ordered)
    banner_class, banner = banner_text(document)
    updated = datetime.fromtimestamp(now, UTC).strftime("%H:%M:%S")
    counted = " \u00b7 ".join(counts)
    changes = history_section(history_document(kept, now), now)
    page = (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="color-scheme" content="light dark">'
        '<link rel="icon" href="data:,">'  # no /favicon.ico request
        f"<title>{rollup} \u00b7 {e(site.name)} \u00b7 site-status</title>"
        f"<style>{STYLE}</style></head>"
        f'<body data-refresh="{REFRESH_SECONDS}">'
        f'<header id="rollup" class="rollup s-{rollup.lower()}">'
        f'<div class="word" id="rollup-status">{rollup}</div>'
        f'<div><h1 id="site-name">{e(site.name)}</h1><dl class="facts">{facts}</dl>'
        f'<p class="counts" id="counts">{counted}</p></div></header>'
        f'<p id="maintenance-banner" class="{banner_class}" role="status"'
        f"{'' if banner else ' hidden'}>{e(banner)}</p>"
        f'<main><ul class="probes" id="probes">{probes}</ul>{changes}</main>'
        '<footer><nav><a href="/metrics">/metrics</a><a href="/status">/status</a>'
        '<a href="/healthz">/healthz</a></nav>'
        f'<p id="updated">Updated {updated} UTC</p></footer>'
        f"<script>{SCRIPT}</script></body></html>\n"
    )
    return page.encode(errors="replace")  # a lone surrogate (a file name) becomes "?"


def history_section(history: dict[str, Any], now: float) -> str:
    """The recent transitions (``history`` of /status), newest first, each with how long it
    held, under the one-line summary; the script redraws it from /status the same way."""
    changes = history["changes"]
    items = "".join(_change_item(change, now) for change in changes)
    return (
        f'<section id="history"{"" if changes else " hidden"}><h2>Recent changes</h2>'
        f'<p class="flaps" id="history-summary">{_shown(history["text"])}</p>'
        f'<ol class="history" id="history-list">{items}</ol>'
        f'<p class="note" id="history-note">The last {len(changes)} (at most '
        f"{history['limit']}), times UTC, kept by the exporter since it started.</p></section>"
    )


def _shown(text: str) -> str:
    """Untrusted text for the page: controls and bidi overrides as escapes, markup escaped."""
    return html.escape(visible(text))


def _change_item(change: dict[str, Any], now: float) -> str:
    moment = datetime.fromtimestamp(change["at"], UTC)
    iso = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")  # as the script's
    subject = _shown("site" if change["probe"] is None else change["probe"])
    held = duration_words(change["held_seconds"])
    lasted = f"{held} so far" if change["ended_at"] is None else f"for {held}"
    why = f'<span class="why">{_shown(change["summary"])}</span>' if change["summary"] else ""
    return (
        f'<li class="change s-{change["status"].lower()}" data-subject="{subject}">'
        f'<time datetime="{iso}">{clock(change["at"], now)}</time> '
        f'<span class="subject">{subject}</span> '
        f"{change['previous_status'] or '(start)'} \u2192 "
        f'<span class="badge">{change["status"]}</span> '
        f'<span class="held">{lasted}</span>{why}</li>'
    )


def banner_text(document: dict[str, Any]) -> tuple[str, str]:
    """The announced-maintenance banner: the window the site is in, else the next one (the
    script above writes the same from /status)."""
    window = document["maintenance_window"] or document["next_maintenance"]
    if window is None:
        return "banner", ""
    now = document["maintenance_window"] is not None
    words = "In maintenance: " if now else "Next maintenance: "
    reason = f", {window['reason']}" if window["reason"] else ""
    return ("banner now" if now else "banner"), f"{words}{window['text']}{reason}"


def _probe_item(probe: dict[str, Any]) -> str:
    e = html.escape
    status = probe["status"]
    age = probe["result_age_seconds"]
    last_run = "never" if age is None else f"{duration_words(age)} ago"
    flags = [
        label
        for label, shown in (
            ("critical: false", not probe["critical"]),
            (f"blocked by {probe['blocked_by']}", bool(probe["blocked_by"])),
            ("stale", probe["stale"]),
            ("running", probe["running"]),
        )
        if shown
    ]
    details = json.dumps(probe["details"], indent=2, default=str, ensure_ascii=False)
    return (
        f'<li class="probe s-{status.lower()}" data-name="{e(probe["name"])}"'
        f' data-status="{status}">'
        f'<div class="line"><span class="badge">{status}</span>'
        f'<span class="name">{e(probe["name"])}</span>'
        f'<span class="kind">{e(probe["kind"])}</span></div>'
        f'<p class="summary">{e(probe["summary"])}</p>'
        '<dl class="times">'
        f"<div><dt>in this status</dt><dd>{duration_words(probe['status_seconds'])}</dd></div>"
        f"<div><dt>last run</dt><dd>{last_run}</dd></div>"
        f"<div><dt>took</dt><dd>{duration_words(probe['duration_seconds'])}</dd></div></dl>"
        + "".join(f'<span class="flag">{e(flag)}</span>' for flag in flags)
        + f"<details><summary>details</summary><pre>{e(details)}</pre></details></li>"
    )
