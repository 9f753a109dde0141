#!/usr/bin/env bash
# Soak and idle-memory benchmark of SmtpLens (loopback only; figures, not a test; not run in CI).
#   bench/soak.sh                       # build Release, 10,000 faulty/healthy sessions + 1,000 idle connections
#   bench/soak.sh --idle-only           # RSS per idle session only
#   SMTPLENS=/path/to/smtplens bench/soak.sh --sessions 2000 --json soak.json
# Options are soak.py's (bench/soak.py --help).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
if [[ -z "${SMTPLENS:-}" ]]; then
    timeout 900 dotnet build "$repo/src/SmtpLens.Cli/SmtpLens.Cli.csproj" -c Release -nologo -v quiet >&2
    SMTPLENS="$repo/src/SmtpLens.Cli/bin/Release/net10.0/smtplens"
fi
# One fd per client socket, per proxy leg and per upstream socket, plus transcript files.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
ulimit -c 0
echo "soak: $(date -u '+%Y-%m-%d %H:%M:%SZ'), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg), $SMTPLENS" >&2
exec python3 "$here/soak.py" --smtplens "$SMTPLENS" "$@"
