#!/usr/bin/env bash
# SmtpLens throughput / resource benchmark. Produces figures; it is not a test
# (exit status is 0 even when a target is missed; non-zero only for usage or
# environment errors). See bench/README.md.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: bench/run.sh [options]

Runs each scenario through each relay and prints elapsed time, messages/s,
MB/s, TLS handshakes/s, relay CPU seconds and relay peak RSS, then a summary
table, the SmtpLens/socat (plain) and SmtpLens/sslsplit (TLS) ratios and
whether the targets hold.

Plain scenarios (smtp-source -> relay -> smtp-sink, all on 127.0.0.1):
  a   2,000 messages of 4 KiB over 20 concurrent sessions (smtp-source -d)
  b   one 100 MiB message
  c   (optional) like a, but one connection per message (no -d)
TLS scenarios, STARTTLS on both legs (bench/smtptls.py client -> relay ->
next hop: bench/smtptls.py sink, or a throwaway Postfix smtpd with --sink postfix;
postfix's smtp-source/smtp-sink cannot do TLS):
  ta  2,000 messages of 4 KiB over 20 concurrent sessions, one STARTTLS per session
  tb  one 100 MiB message in one STARTTLS session
  tc  2,000 sessions of one 4 KiB message, 20 in parallel: one handshake per
      message (handshakes/s); issue 14's "small" case
  td  one 50 MB (10^6 bytes; --big-mb) message in one STARTTLS session; issue
      14's "50 MB" case
  ti  --idle N sessions through the relay (banner + EHLO, then held): relay RSS
      before, with them open, and per session; always against the smtptls.py
      sink (one Postfix smtpd process per held session would be the bench);
      added to the scenarios by --idle N
Relays (plain scenarios):
  direct     client talks to the sink directly (no relay)
  socat      socat TCP-LISTEN:P,bind=127.0.0.1,fork,reuseaddr,backlog=128 TCP:127.0.0.1:Q
  socat-bl5  (optional) the same with socat's default listen backlog of 5
  smtplens   $SMTPLENS proxy --listen 127.0.0.1:P --upstream 127.0.0.1:Q --transcripts DIR
Relays (TLS scenarios):
  direct-tls    client does STARTTLS straight with the sink (no relay)
  sslsplit      sslsplit -k CA.key -c CA.pem -l connect.log -L content.log
                autossl 127.0.0.1 P 127.0.0.1 Q   (content logging on)
  smtplens-tls  $SMTPLENS proxy ... --tls intercept --ca-dir CA
  haproxy-tcp   haproxy -db -f CFG: mode tcp, blind (no TLS termination), also
                usable in the plain scenarios

Options:
  --quick              smoke run: 200 messages in a/c/ta, 200 sessions in tc,
                       a 10 MiB message in b/tb
  --runs N             repeat every cell N times, report the median (default 3)
  --scenarios LIST     comma separated (default a,b,ta,tb,tc)
  --relays LIST        comma separated (default
                       direct,socat,smtplens,direct-tls,sslsplit,smtplens-tls);
                       each relay only runs the scenarios of its transport
  --json FILE          also write a JSON report (machine, per-run and summary data)
  --timeout SECS       hard limit for one load-client run (default 300)
  --budget SECS        overall time budget; remaining runs are skipped (default 3600)
  --no-warmup          do not send the 50-message warm-up through the relay
  --drop-noisy         leave runs during which other processes used > 10% of the
                       machine out of the medians (they stay in the JSON)
  --wait-idle SECS     before each run wait up to SECS for the machine to be idle
                       (< 15% CPU over 1 s); default 0 = do not wait
  --tls VERSION        highest TLS version the TLS client and the next hop
                       offer: 1.2 (default) or 1.3, so both legs of every path
                       use it (same as BENCH_TLS_MAX)
  --handshake-cpu N    also run bench/tls-handshake (N handshakes per cell; 0 =
                       off, the default): SmtpLens's CPU per handshake per leg
  --sink KIND          next hop of the TLS scenarios: smtptls (default,
                       bench/smtptls.py sink) or postfix (a throwaway Postfix
                       smtpd per run, STARTTLS, mail discarded; needs root);
                       every message is checked in Postfix's log: accepted and
                       delivered (to discard) exactly once
  --client KIND        TLS load client: raw (default, smtptls.py's own socket
                       code) or smtplib (smtptls.py --smtplib: stdlib smtplib)
  --big-mb N           size of td's message in MB of 10^6 bytes (default 50)
  --idle N             also run scenario ti with N held sessions (default 0 = off)
  --issue14            issue 14's peer benchmark: --scenarios tc,td --idle 1000
                       --relays direct-tls,haproxy-tcp,sslsplit,smtplens-tls
                       --sink postfix --client smtplib --handshake-cpu 200;
                       explicit options win, in any order
  --no-build           do not build SmtpLens (use the existing binary)
  --workdir DIR        scratch directory (default: mktemp -d); removed at exit
  --keep               keep the scratch directory (logs, transcripts)
  -h, --help           this help

Environment:
  SMTPLENS       path of the smtplens executable. If unset, the script builds
                 src/SmtpLens.Cli in Release and uses
                 src/SmtpLens.Cli/bin/Release/net10.0/smtplens
  SMTPLENS_ARGS  extra arguments appended to the smtplens command line
  SMTP_SOURCE, SMTP_SINK, SOCAT, SSLSPLIT, OPENSSL, HAPROXY, POSTFIX   tool paths
                 (default /usr/sbin/smtp-source, /usr/sbin/smtp-sink, socat, see
                 SSLSPLIT_BUILD, openssl, haproxy, /usr/sbin/postfix)
  SSLSPLIT_BUILD build script of the patched sslsplit (default
                 ../shared/tools/sslsplit/build.sh beside the repository); when
                 SSLSPLIT is unset the bench runs it (it prints the binary) and
                 falls back to the Debian sslsplit, with a note, if that fails
  BENCH_TLS_MAX  highest TLS version the TLS client and next hop offer: 1.2
                 (default) or 1.3; relays negotiate within it on both legs
EOF
}

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
# resolve the real interpreter once (a pyenv shim costs ~0.1 s CPU per call)
PYTHON=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null) || PYTHON=python3
MEASURE=("$PYTHON" "$HERE/measure.py")

RUNS=3
QUICK=0
JSON_OUT=""
SCENARIOS="a,b,ta,tb,tc"
RELAYS="direct,socat,smtplens,direct-tls,sslsplit,smtplens-tls"
CLIENT_TIMEOUT=300
BUDGET=3600
WARMUP=1
DROP_NOISY=0
WAIT_IDLE=0
BUILD=1
HANDSHAKE_CPU=0
KEEP=0
WORK=""
READY_TIMEOUT=30
BUILD_TIMEOUT=900
SOCAT_BACKLOG=128
SAMPLE_INTERVAL=0.05   # relay RSS sampling period (s); ~2% of one CPU
TLS_SINK=smtptls
TLS_CLIENT=raw
BIG_MB=50
IDLE=0
ISSUE14=0
SET=" "                # options given explicitly (the --issue14 preset leaves them alone)

SMTP_SOURCE=${SMTP_SOURCE:-/usr/sbin/smtp-source}
SMTP_SINK=${SMTP_SINK:-/usr/sbin/smtp-sink}
SOCAT=${SOCAT:-socat}
SSLSPLIT_NOTE=""
if [[ -z "${SSLSPLIT:-}" ]]; then
  if [[ -z "${SSLSPLIT_BUILD:-}" && ! -f "$REPO/../shared/tools/sslsplit/build.sh" ]]; then
    # a git worktree: ../shared beside the main checkout
    main=$(git -C "$REPO" rev-parse --path-format=absolute --git-common-dir 2>/dev/null || true)
    [[ -n "$main" ]] && SSLSPLIT_BUILD=$(dirname "$(dirname "$main")")/shared/tools/sslsplit/build.sh
  fi
  SSLSPLIT_BUILD=${SSLSPLIT_BUILD:-$REPO/../shared/tools/sslsplit/build.sh}
  if [[ -f "$SSLSPLIT_BUILD" ]] && built=$(bash "$SSLSPLIT_BUILD" 2>/dev/null | tail -n 1) && [[ -x "$built" ]]; then
    SSLSPLIT=$built; SSLSPLIT_NOTE="patched develop build ($SSLSPLIT_BUILD)"
  else
    SSLSPLIT=sslsplit; SSLSPLIT_NOTE="NOTE: the patched sslsplit could not be built ($SSLSPLIT_BUILD); Debian's, which aborts under concurrent STARTTLS load"
  fi
fi
OPENSSL=${OPENSSL:-openssl}
HAPROXY=${HAPROXY:-haproxy}
POSTFIX=${POSTFIX:-/usr/sbin/postfix}
TLS_MAX=${BENCH_TLS_MAX:-1.2}
[[ "$TLS_MAX" == 1.2 || "$TLS_MAX" == 1.3 ]] || { echo "run.sh: BENCH_TLS_MAX must be 1.2 or 1.3" >&2; exit 2; }
SMTPTLS=("$PYTHON" "$HERE/smtptls.py")
SMTPLENS_DEFAULT="$REPO/src/SmtpLens.Cli/bin/Release/net10.0/smtplens"
if [[ -n "${SMTPLENS:-}" ]]; then BUILD=0; fi
SMTPLENS=${SMTPLENS:-$SMTPLENS_DEFAULT}
read -r -a SMTPLENS_EXTRA <<<"${SMTPLENS_ARGS:-}"

die() { echo "run.sh: $*" >&2; exit 2; }
need_arg() { [[ $# -ge 2 && -n "$2" ]] || die "option $1 needs an argument"; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --quick) QUICK=1 ;;
    --runs) need_arg "$@"; RUNS=$2; shift ;;
    --scenarios) need_arg "$@"; SCENARIOS=$2; SET+="scenarios "; shift ;;
    --relays) need_arg "$@"; RELAYS=$2; SET+="relays "; shift ;;
    --json) need_arg "$@"; JSON_OUT=$2; shift ;;
    --timeout) need_arg "$@"; CLIENT_TIMEOUT=$2; shift ;;
    --budget) need_arg "$@"; BUDGET=$2; shift ;;
    --no-warmup) WARMUP=0 ;;
    --drop-noisy) DROP_NOISY=1 ;;
    --wait-idle) need_arg "$@"; WAIT_IDLE=$2; shift ;;
    --tls) need_arg "$@"; TLS_MAX=$2; shift ;;
    --handshake-cpu) need_arg "$@"; HANDSHAKE_CPU=$2; SET+="handshake-cpu "; shift ;;
    --sink) need_arg "$@"; TLS_SINK=$2; SET+="sink "; shift ;;
    --client) need_arg "$@"; TLS_CLIENT=$2; SET+="client "; shift ;;
    --big-mb) need_arg "$@"; BIG_MB=$2; shift ;;
    --idle) need_arg "$@"; IDLE=$2; SET+="idle "; shift ;;
    --issue14) ISSUE14=1 ;;
    --no-build) BUILD=0 ;;
    --workdir) need_arg "$@"; WORK=$2; shift ;;
    --keep) KEEP=1 ;;
    *) usage >&2; die "unknown option: $1" ;;
  esac
  shift
done
if (( ISSUE14 )); then
  [[ "$SET" == *" scenarios "* ]] || SCENARIOS=tc,td
  [[ "$SET" == *" relays "* ]] || RELAYS=direct-tls,haproxy-tcp,sslsplit,smtplens-tls
  [[ "$SET" == *" sink "* ]] || TLS_SINK=postfix
  [[ "$SET" == *" client "* ]] || TLS_CLIENT=smtplib
  [[ "$SET" == *" idle "* ]] || IDLE=1000
  [[ "$SET" == *" handshake-cpu "* ]] || HANDSHAKE_CPU=200
fi
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "--runs must be a positive integer"
[[ "$TLS_SINK" == smtptls || "$TLS_SINK" == postfix ]] || die "--sink must be smtptls or postfix"
[[ "$TLS_CLIENT" == raw || "$TLS_CLIENT" == smtplib ]] || die "--client must be raw or smtplib"
[[ "$BIG_MB" =~ ^[1-9][0-9]*$ ]] || die "--big-mb must be a positive integer"
[[ "$IDLE" =~ ^[0-9]+$ ]] || die "--idle must be a number of sessions"
if (( IDLE > 0 )) && [[ ",$SCENARIOS," != *,ti,* ]]; then SCENARIOS+=",ti"; fi
[[ "$TLS_MAX" == 1.2 || "$TLS_MAX" == 1.3 ]] || die "--tls must be 1.2 or 1.3"
[[ "$HANDSHAKE_CPU" =~ ^[0-9]+$ ]] || die "--handshake-cpu must be a number of handshakes"
[[ "$CLIENT_TIMEOUT" =~ ^[1-9][0-9]*$ ]] || die "--timeout must be a positive integer"
[[ "$BUDGET" =~ ^[1-9][0-9]*$ ]] || die "--budget must be a positive integer"
[[ "$WAIT_IDLE" =~ ^[0-9]+$ ]] || die "--wait-idle must be a number of seconds"
if [[ -n "$JSON_OUT" ]]; then
  JSON_OUT=$(cd "$(dirname "$JSON_OUT")" && pwd)/$(basename "$JSON_OUT") || die "bad --json path"
fi

# ============================================================================
# Process bookkeeping: every long-lived process (sink, relay) runs under
# `measure.py supervise` in its own session. The supervisor stops the whole
# process group on SIGTERM/SIGINT, and the relay gets PR_SET_PDEATHSIG so it
# dies with its supervisor. The EXIT trap stops whatever is still running.
# ============================================================================
SUP_PIDS=()       # supervisor pids still running
SUP_PIDFILES=()   # matching pid files (pid == process group of the child)
CLIENT_PID=""     # load client (measure.py client) while it runs

cleanup() {
  local rc=$?
  trap - EXIT INT TERM HUP
  local i pid
  if [[ -n "$CLIENT_PID" ]]; then kill -TERM "$CLIENT_PID" 2>/dev/null || true; fi
  for i in "${!SUP_PIDS[@]}"; do
    kill -TERM "${SUP_PIDS[$i]}" 2>/dev/null || true
  done
  for i in "${!SUP_PIDS[@]}"; do
    # give each supervisor up to ~15 s (quiesce + SIGTERM grace), then force
    local n=0
    while kill -0 "${SUP_PIDS[$i]}" 2>/dev/null && (( n < 150 )); do sleep 0.1; n=$((n + 1)); done
    if kill -0 "${SUP_PIDS[$i]}" 2>/dev/null; then
      # supervisor stuck: kill it and the process group it started
      kill -KILL "${SUP_PIDS[$i]}" 2>/dev/null || true
      pid=$(cat "${SUP_PIDFILES[$i]}" 2>/dev/null || true)
      if [[ -n "$pid" ]]; then kill -KILL -- "-$pid" 2>/dev/null || true; fi
    fi
  done
  while (( ${#POSTFIX_ROOTS[@]} > 0 )); do postfix_stop "${POSTFIX_ROOTS[0]}"; done
  wait 2>/dev/null || true
  if [[ -n "$WORK" && -d "$WORK" ]]; then
    if (( KEEP )); then echo "scratch directory kept: $WORK" >&2; else rm -rf "$WORK"; fi
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'echo; echo "run.sh: interrupted" >&2; exit 130' INT
trap 'echo "run.sh: terminated" >&2; exit 143' TERM HUP

# start_supervised LOG STATS PIDFILE INTERVAL -- CMD...  -> sets SUP_PID, CHILD_PID
# (SUP_QUIESCE: seconds the supervisor waits for forked children on stop, default 3)
start_supervised() {
  local log=$1 stats=$2 pidfile=$3 interval=$4
  shift 5
  rm -f "$pidfile" "$stats"
  "${MEASURE[@]}" supervise --stats "$stats" --pidfile "$pidfile" --log "$log" \
    --interval "$interval" --quiesce "${SUP_QUIESCE:-3}" -- "$@" &
  SUP_PID=$!
  SUP_PIDS+=("$SUP_PID")
  SUP_PIDFILES+=("$pidfile")
  local n=0
  while [[ ! -s "$pidfile" ]] && (( n < 200 )); do
    kill -0 "$SUP_PID" 2>/dev/null || break
    sleep 0.02; n=$((n + 1))
  done
  CHILD_PID=$(cat "$pidfile" 2>/dev/null || true)
  [[ -n "$CHILD_PID" ]]
}

# stop_supervised SUP_PID: ask the supervisor to stop its process, wait for it
stop_supervised() {
  local sup=$1 i keep_p=() keep_f=()
  kill -TERM "$sup" 2>/dev/null || true
  wait "$sup" 2>/dev/null || true
  for i in "${!SUP_PIDS[@]}"; do
    if [[ "${SUP_PIDS[$i]}" != "$sup" ]]; then
      keep_p+=("${SUP_PIDS[$i]}"); keep_f+=("${SUP_PIDFILES[$i]}")
    fi
  done
  SUP_PIDS=("${keep_p[@]+"${keep_p[@]}"}")
  SUP_PIDFILES=("${keep_f[@]+"${keep_f[@]}"}")
}

# ============================================================================
# Scenarios. scenario_NAME sets:
#   SC_DESC, SC_SESSIONS, SC_MESSAGES, SC_LENGTH (payload bytes per message),
#   SC_CLIENT_FLAGS (extra client flags), SC_TRANSPORT (plain | starttls),
#   SC_CLIENT / SC_SINK (name of client_* / sink_* functions).
# To add a scenario: add a function here; relays declare which transports they
# support in relay_NAME_supports.
# ============================================================================
scenario_a() {
  SC_KIND=load
  SC_SESSIONS=20; SC_MESSAGES=2000; SC_LENGTH=4096
  if (( QUICK )); then SC_MESSAGES=200; fi
  SC_CLIENT_FLAGS=(-d)   # -d: keep each session open, ~MESSAGES/SESSIONS messages per session
  SC_DESC="$SC_MESSAGES x 4 KiB messages, $SC_SESSIONS concurrent sessions (messages reuse the session)"
  SC_TRANSPORT=plain; SC_CLIENT=smtp_source; SC_SINK=smtp_sink
}
scenario_b() {
  SC_KIND=load
  SC_SESSIONS=1; SC_MESSAGES=1; SC_LENGTH=$((100 * 1024 * 1024))
  if (( QUICK )); then SC_LENGTH=$((10 * 1024 * 1024)); fi
  SC_CLIENT_FLAGS=()
  SC_DESC="1 message of $((SC_LENGTH / 1024 / 1024)) MiB"
  SC_TRANSPORT=plain; SC_CLIENT=smtp_source; SC_SINK=smtp_sink
}
scenario_c() {
  SC_KIND=load
  SC_SESSIONS=20; SC_MESSAGES=2000; SC_LENGTH=4096
  if (( QUICK )); then SC_MESSAGES=200; fi
  SC_CLIENT_FLAGS=()     # no -d: one TCP connection + SMTP session per message
  SC_DESC="$SC_MESSAGES x 4 KiB messages, one connection per message, $SC_SESSIONS in parallel"
  SC_TRANSPORT=plain; SC_CLIENT=smtp_source; SC_SINK=smtp_sink
}
# TLS scenarios: STARTTLS on both legs, bench/smtptls.py client (--client),
# next hop bench/smtptls.py sink or Postfix smtpd (--sink)
SC_KIND=load   # load | idle (ti)
scenario_ta() {
  scenario_a
  SC_DESC="$SC_MESSAGES x 4 KiB messages, $SC_SESSIONS concurrent sessions, one STARTTLS per session"
  SC_TRANSPORT=starttls; SC_CLIENT=smtptls; SC_SINK=$TLS_SINK
}
scenario_tb() {
  scenario_b
  SC_DESC="1 message of $((SC_LENGTH / 1024 / 1024)) MiB in one STARTTLS session"
  SC_TRANSPORT=starttls; SC_CLIENT=smtptls; SC_SINK=$TLS_SINK
}
scenario_tc() {
  scenario_c
  SC_DESC="$SC_MESSAGES sessions x one 4 KiB message, $SC_SESSIONS in parallel, one STARTTLS (full handshake) per session"
  SC_TRANSPORT=starttls; SC_CLIENT=smtptls; SC_SINK=$TLS_SINK
}
scenario_td() {
  SC_KIND=load; SC_SESSIONS=1; SC_MESSAGES=1; SC_LENGTH=$((BIG_MB * 1000 * 1000))
  if (( QUICK )); then SC_LENGTH=$((10 * 1000 * 1000)); fi
  SC_CLIENT_FLAGS=()
  SC_DESC="1 message of $((SC_LENGTH / 1000 / 1000)) MB in one STARTTLS session"
  SC_TRANSPORT=starttls; SC_CLIENT=smtptls; SC_SINK=$TLS_SINK
}
scenario_ti() {
  SC_KIND=idle; SC_SESSIONS=$IDLE; SC_MESSAGES=0; SC_LENGTH=0
  (( SC_SESSIONS > 0 )) || SC_SESSIONS=1000
  SC_CLIENT_FLAGS=()
  SC_DESC="$SC_SESSIONS idle sessions held through the relay (banner + EHLO read), relay RSS per session; next hop smtptls.py sink"
  SC_TRANSPORT=starttls; SC_CLIENT=smtptls; SC_SINK=smtptls
}

# ============================================================================
# Relays. relay_NAME_check prints a reason and fails if the relay is unusable;
# relay_NAME_supports TRANSPORT; relay_NAME_cmd LPORT UPORT RUNDIR sets
# RELAY_CMD (empty = no relay process, the client connects to the sink),
# RELAY_TRANSCRIPTS (directory whose growth is reported, or empty),
# RELAY_QUIESCE (seconds to wait for forked per-connection children before
# stopping/after the warm-up; only socat forks) and RELAY_CPU (exit = CPU from
# the wait4 rusage at exit, children reaped by the relay included; live = CPU
# of all live processes of the relay at the end of the load minus at its start,
# for relays whose long-lived worker processes are not reaped, e.g. sslsplit).
# ============================================================================
relay_defaults() { RELAY_CMD=(); RELAY_TRANSCRIPTS=""; RELAY_QUIESCE=0; RELAY_CPU="exit"; }

relay_direct_check()    { return 0; }
relay_direct_supports() { [[ $1 == plain ]]; }
relay_direct_cmd()      { RELAY_CMD=(); RELAY_TRANSCRIPTS=""; }

relay_direct-tls_check()    { tls_check; }
relay_direct-tls_supports() { [[ $1 == starttls ]]; }
relay_direct-tls_cmd()      { RELAY_CMD=(); RELAY_TRANSCRIPTS=""; }

relay_socat_check()    { command -v "$SOCAT" >/dev/null || { echo "socat: not installed"; return 1; }; }
relay_socat_supports() { [[ $1 == plain ]]; }
relay_socat_cmd() {
  # backlog=128: socat's default listen backlog is 5, which drops SYNs with 20
  # concurrent connects and adds 1-3 s SYN-retransmit stalls (see README).
  RELAY_CMD=("$SOCAT" "TCP-LISTEN:$1,bind=127.0.0.1,fork,reuseaddr,backlog=$SOCAT_BACKLOG" "TCP:127.0.0.1:$2")
  RELAY_TRANSCRIPTS=""; RELAY_QUIESCE=3
}

relay_socat-bl5_check()    { relay_socat_check; }
relay_socat-bl5_supports() { [[ $1 == plain ]]; }
relay_socat-bl5_cmd() {
  RELAY_CMD=("$SOCAT" "TCP-LISTEN:$1,bind=127.0.0.1,fork,reuseaddr" "TCP:127.0.0.1:$2")
  RELAY_TRANSCRIPTS=""; RELAY_QUIESCE=3
}

SMTPLENS_STATUS=""   # empty = usable, otherwise the reason it is not
relay_smtplens_check() {
  if [[ -n "$SMTPLENS_STATUS" ]]; then echo "$SMTPLENS_STATUS"; return 1; fi
  return 0
}
relay_smtplens_supports() { [[ $1 == plain ]]; }
relay_smtplens_cmd() {
  RELAY_TRANSCRIPTS="$3/transcripts"
  mkdir -p "$RELAY_TRANSCRIPTS"
  RELAY_CMD=("$SMTPLENS" proxy --listen "127.0.0.1:$1" --upstream "127.0.0.1:$2"
             --transcripts "$RELAY_TRANSCRIPTS" "${SMTPLENS_EXTRA[@]+"${SMTPLENS_EXTRA[@]}"}")
}

# SmtpLens with STARTTLS on both legs: terminates the client's STARTTLS with a
# certificate forged by its CA and re-originates TLS upstream
relay_smtplens-tls_check() { relay_smtplens_check || return 1; tls_check; }
relay_smtplens-tls_supports() { [[ $1 == starttls ]]; }
relay_smtplens-tls_cmd() {
  RELAY_TRANSCRIPTS="$3/transcripts"
  mkdir -p "$RELAY_TRANSCRIPTS"
  RELAY_CMD=("$SMTPLENS" proxy --listen "127.0.0.1:$1" --upstream "127.0.0.1:$2"
             --transcripts "$RELAY_TRANSCRIPTS" --tls intercept --ca-dir "$TLS_DIR/ca"
             "${SMTPLENS_EXTRA[@]+"${SMTPLENS_EXTRA[@]}"}")
}

# sslsplit in autossl mode: plain TCP until it sees a ClientHello from the
# client (after STARTTLS), then TLS interception on both legs. Content logging
# on (-L: all decrypted data of both directions into one file) plus the
# connection log (-l). Run as root it drops privileges to nobody and keeps a
# privileged parent: two processes, the worker is never reaped before the end,
# hence RELAY_CPU=live. Its logs are reported in the transcripts column.
relay_sslsplit_check() {
  command -v "$SSLSPLIT" >/dev/null || { echo "sslsplit: not installed"; return 1; }
  tls_check
}
relay_sslsplit_supports() { [[ $1 == starttls ]]; }
relay_sslsplit_cmd() {
  RELAY_TRANSCRIPTS="$3/sslsplit-logs"
  mkdir -p "$RELAY_TRANSCRIPTS"
  RELAY_CMD=("$SSLSPLIT" -k "$TLS_CA_KEY" -c "$TLS_CA_CERT" -l "$RELAY_TRANSCRIPTS/connect.log"
             -L "$RELAY_TRANSCRIPTS/content.log" autossl 127.0.0.1 "$1" 127.0.0.1 "$2")
  RELAY_CPU=live
}

# haproxy in tcp mode: a blind relay (no TLS termination, STARTTLS passes
# through as bytes), the floor for what any relay in the path costs. One
# process (its threads: one per CPU by default), so RELAY_CPU=exit.
relay_haproxy-tcp_check() { command -v "$HAPROXY" >/dev/null || { echo "haproxy: not installed"; return 1; }; }
relay_haproxy-tcp_supports() { return 0; }
relay_haproxy-tcp_cmd() {
  # maxconn well above --idle's sessions (two fds each); timeouts long enough
  # for held idle sessions and the bulk message
  cat >"$3/haproxy.cfg" <<EOF
global
    maxconn 5000
defaults
    mode tcp
    timeout connect 10s
    timeout client 10m
    timeout server 10m
listen smtp
    bind 127.0.0.1:$1
    server nexthop 127.0.0.1:$2
EOF
  RELAY_CMD=("$HAPROXY" -db -f "$3/haproxy.cfg")
  RELAY_TRANSCRIPTS=""
}

# ============================================================================
# TLS material (made once per bench run, under $WORK/tls):
#   sink certificate: self-signed RSA-2048 (openssl req -x509), CN/SAN
#     sink.bench.invalid + IP 127.0.0.1; clients do not verify certificates.
#   interception CA: `smtplens ca init` (RSA-2048) when SmtpLens is available,
#     else an RSA-2048 CA made with openssl; sslsplit uses the same CA files.
#   Both interceptors forge RSA-2048 leaf certificates (one leaf key per
#   process, certificates cached per upstream certificate).
# ============================================================================
TLS_DIR=""; TLS_STATUS="unprepared"; TLS_CA_CERT=""; TLS_CA_KEY=""; TLS_CA_MAKER=""
tls_check() {
  if [[ "$TLS_STATUS" != ok ]]; then echo "TLS: $TLS_STATUS"; return 1; fi
  return 0
}
prepare_tls() {
  TLS_DIR="$WORK/tls"
  mkdir -p "$TLS_DIR/ca"
  if ! command -v "$OPENSSL" >/dev/null; then
    TLS_STATUS="openssl not found (needed for the sink certificate)"; return 0
  fi
  if ! "$OPENSSL" req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=sink.bench.invalid" \
      -addext "subjectAltName=DNS:sink.bench.invalid,IP:127.0.0.1" \
      -keyout "$TLS_DIR/sink.key" -out "$TLS_DIR/sink.pem" >"$TLS_DIR/openssl.log" 2>&1; then
    TLS_STATUS="openssl could not make the sink certificate: $(tail -n 2 "$TLS_DIR/openssl.log" | tr '\n' ' ')"; return 0
  fi
  if [[ -z "$SMTPLENS_STATUS" && -x "$SMTPLENS" ]] \
      && "$SMTPLENS" ca init --dir "$TLS_DIR/ca" >"$TLS_DIR/ca-init.log" 2>&1 \
      && [[ -s "$TLS_DIR/ca/smtplens-ca.pem" && -s "$TLS_DIR/ca/smtplens-ca.key" ]]; then
    TLS_CA_MAKER="smtplens ca init"
  elif "$OPENSSL" req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/O=SmtpLens bench/CN=Bench Interception CA" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -keyout "$TLS_DIR/ca/smtplens-ca.key" -out "$TLS_DIR/ca/smtplens-ca.pem" >>"$TLS_DIR/openssl.log" 2>&1; then
    TLS_CA_MAKER="openssl req -x509"
  else
    TLS_STATUS="could not make the interception CA"; return 0
  fi
  TLS_CA_CERT="$TLS_DIR/ca/smtplens-ca.pem"; TLS_CA_KEY="$TLS_DIR/ca/smtplens-ca.key"
  TLS_STATUS=ok
}

prepare_smtplens() {
  if (( BUILD )); then
    echo "building SmtpLens (dotnet build -c Release src/SmtpLens.Cli/SmtpLens.Cli.csproj) ..."
    local log="$WORK/smtplens-build.log" rc=0
    ( cd "$REPO" && timeout "$BUILD_TIMEOUT" dotnet build -c Release -nologo \
        src/SmtpLens.Cli/SmtpLens.Cli.csproj ) >"$log" 2>&1 || rc=$?
    if (( rc != 0 )); then
      SMTPLENS_STATUS="smtplens: build failed / not available (dotnet build exit $rc)"
      echo "$SMTPLENS_STATUS; last errors:" >&2
      { grep -E ' error |error [A-Z]+[0-9]+' "$log" || tail -n 15 "$log"; } | sort -u | head -n 15 | sed 's/^/    /' >&2
      return 0
    fi
  fi
  if [[ ! -x "$SMTPLENS" ]]; then
    SMTPLENS_STATUS="smtplens: build failed / not available ($SMTPLENS is not an executable)"
    echo "$SMTPLENS_STATUS" >&2
  fi
}

# ============================================================================
# Postfix smtpd as the next hop (--sink postfix): a throwaway instance per run
# under RUNDIR/postfix (own config, queue, data and log directories; it never
# reads /etc/postfix), on 127.0.0.1 only, STARTTLS with the sink certificate
# (TLS up to --tls), every message delivered to discard(8) so the queue does
# not grow. master daemonises and becomes a session leader, so it runs outside
# measure.py supervise: `postfix start`, stopped by SIGTERM to master (which
# stops its process group), SIGKILL to the group if it lingers. Counters come
# from its log (measure.py postfix-count): sessions, TLS handshakes, messages
# accepted (queued) and delivered.
# ============================================================================
POSTFIX_ROOTS=()   # instances still running (the EXIT trap stops them)
POSTFIX_ERROR=""; POSTFIX_PID=""
sink_postfix_check() {
  [[ $(id -u) -eq 0 ]] || { echo "postfix sink: needs root (master starts as root and drops to mail_owner)"; return 1; }
  [[ -x "$POSTFIX" && -x /usr/lib/postfix/sbin/master ]] || { echo "postfix sink: $POSTFIX not installed"; return 1; }
  { getent passwd postfix && getent group postdrop; } >/dev/null || { echo "postfix sink: user postfix or group postdrop missing"; return 1; }
}

postfix_master_pid() { tr -d ' \n' <"$1/spool/pid/master.pid" 2>/dev/null || true; }

# postfix_start ROOT PORT -> POSTFIX_PID (master), or returns 1 with POSTFIX_ERROR
postfix_start() {
  local root=$1 port=$2 protocols=">=TLSv1.2"
  [[ "$TLS_MAX" == 1.2 ]] && protocols=">=TLSv1.2, <=TLSv1.2"
  mkdir -p "$root/etc" "$root/spool" "$root/log"
  # master's children run as postfix: every directory on the way must be searchable
  chmod 755 "$root" "$root/etc" "$root/spool" "$root/log"
  cat >"$root/etc/main.cf" <<EOF
# bench/run.sh --sink postfix: throwaway next hop, mail discarded
compatibility_level = 3.6
config_directory = $root/etc
queue_directory = $root/spool
data_directory = $root/data
mail_owner = postfix
setgid_group = postdrop
maillog_file = $root/log/postfix.log
maillog_file_prefixes = $root/log
myhostname = nexthop.bench.invalid
mydomain = bench.invalid
myorigin = \$myhostname
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
relay_domains =
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
default_transport = discard
relay_transport = discard
local_transport = discard
virtual_transport = discard
message_size_limit = 1000000000
mailbox_size_limit = 0
smtp_dns_support_level = disabled
smtpd_peername_lookup = no
biff = no
smtpd_error_sleep_time = 0s
in_flow_delay = 0s
smtpd_tls_chain_files = $TLS_DIR/sink.key, $TLS_DIR/sink.pem
smtpd_tls_security_level = may
smtpd_tls_loglevel = 1
smtpd_tls_protocols = $protocols
smtpd_tls_mandatory_protocols = $protocols
EOF
  cat >"$root/etc/master.cf" <<EOF
# service type  private unpriv  chroot  wakeup  maxproc command
127.0.0.1:$port inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
  # Postfix waits ~2 s for a main.cf younger than a few seconds to "finish changing"
  touch -d '1 hour ago' "$root/etc/main.cf" "$root/etc/master.cf"
  POSTFIX_ROOTS+=("$root")
  if ! "$POSTFIX" -c "$root/etc" start >"$root/start.log" 2>&1; then
    POSTFIX_ERROR="postfix start failed: $(cat "$root/start.log" "$root/log/postfix.log" 2>/dev/null | tail -n 3 | tr '\n' ' ' | cut -c1-300)"
    postfix_stop "$root"; return 1
  fi
  local n=0
  POSTFIX_PID=$(postfix_master_pid "$root")
  while [[ -z "$POSTFIX_PID" ]] && (( n < 100 )); do sleep 0.05; n=$((n + 1)); POSTFIX_PID=$(postfix_master_pid "$root"); done
  [[ -n "$POSTFIX_PID" ]] || { POSTFIX_ERROR="postfix started but wrote no master.pid"; postfix_stop "$root"; return 1; }
}

# postfix_stop ROOT: SIGTERM to master (it stops its process group), then SIGKILL to the group
postfix_stop() {
  local root=$1 pid n=0 i keep=()
  pid=$(postfix_master_pid "$root")
  if [[ -n "$pid" ]] && kill -TERM "$pid" 2>/dev/null; then
    while kill -0 -- "-$pid" 2>/dev/null && (( n < 100 )); do sleep 0.05; n=$((n + 1)); done
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  for i in "${!POSTFIX_ROOTS[@]}"; do
    [[ "${POSTFIX_ROOTS[$i]}" == "$root" ]] || keep+=("${POSTFIX_ROOTS[$i]}")
  done
  POSTFIX_ROOTS=("${keep[@]+"${keep[@]}"}")
}

# ============================================================================
# Load clients and sinks.
# ============================================================================
SINK_USER_ARGS=()
if [[ $(id -u) -eq 0 ]]; then SINK_USER_ARGS=(-u nobody); fi  # smtp-sink refuses to run as root

# sink_smtp_sink PORT -> SINK_CMD. -c prints "sess=N quit=N mesg=N" counters.
sink_smtp_sink() {
  SINK_CMD=("$SMTP_SINK" "${SINK_USER_ARGS[@]+"${SINK_USER_ARGS[@]}"}" -c "127.0.0.1:$1" 1024)
}

# sink_smtptls PORT -> SINK_CMD: STARTTLS discard sink (bench/smtptls.py);
# prints "sess=N quit=N mesg=N tls=N tlsfail=N data=N" like smtp-sink -c
sink_smtptls() {
  SINK_CMD=("${SMTPTLS[@]}" sink --listen "127.0.0.1:$1" --cert "$TLS_DIR/sink.pem"
            --key "$TLS_DIR/sink.key" --tls-max "$TLS_MAX")
}

# client_smtptls PORT SESSIONS MESSAGES LENGTH OUT LOG RELAY_PID SINK_PID [FLAGS...]
# STARTTLS load client (bench/smtptls.py): like smtp-source, one thread per
# session, one STARTTLS per session; writes OUT with .json -> .tls.json details
client_smtptls() {
  local port=$1 s=$2 m=$3 l=$4 out=$5 log=$6 rpid=$7 spid=$8
  shift 8
  local kind=()
  [[ "$TLS_CLIENT" == smtplib ]] && kind=(--smtplib)
  "${MEASURE[@]}" client --out "$out" --log "$log" --timeout "$CLIENT_TIMEOUT" --relay-pid "$rpid" --sink-pid "$spid" -- \
    "${SMTPTLS[@]}" client "${kind[@]+"${kind[@]}"}" -s "$s" -m "$m" -l "$l" --tls-max "$TLS_MAX" \
    --report "${out%.json}.tls.json" "$@" "127.0.0.1:$port" &
  CLIENT_PID=$!
  local rc=0
  wait "$CLIENT_PID" || rc=$?
  CLIENT_PID=""
  return "$rc"
}

# client_smtp_source PORT SESSIONS MESSAGES LENGTH OUT LOG RELAY_PID SINK_PID [FLAGS...]
client_smtp_source() {
  local port=$1 s=$2 m=$3 l=$4 out=$5 log=$6 rpid=$7 spid=$8
  shift 8
  # run in the background and `wait`, so that a SIGINT/SIGTERM to the script
  # runs the trap at once instead of after the client has finished
  "${MEASURE[@]}" client --out "$out" --log "$log" --timeout "$CLIENT_TIMEOUT" --relay-pid "$rpid" --sink-pid "$spid" -- \
    "$SMTP_SOURCE" -M bench.invalid -s "$s" -m "$m" -l "$l" "$@" "127.0.0.1:$port" &
  CLIENT_PID=$!
  local rc=0
  wait "$CLIENT_PID" || rc=$?
  CLIENT_PID=""
  return "$rc"
}

# ============================================================================
# One measured run of one scenario through one relay.
# ============================================================================
RESULTS=""
run_one() {
  local run=$1 sc=$2 relay=$3
  local dir="$WORK/run$run/$sc-$relay"
  mkdir -p "$dir"
  "scenario_$sc"
  local sink_port relay_port
  read -r sink_port relay_port < <("${MEASURE[@]}" freeport 2)

  local error="" sink_sup="" relay_sup="" relay_pid=0 client_port=$sink_port
  local rchar0="" rchar1="" msgs0=0 tls0=0 quit0=0 tbytes0=0 relay_stats_args=()
  relay_defaults

  local pf_root="" warm_msgs=0
  if [[ $SC_SINK == postfix ]]; then
    pf_root="$dir/postfix"
    CHILD_PID=""
    if postfix_start "$pf_root" "$sink_port"; then
      CHILD_PID=$POSTFIX_PID
      "${MEASURE[@]}" wait-listen --port "$sink_port" --pid "$CHILD_PID" --timeout "$READY_TIMEOUT" \
        || error="postfix smtpd not listening: $(tail -n 3 "$pf_root/log/postfix.log" 2>/dev/null | tr '\n' ' ')"
    else
      error=$POSTFIX_ERROR
    fi
  elif "sink_$SC_SINK" "$sink_port" && ! start_supervised "$dir/sink.log" "$dir/sink.stats.json" "$dir/sink.pid" 0.5 -- "${SINK_CMD[@]}"; then
    error="sink failed to start"
  else
    sink_sup=$SUP_PID
    # smtp-sink -c writes its counters to stdout == sink.log
    "${MEASURE[@]}" wait-listen --port "$sink_port" --pid "$CHILD_PID" --timeout "$READY_TIMEOUT" \
      || error="sink not listening: $(tail -n 3 "$dir/sink.log" | tr '\n' ' ')"
  fi
  local sink_pid=${CHILD_PID:-0}

  if [[ -z "$error" ]]; then
    "relay_${relay}_cmd" "$relay_port" "$sink_port" "$dir"
    if (( ${#RELAY_CMD[@]} > 0 )); then
      relay_stats_args=(--relay-stats "$dir/relay.stats.json" --relay-log "$dir/relay.log" --relay-cpu "$RELAY_CPU")
      printf '%q ' "${RELAY_CMD[@]}" >"$dir/relay.cmd"
      if ! SUP_QUIESCE=$RELAY_QUIESCE start_supervised "$dir/relay.log" "$dir/relay.stats.json" "$dir/relay.pid" "$SAMPLE_INTERVAL" -- "${RELAY_CMD[@]}"; then
        error="relay failed to start"
      else
        relay_sup=$SUP_PID; relay_pid=$CHILD_PID; client_port=$relay_port
        local wrc=0
        "${MEASURE[@]}" wait-listen --port "$relay_port" --pid "$relay_pid" --timeout "$READY_TIMEOUT" \
          2>>"$dir/relay.log" || wrc=$?
        if (( wrc == 2 )); then
          error="relay exited during start-up; log: $(tail -n 3 "$dir/relay.log" | tr '\n' ' ' | cut -c1-300)"
        elif (( wrc != 0 )); then
          error="relay not listening after ${READY_TIMEOUT}s; log: $(tail -n 3 "$dir/relay.log" | tr '\n' ' ' | cut -c1-300)"
        fi
      fi
    fi
  fi

  if [[ -z "$error" && $WARMUP -eq 1 ]]; then
    # unmeasured warm-up (JIT, pools); excluded from CPU, sink and transcript deltas.
    # Plain: 50 messages over 5 sessions. TLS: 50 messages in ONE session (both
    # TLS legs, forging and the relay path are exercised once), so that sslsplit,
    # which exits at random at the start of a connection (see README), fails as
    # rarely as possible outside the measured load. Same warm-up for every relay.
    local warm_sessions=5
    [[ $SC_TRANSPORT == plain ]] || warm_sessions=1
    "client_$SC_CLIENT" "$client_port" "$warm_sessions" 50 4096 "$dir/warmup.json" "$dir/warmup.log" "$relay_pid" "$sink_pid" -d \
      || error="warm-up failed: $(tail -n 2 "$dir/warmup.log" | tr '\n' ' ')"
    warm_msgs=50
    # let forked per-connection children (socat) exit and be reaped before the CPU baseline
    if (( relay_pid > 0 )); then
      if (( RELAY_QUIESCE > 0 )); then
        "${MEASURE[@]}" quiesce --pid "$relay_pid" --timeout "$RELAY_QUIESCE" || true
      fi
      kill -USR1 "$relay_sup" 2>/dev/null || true   # restart the sampled tree peaks
    fi
  fi

  # Postfix: the warm-up's messages delivered (or 60 s), then its counters from the log
  if [[ -z "$error" && -n "$pf_root" ]]; then
    "${MEASURE[@]}" postfix-count --log "$pf_root/log/postfix.log" --wait-delivered "$warm_msgs" >>"$dir/sink.log"
  fi
  local data0=0 deliv0=0
  if [[ -z "$error" && $SC_KIND == idle ]]; then
    if (( relay_pid > 0 )); then
      "${MEASURE[@]}" idle --port "$client_port" --count "$SC_SESSIONS" --relay-pid "$relay_pid" \
        --out "$dir/idle.json" >"$dir/idle.log" 2>&1 || true
      tail -n 1 "$dir/idle.log" | sed 's/^/    /'
    else
      error="idle sessions need a relay process"
    fi
  elif [[ -z "$error" ]]; then
    read -r msgs0 tls0 quit0 data0 deliv0 < <("${MEASURE[@]}" sink-count --fields messages,tls,quits,data_bytes,delivered "$dir/sink.log")
    [[ -z "$pf_root" ]] && rchar0=$("${MEASURE[@]}" proc-rchar "$sink_pid" || true)
    [[ -n "$RELAY_TRANSCRIPTS" ]] && tbytes0=$("${MEASURE[@]}" du "$RELAY_TRANSCRIPTS")
    "client_$SC_CLIENT" "$client_port" "$SC_SESSIONS" "$SC_MESSAGES" "$SC_LENGTH" \
      "$dir/client.json" "$dir/client.log" "$relay_pid" "$sink_pid" "${SC_CLIENT_FLAGS[@]+"${SC_CLIENT_FLAGS[@]}"}" || true
    [[ -z "$pf_root" ]] && rchar1=$("${MEASURE[@]}" proc-rchar "$sink_pid" || true)
    if [[ -s "$dir/client.log" ]] && grep -q fatal "$dir/client.log"; then
      echo "    load client: $(grep -m1 fatal "$dir/client.log" | cut -c1-300)"
    fi
    if [[ -n "$pf_root" ]]; then
      # what the client got 250 for must be delivered: wait for it, then count
      "${MEASURE[@]}" postfix-count --log "$pf_root/log/postfix.log" \
        --wait-delivered "$((warm_msgs + SC_MESSAGES))" >>"$dir/sink.log"
    fi
  fi

  [[ -n "$relay_sup" ]] && stop_supervised "$relay_sup"
  [[ -n "$sink_sup" ]] && stop_supervised "$sink_sup"
  if [[ -n "$pf_root" ]]; then
    postfix_stop "$pf_root"
    # the queue is empty (discard); keep the log and config with --keep only
    (( KEEP )) || rm -rf "$pf_root/spool" "$pf_root/data"
  fi

  local rec=(--results "$RESULTS" --run "$run" --scenario "$sc" --relay "$relay"
             --messages "$SC_MESSAGES" --length "$SC_LENGTH" --sessions "$SC_SESSIONS"
             --transport "$SC_TRANSPORT" --sink-out "$dir/sink.log" --sink-messages-before "$msgs0"
             --sink-tls-before "$tls0" --sink-quits-before "$quit0" --sink-data-before "${data0:-0}" --sink-delivered-before "${deliv0:-0}"
             --sink-kind "$SC_SINK" --kind "$SC_KIND"
             "${relay_stats_args[@]+"${relay_stats_args[@]}"}")
  [[ -s "$dir/client.json" ]] && rec+=(--client "$dir/client.json")
  [[ -s "$dir/client.tls.json" ]] && rec+=(--client-tls "$dir/client.tls.json")
  [[ -n "$rchar0" && -n "$rchar1" ]] && rec+=(--sink-rchar-before "$rchar0" --sink-rchar-after "$rchar1")
  [[ -n "$RELAY_TRANSCRIPTS" ]] && rec+=(--transcripts "$RELAY_TRANSCRIPTS" --transcript-bytes-before "$tbytes0")
  [[ -s "$dir/idle.json" ]] && rec+=(--idle "$dir/idle.json")
  [[ -n "$error" ]] && rec+=(--error "$error")
  "${MEASURE[@]}" record "${rec[@]}"

  # transcripts / content logs of a 100 MiB message are large: drop them unless --keep
  if (( ! KEEP )) && [[ -n "$RELAY_TRANSCRIPTS" ]]; then rm -rf "$RELAY_TRANSCRIPTS"; fi
  RELAY_TRANSCRIPTS=""
}

# ============================================================================
# Main
# ============================================================================
command -v python3 >/dev/null || die "required tool not found: python3"
ulimit -c 0 2>/dev/null || true   # a relay that crashes (sslsplit) must not leave core files
# --idle: one fd per held session in the driver and the sink, two in the relay
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

if [[ -z "$WORK" ]]; then
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/smtplens-bench.XXXXXX")
else
  mkdir -p "$WORK"; WORK=$(cd "$WORK" && pwd)
fi
RESULTS="$WORK/results.jsonl"
: >"$RESULTS"
# Postfix's daemons run as postfix: its per-run directories under WORK must be reachable
[[ "$TLS_SINK" == postfix ]] && chmod 755 "$WORK"

IFS=, read -r -a SC_LIST <<<"$SCENARIOS"
IFS=, read -r -a RELAY_LIST <<<"$RELAYS"
for sc in "${SC_LIST[@]}"; do
  declare -F "scenario_$sc" >/dev/null || die "unknown scenario: $sc"
done
for r in "${RELAY_LIST[@]}"; do
  declare -F "relay_${r}_cmd" >/dev/null || die "unknown relay: $r"
done
NEED_PLAIN=0; NEED_TLS=0
for sc in "${SC_LIST[@]}"; do
  "scenario_$sc"
  if [[ $SC_TRANSPORT == plain ]]; then NEED_PLAIN=1; else NEED_TLS=1; fi
done
if (( NEED_PLAIN )); then
  for t in "$SMTP_SOURCE" "$SMTP_SINK"; do
    command -v "$t" >/dev/null || die "required tool not found: $t (plain scenarios)"
  done
fi

echo "SmtpLens benchmark  $(date -u '+%Y-%m-%d %H:%M:%SZ')"
echo "machine: nproc=$(nproc), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'),"\
     "$(awk '/MemTotal/ {printf "%d MB RAM", $2/1024}' /proc/meminfo), kernel $(uname -r)"
TOOLS=(--tool "postfix=$(postconf -dh mail_version 2>/dev/null || echo unknown)"
       --tool "socat=$("$SOCAT" -V 2>/dev/null | awk '/socat version/ {print $3; exit}')"
       --tool "nproc=$(nproc)")
echo "tools: smtp-source/smtp-sink (postfix $(postconf -dh mail_version 2>/dev/null || echo '?')),"\
     "socat $("$SOCAT" -V 2>/dev/null | awk '/socat version/ {print $3; exit}')"
if (( NEED_TLS )); then
  SSLSPLIT_VERSION=$("$SSLSPLIT" -V 2>&1 | awk '/^SSLsplit/ {print $2; exit}' || true)
  OPENSSL_VERSION=$("$OPENSSL" version 2>/dev/null || echo none)
  echo "TLS tools: bench/smtptls.py client+sink (python $("$PYTHON" -c 'import platform, ssl; print(platform.python_version() + ", " + ssl.OPENSSL_VERSION)')),"\
       "sslsplit ${SSLSPLIT_VERSION:-not installed}, $OPENSSL_VERSION; TLS max $TLS_MAX"
  TOOLS+=(--tool "sslsplit=${SSLSPLIT_VERSION:-none}" --tool "openssl=$OPENSSL_VERSION" --tool "tls_max=$TLS_MAX"
          --tool "tls_client_sink=bench/smtptls.py ($("$PYTHON" -c 'import platform, ssl; print("python " + platform.python_version() + ", " + ssl.OPENSSL_VERSION)'))")
fi
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) (the benchmark wants an otherwise idle machine)"
[[ -n "$SSLSPLIT_NOTE" && $NEED_TLS -eq 1 ]] && echo "sslsplit: $SSLSPLIT_NOTE"
echo "runs=$RUNS quick=$QUICK warmup=$WARMUP timeout=${CLIENT_TIMEOUT}s budget=${BUDGET}s workdir=$WORK"

if [[ ",$RELAYS," == *,smtplens,* || ",$RELAYS," == *,smtplens-tls,* ]]; then
  prepare_smtplens
  if [[ -z "$SMTPLENS_STATUS" ]]; then
    # which source was measured: the repository's commit (+dirty when the
    # working tree has changes) if the binary was built here (read-only git)
    SMTPLENS_SOURCE="external binary (SMTPLENS)"
    if [[ "$SMTPLENS" == "$SMTPLENS_DEFAULT" ]] && command -v git >/dev/null \
        && commit=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null); then
      if [[ -n "$(git -C "$REPO" --no-optional-locks status --porcelain -- src 2>/dev/null)" ]]; then commit+="+dirty"; fi
      SMTPLENS_SOURCE="commit $commit"
    fi
    echo "smtplens: $SMTPLENS ${SMTPLENS_EXTRA[*]+"${SMTPLENS_EXTRA[*]}"} ($SMTPLENS_SOURCE)"
    TOOLS+=(--tool "smtplens=$SMTPLENS" --tool "smtplens_source=$SMTPLENS_SOURCE")
  fi
  TOOLS+=(--tool "dotnet=$(dotnet --version 2>/dev/null || echo none)")
fi
if (( NEED_TLS )) && [[ "$TLS_SINK" == postfix ]]; then
  reason=$(sink_postfix_check) || die "$reason"
  echo "next hop (TLS scenarios): Postfix $(postconf -dh mail_version 2>/dev/null) smtpd, one throwaway instance per run,"\
       "STARTTLS (TLS <= $TLS_MAX), mail discarded; ti uses the smtptls.py sink"
fi
if (( NEED_TLS )); then
  echo "TLS load client: bench/smtptls.py client$([[ "$TLS_CLIENT" == smtplib ]] && echo ' --smtplib (stdlib smtplib)')"
  TOOLS+=(--tool "tls_sink=$TLS_SINK" --tool "tls_client=$TLS_CLIENT")
  prepare_tls
  if [[ "$TLS_STATUS" == ok ]]; then
    echo "TLS: sink certificate $TLS_DIR/sink.pem (self-signed RSA-2048); interception CA by $TLS_CA_MAKER: $TLS_CA_CERT"
    TOOLS+=(--tool "interception_ca=$TLS_CA_MAKER")
  fi
fi

UNAVAILABLE=()
ACTIVE_RELAYS=()
for r in "${RELAY_LIST[@]}"; do
  # a relay none of whose transports is in the chosen scenarios is left out quietly
  used=0
  for sc in "${SC_LIST[@]}"; do
    "scenario_$sc"
    if "relay_${r}_supports" "$SC_TRANSPORT"; then used=1; fi
  done
  (( used )) || continue
  if reason=$("relay_${r}_check"); then
    ACTIVE_RELAYS+=("$r")
  else
    UNAVAILABLE+=(--unavailable "$reason")
    echo "skipping relay $r: $reason"
  fi
done

for sc in "${SC_LIST[@]}"; do
  "scenario_$sc"
  echo "scenario $sc: $SC_DESC"
done

BUDGET_HIT=0
for ((run = 1; run <= RUNS; run++)); do
  for sc in "${SC_LIST[@]}"; do
    "scenario_$sc"
    for r in "${ACTIVE_RELAYS[@]+"${ACTIVE_RELAYS[@]}"}"; do
      "relay_${r}_supports" "$SC_TRANSPORT" || continue
      # idle sessions measure a relay's memory: nothing to measure without one
      [[ $SC_KIND == idle && ( $r == direct || $r == direct-tls ) ]] && continue
      if (( SECONDS >= BUDGET )); then BUDGET_HIT=1; break 3; fi
      if (( WAIT_IDLE > 0 )); then "${MEASURE[@]}" wait-idle --max-wait "$WAIT_IDLE" || true; fi
      run_one "$run" "$sc" "$r"
    done
  done
done
if (( BUDGET_HIT )); then
  UNAVAILABLE+=(--unavailable "remaining runs skipped: time budget of ${BUDGET}s exhausted")
fi

SUMMARY=(--results "$RESULTS" --scenarios "$SCENARIOS" --relays "$RELAYS" --runs "$RUNS"
         "${TOOLS[@]}" "${UNAVAILABLE[@]+"${UNAVAILABLE[@]}"}")
if (( QUICK )); then SUMMARY+=(--quick); fi
if (( DROP_NOISY )); then SUMMARY+=(--drop-noisy); fi
if [[ -n "$JSON_OUT" ]]; then SUMMARY+=(--json "$JSON_OUT"); fi
"${MEASURE[@]}" summarize "${SUMMARY[@]}"

# SmtpLens's CPU per handshake per leg, in process (bench/tls-handshake): the part of the per-session CPU above
# that the TLS handshakes take, without sockets, scheduling or the other two programs on the same CPUs.
if (( HANDSHAKE_CPU > 0 )); then
  echo
  echo "handshake CPU per leg (bench/tls-handshake, TLS $TLS_MAX, $HANDSHAKE_CPU handshakes per cell, load average $(cut -d' ' -f1-3 /proc/loadavg)):"
  if ( cd "$REPO" && timeout "$BUILD_TIMEOUT" dotnet build -c Release -nologo -v quiet bench/tls-handshake ) >"$WORK/tls-handshake-build.log" 2>&1; then
    "$REPO/bench/tls-handshake/bin/Release/net10.0/tls-handshake" --tls "$TLS_MAX" --count "$HANDSHAKE_CPU" || echo "tls-handshake failed"
  else
    echo "tls-handshake: build failed; see $WORK/tls-handshake-build.log (kept with --keep)"
  fi
fi
