# Makes the site file for Debian's own nginx (/etc/nginx/sites-available/anvil) from the
# standalone template nginx/anvil.conf.in, so that the two never drift apart. Debian's
# nginx.conf includes sites inside its http block, next to the operator's other sites, so:
#   - the main and events sections are nginx.conf's: dropped;
#   - what only the http level takes (log_format, limit_req_zone, fastcgi_cache_path) stays
#     there; every other http-level setting of the template goes into each of Anvil's server
#     blocks, so that none of them changes the other sites;
#   - the temp paths, sendfile and tcp_nopush are nginx.conf's; the OCSP micro-cache and the
#     access log move to Debian's directories (/var/lib/nginx, /var/log/nginx).
# Placeholders other than @USER@, @WORKERS@ and @RUN_DIR@ stay for the operator to fill.
function flush_stmt(   w) {
	if (stmt == "")
		return
	w = stmt
	sub(/^[ \t]*(#[^\n]*\n[ \t]*)*/, "", w)
	split(w, f, /[ \t;]+/)
	if (f[1] ~ /^(log_format|limit_req_zone|fastcgi_cache_path)$/)
		httplevel = httplevel stmt "\n"
	else if (f[1] !~ /^(sendfile|tcp_nopush|client_body_temp_path|fastcgi_temp_path|proxy_temp_path|scgi_temp_path|uwsgi_temp_path)$/)
		serverlevel = serverlevel stmt "\n"
	stmt = ""
}
function indent(text, pre,   out, n, i, l) {
	n = split(text, l, "\n")
	out = ""
	for (i = 1; i < n; i++)
		out = out (l[i] == "" ? "" : pre) l[i] "\n"
	return out
}
BEGIN {
	state = 0
	print "# Anvil for Debian's nginx: copy to /etc/nginx/sites-available/anvil, fill the"
	print "# placeholders (as in anvil.conf.in, whose header explains each), link it into"
	print "# sites-enabled and reload nginx. Generated from nginx/anvil.conf.in by"
	print "# nginx/debian-site.awk: change the template, not this file."
	print ""
}
state == 0 && /^http \{/ { state = 1; next }
state == 0 { next }
state == 1 && /^    server \{/ {
	flush_stmt()
	gsub(/@RUN_DIR@\/ocsp_cache/, "/var/lib/nginx/anvil_ocsp_cache", httplevel)
	gsub(/@RUN_DIR@\/access\.log/, "/var/log/nginx/anvil-access.log", serverlevel)
	sub(/^\n+/, "", serverlevel)
	printf "%s\n", indent(httplevel, "")
	state = 2
}
state == 1 {
	line = $0
	sub(/^    /, "", line)
	if (line ~ /^[ \t]*$/) { flush_stmt(); next }
	stmt = stmt (stmt == "" ? "" : "\n") line
	if (line !~ /^[ \t]*#/ && line ~ /;[ \t]*$/)
		flush_stmt()
	next
}
state == 2 && /^}/ { state = 3; next }
state == 2 {
	line = $0
	sub(/^    /, "", line)
	print line
	if (line ~ /^server \{/) {
		print "    # The template's http-level settings, for Anvil's servers only."
		printf "%s", indent(serverlevel, "    ")
		print ""
	}
	next
}
