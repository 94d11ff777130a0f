#!/usr/bin/python3
"""The operator's status page (issue 14 item 3), rendered by headless Chromium: anvil-jobs
samples into the rolling store (jobs.status_sample_seconds, 2 s here instead of a minute), a few
certificates are issued, and after the page's script ran its issuance plot holds points whose
values add up to the certificates issued, today's figure says so, and the other plots are drawn.
The page loads no external asset. ANVIL_STATUS_SCREENSHOT=FILE keeps the screenshot (that is how
doc/status-page.png is made)."""
import html.parser
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import issuance  # noqa: E402
import proc  # noqa: E402
import tap  # noqa: E402
from stack import start_or_skip  # noqa: E402

import requests  # noqa: E402

CERTS = 3


class Dom(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.body, self.svgs, self.ids, self.sources = {}, {}, {}, []
        self._id = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "body":
            self.body = a
        if tag == "svg" and "data-series" in a:
            self.svgs[a["data-series"]] = a
        if tag in ("script", "link", "img") and (a.get("src") or a.get("href")):
            self.sources.append(a.get("src") or a.get("href"))
        if tag == "div" and a.get("id", "").startswith(("today-", "now-")):
            self._id = a["id"]

    def handle_data(self, data):
        if self._id is not None and data.strip():
            self.ids[self._id] = data.strip()
            self._id = None


def chromium(*args):
    exe = shutil.which("chromium")
    # --no-sandbox: the tests run as root; the stack's TLS certificate is its own test CA.
    return subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu",
                           "--ignore-certificate-errors", "--hide-scrollbars",
                           "--virtual-time-budget=10000"] + list(args),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=120)


def main():
    proc.alarm(600)
    if shutil.which("chromium") is None:
        tap.skip_all("chromium not installed (Debian package chromium)")
    s = start_or_skip(signer=True, jobs={"status_sample_seconds": 2})
    c = issuance.account(s)
    for i in range(CERTS):
        issuance.issue(s, c, ["page%d.example.com" % i])
    data_url = s.base + "/status/data?minutes=3"

    def sampled():
        d = requests.get(data_url, verify=s.ca_file, timeout=10).json()
        return sum(d["series"]["issued"]) == CERTS and len(d["series"]["at"]) >= 3
    # Samples every 2 s: the certificates land in the store within a few of them.
    proc.wait_for(sampled, 60, 0.5, "the issued certificates in the status samples")
    d = requests.get(data_url, verify=s.ca_file, timeout=10).json()
    tap.is_(sum(d["series"]["issued"]), CERTS, "/status/data: the samples count %d issued" % CERTS)
    tap.is_(d["today"]["issued"], CERTS, "/status/data: today's issued figure")
    tap.ok(any(v is not None and v > 0 for v in d["series"]["signer_latency_us"]),
           "/status/data: signer latency sampled")
    tap.ok(any(v is not None for v in d["series"]["ocsp_oldest_age_s"]),
           "/status/data: oldest OCSP response age sampled")

    page = s.base + "/status?minutes=3"
    r = requests.get(page, verify=s.ca_file, timeout=10)
    tap.is_(r.status_code, 200, "/status: 200")
    tap.ok(r.headers.get("Content-Type", "").startswith("text/html"), "/status: HTML")
    tap.ok("default-src 'none'" in r.headers.get("Content-Security-Policy", ""),
           "/status: a CSP that forbids any external asset")

    out = chromium("--dump-dom", page)
    dom = Dom()
    dom.feed(out.stdout)
    if not tap.is_(dom.body.get("data-rendered"), "1", "chromium: the page's script rendered"):
        tap.diag(out.stdout[-2000:] + out.stderr[-2000:])
    tap.is_(dom.sources, [], "chromium: no external script, stylesheet or image")
    iss = dom.svgs.get("issued", {})
    tap.ok(int(iss.get("data-nonzero", "0")) >= 1, "issuance plot: points with non-zero values "
           "(%s)" % iss.get("data-nonzero"))
    tap.is_(float(iss.get("data-sum", "0")), float(CERTS),
            "issuance plot: its points add up to the %d certificates" % CERTS)
    for key in ("validation_failures", "queue_depth", "signer_latency_us", "ocsp_oldest_age_s"):
        tap.ok(int(dom.svgs.get(key, {}).get("data-points", "0")) >= 3,
               "plot %s drawn with its samples" % key)
    tap.ok(float(dom.svgs.get("signer_latency_us", {}).get("data-max", "0")) > 0,
           "signer latency plot: non-zero")
    tap.is_(dom.ids.get("today-issued"), str(CERTS), "today's certificates figure")

    shot = os.environ.get("ANVIL_STATUS_SCREENSHOT") or os.path.join(s.dir, "status.png")
    out = chromium("--screenshot=" + os.path.abspath(shot), "--window-size=1280,900", page)
    ok = os.path.exists(shot) and os.path.getsize(shot) > 10000
    with open(shot, "rb") as f:
        ok = ok and f.read(8) == b"\x89PNG\r\n\x1a\n"
    if not tap.ok(ok, "chromium: a screenshot of the page (%s)" % shot):
        tap.diag(out.stderr[-2000:])
    s.stop()
    tap.done()


main()
