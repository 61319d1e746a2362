#!/bin/sh
# Every public function, struct and enum of the installed headers has a
# comment: the API reference (Doxygen, docs/Doxyfile.in) is made of these
# comments, so an entity without one is a blank entry there.  A comment
# may document a group: the declarations that follow it without a blank
# line (e.g. save / load / free) share it.  Names each entity without a
# comment as FILE:LINE: name.
# usage: tests/doc-coverage.sh [HEADER...]   (default include/anthem/*.h)
set -eu
[ $# -gt 0 ] || set -- "$(dirname "$0")"/../include/anthem/*.h
awk '
	FNR == 1 { incomment = 0; group = 0; documented = 0 }
	# a blank line ends a group of declarations
	/^[ \t]*$/ { if (!incomment) { group = 0; documented = 0 } ; next }
	incomment {
		if (index($0, "*/")) { incomment = 0; documented = 1; group = 1 }
		next
	}
	/^[ \t]*\/\*/ {
		if (!index($0, "*/")) incomment = 1
		else { documented = 1; group = 1 }
		next
	}
	# preprocessor lines and the C++ guard are not entities
	/^[ \t]*#/ || /^ANTHEM_(BEGIN|END)_DECLS/ { next }
	{
		name = ""
		if ($0 ~ /ANTHEM_API/) {
			s = $0
			# "ANTHEM_API type" with the name on the next line
			if (!index(s, "(") && (getline nx) > 0) s = s " " nx
			sub(/\(.*/, "", s)
			n = split(s, w, /[ \t*]+/)
			name = w[n] "()"
		} else if ($0 ~ /^typedef (struct|enum)/ || $0 ~ /^(struct|enum) [a-z_]+ *\{/) {
			s = $0
			sub(/^typedef /, "", s)
			split(s, w, /[ \t{]+/)
			name = w[1] " " (w[2] == "" ? "(anonymous)" : w[2])
		}
		if (name != "" && !(group && documented)) {
			printf "%s:%d: %s has no comment\n", FILENAME, FNR, name
			bad++
		}
		group = 1
	}
	END { exit bad > 0 }
' "$@" >&2 && echo "doc-coverage: every public function, struct and enum of $# headers has a comment"
