#!/usr/bin/python3
"""The site for Debian's own nginx (issue 13): nginx/anvil-site.conf.in, generated from the
standalone template, rendered and included by Debian's nginx.conf (the package's own file, only
its paths moved into a temporary directory) next to Debian's default site, passes `nginx -t`,
and that nginx serves the ACME directory over TLS (anvil-fcgi behind it) and 404s elsewhere
while the default site still answers on its own port: the site sets nothing at the http level
but its zones, so Debian's other sites are left as they were."""
import os
import re
import shutil
import signal
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import proc  # noqa: E402
import tap  # noqa: E402
from stack import render_nginx, start_or_skip  # noqa: E402


def main():
    proc.alarm(120)
    import requests
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.path.exists("/etc/nginx/nginx.conf") or not os.access(nginx, os.X_OK):
        tap.skip_all("Debian's nginx (package nginx) is not installed")
    site_in = proc.builddir_path("nginx", "anvil-site.conf.in")
    if not os.path.exists(site_in):
        tap.skip_all("nginx/anvil-site.conf.in not built")
    s = start_or_skip(workers=1)
    d = os.path.join(s.dir, "debian-nginx")
    for sub in ("sites-enabled", "lib", "log"):
        os.makedirs(os.path.join(d, sub))

    # Debian's nginx.conf as packaged, with its paths moved here (and root as the user: the
    # test stack's sockets are root's).
    conf = open("/etc/nginx/nginx.conf").read()
    conf = re.sub(r"(?m)^user .*;", "user root;", conf)
    conf = conf.replace("/run/nginx.pid", os.path.join(d, "nginx.pid"))
    conf = conf.replace("/var/log/nginx/", os.path.join(d, "log") + "/")
    conf = conf.replace("/etc/nginx/sites-enabled/", os.path.join(d, "sites-enabled") + "/")
    conf = conf.replace("include /etc/nginx/conf.d/*.conf;", "")
    main_conf = os.path.join(d, "nginx.conf")
    with open(main_conf, "w") as f:
        f.write(conf)
    tap.ok("include " + os.path.join(d, "sites-enabled") + "/*" in conf,
           "Debian's nginx.conf includes the sites")

    # Debian's default site on a port of its own.
    default_port = proc.free_port()
    default = open("/etc/nginx/sites-available/default").read() \
        if os.path.exists("/etc/nginx/sites-available/default") else \
        "server { listen 80 default_server; root /var/www/html; }\n"
    default = re.sub(r"(?m)^\s*listen \[::\]:80 default_server;", "", default)
    default = re.sub(r"listen 80 default_server;", "listen 127.0.0.1:%d default_server;"
                     % default_port, default)
    with open(os.path.join(d, "sites-enabled", "default"), "w") as f:
        f.write(default)

    api, http = proc.free_port(), proc.free_port()
    values = dict(s._nginx_values(), LISTEN="127.0.0.1:%d" % api,
                  HTTP_LISTEN="127.0.0.1:%d" % http, SERVER_NAME="_")
    for k in ("USER", "WORKERS", "RUN_DIR"):
        values.pop(k, None)
    site = os.path.join(d, "anvil-site.conf")
    render_nginx(site_in, site, values)
    text = open(site).read()
    tap.ok("@" not in re.sub(r"location @\w+|= @\w+", "", text),
           "every placeholder filled (no @USER@, @WORKERS@ or @RUN_DIR@ left to fill)")
    tap.ok(not re.search(r"(?m)^(user|worker_processes|events|http|pid|sendfile)\b", text),
           "no main, events or http block, no directive Debian's nginx.conf sets")
    # The cache and log paths are Debian's; here they go under the test directory.
    text = text.replace("/var/lib/nginx/anvil_ocsp_cache", os.path.join(d, "lib", "ocsp")) \
        .replace("/var/log/nginx/", os.path.join(d, "log") + "/")
    with open(os.path.join(d, "sites-enabled", "anvil"), "w") as f:
        f.write(text)

    r = subprocess.run([nginx, "-t", "-c", main_conf, "-p", d, "-e", os.path.join(d, "log",
                        "error.log")], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True, timeout=30)
    if not tap.is_(r.returncode, 0, "nginx -t with Debian's nginx.conf, the default site and "
                   "Anvil's"):
        tap.diag(r.stdout)
        return
    p = subprocess.Popen([nginx, "-c", main_conf, "-p", d, "-e", os.path.join(d, "log",
                          "error.log"), "-g", "daemon off;"])
    try:
        def up():
            try:
                return requests.get("https://127.0.0.1:%d/acme/directory" % api,
                                    verify=s.ca_file, timeout=5)
            except requests.RequestException:
                return None
        r = proc.wait_for(up, 30, 0.2, "Debian nginx up")
        tap.ok(r.status_code == 200 and "newAccount" in r.json(),
               "the ACME directory through Debian's nginx")
        r = requests.get("https://127.0.0.1:%d/" % api, verify=s.ca_file, timeout=5)
        tap.is_(r.status_code, 404, "anything else: 404")
        r = requests.get("http://127.0.0.1:%d/crl/none/0.crl" % http, timeout=5)
        tap.is_(r.status_code, 404, "plain HTTP server for CRLs answers (404 for none)")
        r = requests.get("http://127.0.0.1:%d/" % default_port, timeout=5)
        tap.ok(r.status_code in (200, 403, 404) and "server_tokens" not in r.text,
               "Debian's default site still answers on its port (%d)" % r.status_code)
        tap.ok("nginx/" in r.headers.get("Server", ""),
               "and keeps nginx's own settings (server_tokens on: %s)"
               % r.headers.get("Server"))
    finally:
        p.send_signal(signal.SIGQUIT)
        p.wait(timeout=20)


tap.run(main)
