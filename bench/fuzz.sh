#!/usr/bin/env bash
# A longer parser-fuzz campaign than CI's few seconds per target (README "Reliability campaign").
#   bench/fuzz.sh TARGET [SECONDS] [SEED]
# TARGET: line-framer reply command data-content tls-records client-hello server-hello certificate proxy-header
# A fresh seed is drawn unless SEED is given; a failure prints the seed, the iteration and the input as a byte[]
# literal, and keeps the input under bench/fuzz-findings/ to turn into a regression test.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: bench/fuzz.sh TARGET [SECONDS] [SEED]}
export SMTPLENS_FUZZ_SECONDS=${2:-300}
[ -n "${3:-}" ] && export SMTPLENS_FUZZ_SEED=$3
export SMTPLENS_FUZZ_CRASH_DIR=$PWD/bench/fuzz-findings
dotnet build tests/SmtpLens.Tests/SmtpLens.Tests.csproj -c Release -nologo -v quiet
dotnet test tests/SmtpLens.Tests/SmtpLens.Tests.csproj -c Release --no-build \
  --filter "FullyQualifiedName~ParserFuzzCampaign&DisplayName~$target" \
  --logger "console;verbosity=detailed" 2>&1 | grep -E "inputs in|Error Message|fuzz target|Passed!|Failed!|Total tests" || true
