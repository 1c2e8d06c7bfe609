#!/bin/sh
# pack-source.sh SRC FILE...: packs FILEs (paths relative to SRC) into a new temporary tar on
# the controller, root-owned and world-readable, and prints the tar's path before tar runs,
# so the caller can remove it even when tar fails.
set -eu
src=$1
shift
archive=$(mktemp --suffix=.api-service-src.tar)
printf '%s\n' "$archive"
exec tar --create --file "$archive" --directory "$src" --sort=name \
  --owner=0 --group=0 --numeric-owner --mode=u=rwX,go=rX -- "$@"
