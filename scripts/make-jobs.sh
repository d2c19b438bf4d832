#!/bin/sh
# Prints the -j option a top-level `make` should add: -jN for N CPUs
# (nproc, else 2), or nothing when the user chose a job count already.
# $1 is make's process id: GNU make before 4.4 does not show a
# command-line -j in MAKEFLAGS while it reads the Makefile, so its
# arguments are read from /proc (where there is none, only MAKEFLAGS
# from the environment counts).
asked=
if [ -n "$1" ] && [ -r "/proc/$1/cmdline" ]; then
	if tr '\0' '\n' < "/proc/$1/cmdline" | grep -q -E -e '^-[^-]*j' -e '^--jobs'; then
		asked=1
	fi
fi
# MAKEFLAGS from the environment: its first word is single-letter flags
# without a dash ("kj4"), later ones are options; "--" starts variables.
for word in $MAKEFLAGS; do
	case $word in
	--) break ;;
	-j* | --jobs* | --jobserver*) asked=1 ;;
	-*) ;;
	*=*) ;;
	*j*) asked=1 ;;
	esac
done
[ -n "$asked" ] && exit 0
n=$(nproc 2>/dev/null) || n=
case $n in '' | *[!0-9]*) n=2 ;; esac
echo "-j$n"
