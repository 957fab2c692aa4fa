#!/usr/bin/env bash
# Sourced by scripts/install-deps.sh and vm-image/debian-root.sh.
# The URI of the archive this machine's sources name its own release on (one-line .list files and
# deb822 .sources files alike); Debian's mirror when none does.
debian_archive() {
  local codename f uri=""
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -z "$uri" ] && [ -r "$f" ] && uri=$(awk -v suite="$codename" '$1 == "deb" {
      i = 2; if ($i ~ /^\[/) { while (i < NF && $i !~ /\]$/) i++; i++ }
      if ($(i + 1) == suite) { print $i; exit } }' "$f")
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -z "$uri" ] && [ -r "$f" ] && uri=$(awk -v suite="$codename" 'BEGIN { RS = ""; FS = "\n" } {
      types = uris = suites = enabled = ""
      for (n = 1; n <= NF; n++) {
        if ($n ~ /^[ \t#]/ || $n !~ /:/) continue
        key = tolower(substr($n, 1, index($n, ":") - 1)); val = " " substr($n, index($n, ":") + 1) " "
        if (key == "types") types = val; else if (key == "uris") uris = val
        else if (key == "suites") suites = val; else if (key == "enabled") enabled = tolower(val)
      }
      if (types ~ /[ \t]deb[ \t]/ && suites ~ ("[ \t]" suite "[ \t]") && enabled !~ /no/) {
        split(uris, u, /[ \t]+/); print u[2]; exit } }' "$f")
  done
  echo "${uri:-http://deb.debian.org/debian}"
}
