#!/bin/sh
# A model's bytes do not depend on the kind of CPU that trained it: the
# WordNet fixture is trained with the demo's options once per CPU path this
# machine can force (docs/results.md, "The same command on another CPU"):
# the library's loops at each x86-64 level (ANTHEM_ISA), BLIS's kernels
# (BLIS_ARCH_TYPE, BLIS 0.9.0's numbering; a training step calls no BLIS,
# and this is what would show it if one did again), and glibc's libm
# without AVX / FMA (GLIBC_TUNABLES).  Every model must be the same bytes.
# Then the same, one epoch, with each of issue 17's training experiments
# (docs/results.md, "What was tried for the margins").
# usage: kernels.sh ANTHEM FIXTURE_DIR
set -eu
anthem=$1 data=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
flags=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null || true)
has() { case " $flags " in *" $1 "*) return 0 ;; esac; return 1; }

train() { # name, then environment assignments ($extra: more flags)
	name=$1
	shift
	# shellcheck disable=SC2086 # $extra is a list of flags
	env "$@" "$anthem" train --catalog "$data/catalog.tsv" \
		--judgments "$data/train.tsv" --out "$tmp/$name.model" --dim 32 \
		--curvature 0.1 --gamma 0.2 --title-trigrams 32 --negatives 4 \
		--hard-negatives 2 --lexical --epochs "$epochs" --buckets 16384 \
		--lexical-buckets 16384 --threads 2 $extra >"$tmp/$name.log" 2>&1 ||
		{ cat "$tmp/$name.log"; exit 1; }
	sha256sum <"$tmp/$name.model" | cut -d' ' -f1 >"$tmp/$name.sha"
}

fail=0
for extra in "" --riemannian-adam --float64-tables --product-token \
	"--title-buckets 32768"; do
	epochs=1
	[ -n "$extra" ] || epochs=3
	train native
	paths=native
	if has avx512f; then
		train v4 ANTHEM_ISA=x86-64-v4 BLIS_ARCH_TYPE=0
		paths="$paths v4"
	fi
	if has avx2 && has fma; then
		train v3 ANTHEM_ISA=x86-64-v3 BLIS_ARCH_TYPE=3
		paths="$paths v3"
	fi
	train baseline ANTHEM_ISA=default BLIS_ARCH_TYPE=25 \
		GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX,-AVX2,-FMA,-AVX512F
	paths="$paths baseline"
	for p in $paths; do
		if ! cmp -s "$tmp/native.sha" "$tmp/$p.sha"; then
			echo "kernels.sh: the model trained on path '$p'${extra:+ with $extra} differs from this CPU's own" >&2
			fail=1
		fi
	done
	echo "kernels.sh: ${extra:-the default}: the same model bytes on paths: $paths"
done
[ "$fail" = 0 ] || exit 1
