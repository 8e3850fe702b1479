#!/usr/bin/env bash
# Prints the path of the pinned Bicep CLI (infra/tools/bicep.csproj), restoring it first when it is
# not in the cache: `dotnet restore` of that project into $BICEP_CACHE (default
# ~/.cache/passkey-edge/bicep), so NuGet downloads and verifies the package and nothing of ours
# does. Cold: a few seconds; cached: no dotnet at all, the path is printed at once.
# Used by .ci/run and test/infra/arm.test.ts. Exit 3 when the CLI cannot be had (no dotnet, no
# feed): the test then skips, unless REQUIRE_BICEP=1. Restore output goes to stderr; stdout is
# only the path.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
project="$root/infra/tools/bicep.csproj"
version="$(sed -n 's:.*<BicepVersion>\(.*\)</BicepVersion>.*:\1:p' "$project")"

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) rid=linux-x64 ;;
  Linux-aarch64 | Linux-arm64) rid=linux-arm64 ;;
  Darwin-x86_64) rid=osx-x64 ;;
  Darwin-arm64) rid=osx-arm64 ;;
  *) echo "bicep.sh: no Bicep CLI package for $(uname -sm)" >&2; exit 3 ;;
esac

cache="${BICEP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/passkey-edge/bicep}"
# NuGet lower-cases package folders.
bin="$cache/packages/azure.bicep.commandline.$rid/$version/tools/bicep"

if [ ! -x "$bin" ]; then
  if ! command -v dotnet >/dev/null 2>&1; then
    echo "bicep.sh: dotnet is not installed: cannot restore Azure.Bicep.CommandLine.$rid $version" >&2
    exit 3
  fi
  # obj/ goes to the cache too, so the restore leaves nothing in the work tree.
  if ! dotnet restore "$project" --nologo --verbosity quiet --packages "$cache/packages" \
    "-p:BicepRid=$rid" "-p:MSBuildProjectExtensionsPath=$cache/obj/" >&2; then
    echo "bicep.sh: dotnet restore of Azure.Bicep.CommandLine.$rid $version failed (is a NuGet feed reachable?)" >&2
    exit 3
  fi
  # NuGet extracts without the execute bit for everyone; the owner's may be missing too.
  chmod +x "$bin"
fi
echo "$bin"
