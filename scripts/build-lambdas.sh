#!/usr/bin/env bash
# Builds each Lambda function in functions/<name>/ into
# build/lambda/<name>/bootstrap (the directory the CDK app deploys) and
# build/lambda/<name>.zip, then prints their sizes. Fails when a zip is over
# MAX_ZIP_MB (10 by default).
#
#   scripts/build-lambdas.sh                   every function, linux/arm64
#   scripts/build-lambdas.sh shopper-api       only the ones named
#   LAMBDA_ARCH=amd64 scripts/build-lambdas.sh for an x86_64 Lambda or the
#                                              emulator on an x86_64 host
#
# Needs only the Go toolchain: the zips are written by scripts/lambdazip.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

arch=${LAMBDA_ARCH:-arm64}
max_zip_mb=${MAX_ZIP_MB:-10}
out=build/lambda

if (($# > 0)); then
  names=("$@")
else
  names=()
  for dir in functions/*/; do
    [[ -f $dir/main.go ]] && names+=("$(basename "$dir")")
  done
fi
((${#names[@]})) || { echo "build-lambdas: no functions found in functions/" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/lambdazip" ./scripts/lambdazip

mkdir -p "$out"
too_big=()
for name in "${names[@]}"; do
  if [[ ! -f functions/$name/main.go ]]; then
    echo "build-lambdas: no functions/$name/main.go" >&2
    exit 1
  fi
  rm -rf "${out:?}/$name" "$out/$name.zip"
  # lambda.norpc drops the old Go RPC mode that provided.al2023 never uses.
  GOOS=linux GOARCH=$arch CGO_ENABLED=0 go build -tags lambda.norpc -trimpath \
    -ldflags="-s -w" -o "$out/$name/bootstrap" "./functions/$name"
  "$tmp/lambdazip" "$out/$name.zip" "$out/$name/bootstrap"

  bin_bytes=$(stat -c %s "$out/$name/bootstrap")
  zip_bytes=$(stat -c %s "$out/$name.zip")
  awk -v n="$name" -v a="$arch" -v b="$bin_bytes" -v z="$zip_bytes" 'BEGIN {
    printf "%-16s linux/%s  bootstrap %5.1f MB  zip %5.1f MB\n", n, a, b / 1048576, z / 1048576
  }'
  ((zip_bytes <= max_zip_mb * 1048576)) || too_big+=("$name")
done

if ((${#too_big[@]})); then
  echo "build-lambdas: over ${max_zip_mb} MB zipped: ${too_big[*]}" >&2
  exit 1
fi
