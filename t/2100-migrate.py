#!/usr/bin/python3
"""anvilctl migrate (numbered, forward-only migrations recorded in schema_migrations; refuses a
newer schema), anvilctl check and anvil-fcgi --check (config errors name the dotted key), and
anvilctl eab add's argument checks."""
import copy
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import proc  # noqa: E402
import tap  # noqa: E402
from stack import binary, start_or_skip  # noqa: E402


def main():
    proc.alarm(120)
    s = start_or_skip(workers=1)
    src = proc.srcdir_path("migrations")
    known = sorted(f for f in os.listdir(src) if f.endswith(".sql"))
    newest = int(known[-1][:4])

    # --- the stack's database, already migrated ---
    rows = s.mysql_rows("SELECT version, name FROM schema_migrations ORDER BY version")
    tap.is_([r[1] for r in rows], known, "every migration recorded once, in order")
    r = s.anvilctl("migrate")
    tap.ok("applied" not in r.stdout, "a second migrate applies nothing")
    tap.ok("schema version %d" % newest in r.stdout, "and reports the version")
    r = s.anvilctl("migrate", "--status")
    tap.ok("pending" not in r.stdout, "migrate --status: nothing pending")
    rows = s.mysql_rows("SELECT TABLE_NAME, ENGINE, TABLE_COLLATION FROM information_schema.TABLES "
                        "WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME")
    tables = [r[0] for r in rows]
    tap.ok(all(t in tables for t in ("accounts", "eab_keys", "nonces", "schema_migrations")),
           "the tables of 0001")
    tap.ok(all(t in tables for t in ("orders", "authorizations", "order_authorizations",
                                     "challenges", "serials", "certificates", "blocked_keys",
                                     "jobs", "order_domains", "ratelimit_exempt")),
           "the tables of 0002")
    tap.ok(all(r[1] == "InnoDB" and r[2].startswith("utf8mb4") for r in rows),
           "all InnoDB, utf8mb4")
    pk = s.mysql("SELECT COUNT(DISTINCT TABLE_NAME) FROM information_schema.STATISTICS WHERE "
                 "TABLE_SCHEMA = DATABASE() AND INDEX_NAME = 'PRIMARY'").strip()
    tap.is_(pk, str(len(rows)), "every table has a primary key")
    idx = s.mysql("SELECT COUNT(*) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = "
                  "DATABASE() AND TABLE_NAME = 'nonces' AND COLUMN_NAME = 'expires'").strip()
    tap.is_(idx, "1", "nonces.expires is indexed (the purge)")

    # --- a schema newer than this anvilctl knows ---
    s.mysql("INSERT INTO schema_migrations (version, name) VALUES (%d, '9999_future.sql')"
            % (newest + 1))
    r = s.anvilctl("migrate", check=False)
    tap.is_(r.returncode, 1, "newer schema: migrate exits 1")
    tap.ok("newer" in r.stderr, "and says why: %s" % r.stderr.strip())
    s.mysql("DELETE FROM schema_migrations WHERE version = %d" % (newest + 1))

    # --- a fresh database, and a later migration ---
    dbc = s.config["database"]
    s.db.ensure_database("anvil_t2100", dbc["user"], dbc["password"])
    cfg = copy.deepcopy(s.config)
    cfg["database"]["name"] = "anvil_t2100"
    path = os.path.join(s.dir, "t2100.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    ctl = binary("tools/anvilctl/anvilctl")

    def migrate(*args):
        return subprocess.run([ctl, "-c", path, "migrate"] + list(args), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, universal_newlines=True)

    def database_at(suffix, version):
        """A new database anvil_t2100<suffix>, the one migrate() works on from now on,
        migrated up to version."""
        nonlocal path
        name = "anvil_t2100" + suffix
        s.db.ensure_database(name, dbc["user"], dbc["password"])
        cfg["database"]["name"] = name
        path = os.path.join(s.dir, "t2100%s.json" % suffix)
        with open(path, "w") as f:
            json.dump(cfg, f)
        upto = proc.tmpdir("anvil-upto%d-" % version)
        for f in known:
            if int(f[:4]) <= version:
                shutil.copy(os.path.join(src, f), upto)
        return migrate("--dir", upto)
    r = migrate("--status")
    tap.ok(r.returncode == 0 and "pending %s" % known[0] in r.stdout,
           "a fresh database: --status lists %s as pending" % known[0])
    r = migrate()
    tap.ok(r.returncode == 0 and "applied %s" % known[-1] in r.stdout, "a fresh database migrates")
    later = proc.tmpdir("anvil-mig-")
    for f in known:
        shutil.copy(os.path.join(src, f), later)
    nxt = "%04d_test_later.sql" % (newest + 1)
    with open(os.path.join(later, nxt), "w") as f:
        f.write("-- a later migration\nCREATE TABLE t2100 (id INT NOT NULL PRIMARY KEY) "
                "ENGINE=InnoDB;\nINSERT INTO t2100 VALUES (1);\n")
    r = migrate("--dir", later)
    tap.ok(r.returncode == 0 and r.stdout.count("applied") == 1 and nxt in r.stdout,
           "only the new migration is applied")
    tap.is_(s.mysql("SELECT COUNT(*) FROM t2100", database="anvil_t2100").strip(), "1",
            "it ran")
    r = migrate()
    tap.ok(r.returncode == 1 and "newer" in r.stderr,
           "the older set of migrations refuses the newer schema")
    gap = proc.tmpdir("anvil-gap-")
    shutil.copy(os.path.join(src, known[0]), gap)
    with open(os.path.join(gap, "%04d_gap.sql" % (newest + 2)), "w") as f:
        f.write("SELECT 1;\n")
    r = migrate("--dir", gap)
    tap.ok(r.returncode == 1 and "gaps" in r.stderr, "numbering with a gap is refused")
    bad = proc.tmpdir("anvil-bad-")
    for f in known:
        shutil.copy(os.path.join(src, f), bad)
    with open(os.path.join(bad, "%04d_broken.sql" % (newest + 1)), "w") as f:
        f.write("CREATE TABLE broken (;\n")
    s.mysql("DELETE FROM schema_migrations WHERE version > %d" % newest,
            database="anvil_t2100")
    r = migrate("--dir", bad)
    tap.ok(r.returncode == 1 and "broken" in r.stderr, "a failing migration is reported by name")
    tap.is_(s.mysql("SELECT MAX(version) FROM schema_migrations",
                    database="anvil_t2100").strip(), str(newest), "and not recorded")

    # --- 0006 keeps the meaning of existing EAB keys: single-use, no expiry, every profile ---
    r = database_at("b", 5)
    tap.is_(r.returncode, 0, "a database at 0005")
    s.mysql("INSERT INTO accounts (id, thumbprint, jwk, eab_kid) VALUES "
            "(7, REPEAT('a', 43), '{}', 'bound');"
            "INSERT INTO eab_keys (kid, hmac_key, alg, account_id) VALUES "
            "('bound', 'k', 'HS256', 7), ('free', 'k', 'HS256', NULL)", database="anvil_t2100b")
    r = migrate()
    tap.is_(r.returncode, 0, "migrates to the newest")
    tap.is_(s.mysql_rows("SELECT kid, max_accounts, accounts_bound, expires IS NULL, "
                         "profiles IS NULL, revoked IS NULL FROM eab_keys ORDER BY kid",
                         database="anvil_t2100b"),
            [["bound", "1", "1", "1", "1", "1"], ["free", "1", "0", "1", "1", "1"]],
            "0006: a bound key is used up, a free one has its one use left")

    # --- 0009 moves challenges into their authorization's row, and renumbers validate jobs ---
    r = database_at("c", 8)
    tap.is_(r.returncode, 0, "a database at 0008")
    t = ["%022d" % i for i in range(6)]
    s.mysql("INSERT INTO authorizations (id, account_id, identifier_type, identifier_value, "
            "status, expires, profile, created) VALUES "
            "(10, 1, 'dns', 'a.test', 'valid', 9, 'p', 1), "
            "(11, 1, 'dns', 'b.test', 'pending', 9, 'p', 1);"
            "INSERT INTO challenges (id, authz_id, type, token, status, validated, error, "
            "validation_record) VALUES "
            "(100, 10, 'http-01', '%s', 'invalid', NULL, '{\"e\":1}', NULL), "
            "(101, 10, 'dns-01', '%s', 'valid', 1234, NULL, '[{\"r\":1}]'), "
            "(102, 10, 'tls-alpn-01', '%s', 'pending', NULL, NULL, NULL), "
            "(103, 11, 'http-01', '%s', 'processing', NULL, NULL, NULL), "
            "(104, 11, 'tls-alpn-01', '%s', 'pending', NULL, NULL, NULL);"
            "INSERT INTO jobs (kind, ref_id, state, run_after, created) VALUES "
            "('validate', 101, 'done', 1, 1), ('validate', 103, 'queued', 1, 1), "
            "('finalize', 103, 'queued', 1, 1)" % tuple(t[:5]), database="anvil_t2100c")
    r = migrate()
    tap.is_(r.returncode, 0, "0009 migrates a database with challenges")
    tap.is_(s.mysql_rows("SELECT id, token_http01, token_dns01, token_tlsalpn01, "
                         "chall_attempted, chall_status, chall_validated, chall_error, "
                         "chall_record FROM authorizations ORDER BY id",
                         database="anvil_t2100c"),
            [["10", t[0], t[1], t[2], "dns-01", "valid", "1234", "NULL", '[{"r":1}]'],
             ["11", t[3], "NULL", t[4], "http-01", "processing", "NULL", "NULL", "NULL"]],
            "0009: each type's token kept, the deciding challenge is the attempted one")
    base = 1 << 60
    tap.is_(s.mysql_rows("SELECT kind, ref_id, state FROM jobs ORDER BY id",
                         database="anvil_t2100c"),
            [["validate", str(base + 4 * 10 + 1), "done"],
             ["validate", str(base + 4 * 11 + 0), "queued"],
             ["finalize", "103", "queued"]],
            "0009: validate jobs name the new challenge ids, other kinds untouched")

    # --- anvilctl check / anvil-fcgi --check ---
    fcgi = binary("fcgi/anvil-fcgi")
    r = s.anvilctl("check", check=False)
    tap.ok(r.returncode == 0 and "OK" in r.stdout, "anvilctl check: the stack's config is OK")
    r = subprocess.run([fcgi, "-c", s.config_path, "--check"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True)
    tap.ok(r.returncode == 0, "anvil-fcgi --check: OK")
    broken = [
        ("fcgi.wrokers", lambda c: c["fcgi"].update(wrokers=2)),
        ("fcgi.workers", lambda c: c["fcgi"].update(workers="2")),
        ("fcgi.workers", lambda c: c["fcgi"].update(workers=0)),
        ("fcgi.socket_mode", lambda c: c["fcgi"].update(socket_mode="rw")),
        ("acme.base_url", lambda c: c["acme"].update(base_url="ftp://x")),
        ("acme.base_url", lambda c: c["acme"].update(base_url=c["acme"]["base_url"] + "/")),
        ("acme.contact_schemes", lambda c: c["acme"].update(contact_schemes=[1])),
        ("acme.external_account_required",
         lambda c: c["acme"].update(external_account_required="yes")),
        ("nonce.key", lambda c: c["nonce"].update(key="abcd")),
        ("nonce.key", lambda c: c["nonce"].pop("key")),
        ("nonce.lifetime", lambda c: c["nonce"].update(lifetime=0)),
        ("database.port", lambda c: c["database"].update(port=70000)),
        ("database.user", lambda c: c["database"].pop("user")),
        ("log.level", lambda c: c["log"].update(level="loud")),
        ("frobnicate", lambda c: c.update(frobnicate={})),
    ]
    for key, edit in broken:
        c = copy.deepcopy(s.config)
        edit(c)
        with open(path, "w") as f:
            json.dump(c, f)
        r1 = subprocess.run([ctl, "-c", path, "check"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True)
        r2 = subprocess.run([fcgi, "-c", path, "--check"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True)
        good = r1.returncode == 1 and key in r1.stderr and r2.returncode == 1 and key in r2.stderr
        if not tap.ok(good, "a bad %s is refused, naming the key" % key):
            tap.diag("anvilctl: %d %s / anvil-fcgi: %d %s" % (r1.returncode, r1.stderr.strip(),
                                                              r2.returncode, r2.stderr.strip()))

    # --- anvilctl eab add arguments ---
    for args, what in ((["eab"], "no subcommand"), (["eab", "add", "--kid", "a b"], "bad kid"),
                       (["eab", "add", "--kid", "k", "--alg", "RS256"], "bad alg"),
                       (["eab", "show"], "unknown subcommand"),
                       (["eab", "revoke"], "revoke without a kid")):
        r = s.anvilctl(*args, check=False)
        tap.is_(r.returncode, 2, "eab: %s is a usage error" % what)


tap.run(main)
