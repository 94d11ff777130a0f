# Turns a text file into C: `const char NAME[]` (NUL-terminated) and `NAME_len`, so the status
# page ships inside anvil-fcgi and nothing has to be installed next to it. Run with -v name=NAME.
BEGIN { printf "/* Generated from %s by fcgi/embed.awk: edit the source, not this file. */\n", ARGV[1]
	printf "extern const char %s[];\nconst char %s[] =\n", name, name; n = 0 }
{
	line = $0
	gsub(/\\/, "\\\\", line)
	gsub(/"/, "\\\"", line)
	gsub(/\t/, "\\t", line)
	printf "\"%s\\n\"\n", line
	n += length($0) + 1
}
END { printf ";\nextern const unsigned long %s_len;\nconst unsigned long %s_len = sizeof(%s) - 1;\n", name, name, name }
