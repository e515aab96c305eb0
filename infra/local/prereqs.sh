#!/usr/bin/env bash
# System prerequisites of the local stack: Python 3.11+, Java 17+, Maven, PostgreSQL server,
# Chromium (the Data Docs test opens the quality report in headless Debian chromium), and for the
# Docker deployment (`pulumi up`, the `docker` tests) Debian's Docker Engine and debootstrap.
# Installs what is missing with apt when run as root; otherwise prints the one command to run.
set -euo pipefail

missing=()
python_ok() { "${PYTHON:-python3}" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; }
java_ok() {
  local v
  v=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1)
  [ -n "$v" ] && [ "$v" -ge 17 ]
}
pg_ok() {
  [ -n "${ETL_PG_BINDIR:-}" ] && [ -x "$ETL_PG_BINDIR/postgres" ] && return 0
  compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null
}

python_ok || missing+=("python3 python3-venv")
java_ok || missing+=("openjdk-17-jre-headless")
command -v mvn >/dev/null || missing+=("maven")
pg_ok || missing+=("postgresql")
command -v chromium >/dev/null || missing+=("chromium")
command -v dockerd >/dev/null || missing+=("docker.io")
command -v debootstrap >/dev/null || missing+=("debootstrap")

if [ ${#missing[@]} -eq 0 ]; then
  echo "prerequisites: ok (python, java 17+, maven, postgresql server, chromium, docker.io, debootstrap)"
  exit 0
fi
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  echo "prerequisites: installing ${missing[*]} with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2068
  apt-get install -y -qq --no-install-recommends ${missing[@]}
  exit 0
fi
echo "prerequisites missing: run  sudo apt-get install ${missing[*]}" >&2
exit 1
