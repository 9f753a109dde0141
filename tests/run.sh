#!/usr/bin/env bash
# The project's one test command (README "Run the tests"); .ci/run calls it.
# Installs the real peers the tests use (Debian packages), checks formatting, runs every test project,
# and ends with the plain line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."

need=()
# The transparent-insertion tests build network namespaces (iproute2), netfilter rules (iptables, nftables)
# and put HAProxy in front of SmtpLens; setpriv (util-linux) drops capabilities for the startup checks.
# The HTML report tests open the report in Debian's chromium (driven by Playwright, no browser download).
# The TLS policy comparison serves a zone signed with ldns-signzone from nsd through a validating unbound.
# gnutls-cli (gnutls-bin) is the GnuTLS client of the TLS parity tests.
for tool in postfix:/usr/sbin/postfix swaks:/usr/bin/swaks tshark:/usr/bin/tshark openssl:/usr/bin/openssl gnutls-bin:/usr/bin/gnutls-cli \
            iproute2:/usr/sbin/ip iptables:/usr/sbin/iptables nftables:/usr/sbin/nft haproxy:/usr/sbin/haproxy util-linux:/usr/bin/setpriv \
            chromium:/usr/bin/chromium nsd:/usr/sbin/nsd unbound:/usr/sbin/unbound ldnsutils:/usr/bin/ldns-signzone; do
  [ -x "${tool#*:}" ] || need+=("${tool%%:*}")
done
# swaks only recommends Net::SSLeay, but its --tls needs it.
perl -MNet::SSLeay -e1 2>/dev/null || need+=(libnet-ssleay-perl)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "tests/run.sh: missing ${need[*]}; run as root or: sudo apt-get install -y ${need[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  # The tests run their own private Postfix instances; the system one must not claim port 25.
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null || { echo "apt-get install ${need[*]} failed" >&2; exit 1; }
fi

dotnet build SmtpLens.sln -c Release -nologo -v quiet || { echo "0 passed, 1 failed"; exit 1; }

status=0
if ! dotnet format SmtpLens.sln --verify-no-changes --no-restore; then
  echo "dotnet format --verify-no-changes: formatting differs (run: dotnet format SmtpLens.sln)" >&2
  status=1
fi

log=$(mktemp)
dotnet test SmtpLens.sln -c Release --no-build --blame-hang-timeout 10m 2>&1 | tee "$log"
test_status=${PIPESTATUS[0]}
[ "$test_status" -eq 0 ] || status=$test_status

# dotnet test prints one "Failed: a, Passed: b, Skipped: c, Total: d" line per test assembly.
passed=$(grep -Eo 'Passed: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
failed=$(grep -Eo 'Failed: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
skipped=$(grep -Eo 'Skipped: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
assemblies=$(grep -Ec 'Total: +[0-9]+' "$log")
rm -f "$log"
passed=${passed:-0}; failed=${failed:-0}; skipped=${skipped:-0}
if [ "$test_status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  # A crashed or hung test host prints no summary; count it as a failure rather than hide it.
  failed=1
fi
if [ "$assemblies" -lt 2 ]; then
  echo "expected results from 2 test assemblies, saw $assemblies" >&2
  status=1
fi
echo "${passed} passed, ${failed} failed, ${skipped} skipped"
exit $status
