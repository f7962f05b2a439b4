#!/bin/sh
# Patch and rebuild the fuse-native addon dfs loads (scripts/setup.sh step 5, and an installed
# package's postinstall).
#
# fuse-native 2.2.6 passes atime twice to utimens (mtime is lost) and never tells the file system who
# is calling. native-notes/patches/fuse-native-2.2.6.patch fixes both (native-notes/README.md explains
# it line by line); the addon is then rebuilt with node-gyp (npm's own copy) into build/Release, which
# node-gyp-build loads ahead of the prebuild. A stamp holding the patch's hash makes this quiet when
# already done.
#
# The addon is found the way dfs's own code finds it (Node's module resolution from this package), so
# this works in a checkout, in a project that installed dfs (fuse-native hoisted beside it) and in a
# global install (fuse-native nested under dfs).
#
#   --if-possible   (postinstall) when the tools are missing or the rebuild fails, say how to finish
#                   later and exit 0: dfs still runs on the unpatched prebuild, with the two defects.

set -eu
cd "$(dirname "$0")/.."
pkg=$(pwd)

lenient=0
[ "${1:-}" = --if-possible ] && lenient=1

die() {
  printf 'dfs: %s\n' "$@" >&2
  if [ "$lenient" = 1 ]; then
    printf 'dfs: the FUSE addon stays unpatched (file owners, and times set by touch -d or cp -p, are wrong);\n' >&2
    printf 'dfs: to finish later: sh %s/scripts/patch-fuse-native.sh\n' "$pkg" >&2
    exit 0
  fi
  exit 1
}

addon=$(node -e 'process.stdout.write(require("node:path").dirname(require.resolve("fuse-native/package.json")))' 2>/dev/null) ||
  die "fuse-native is not installed beside dfs; run npm install first"
patchfile="$pkg/native-notes/patches/fuse-native-2.2.6.patch"
want=$(sha256sum "$patchfile" | cut -d' ' -f1)
stamp="$addon/build/Release/.dfs-patch"
[ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -f "$addon/build/Release/fuse.node" ] && exit 0

for tool in cc make python3 patch; do
  command -v "$tool" >/dev/null 2>&1 || die "rebuilding the FUSE addon needs $tool; install it with: apt-get install -y build-essential python3 patch" \
    "(then run this again: sh scripts/setup.sh)"
done
printf 'setup: %s\n' "patching and rebuilding the fuse-native addon (native-notes/README.md says why)"
# From the pristine files: a patch applied before is undone first: this one, or an older one, which
# native-notes/patches/previous/ keeps under its SHA-256 (the stamp names the one applied), so an
# existing checkout takes a new patch without a reinstall.
if ! (cd "$addon" && patch -p1 --forward --dry-run --silent < "$patchfile" >/dev/null 2>&1); then
  applied=$patchfile
  if [ -f "$stamp" ] && [ -f "$pkg/native-notes/patches/previous/$(cat "$stamp").patch" ]; then
    applied="$pkg/native-notes/patches/previous/$(cat "$stamp").patch"
  fi
  # Tried first: a reverse that fails part way would leave a file half undone (and .rej files).
  (cd "$addon" && patch -p1 -R --dry-run --silent < "$applied" >/dev/null 2>&1 &&
    patch -p1 -R --silent --no-backup-if-mismatch < "$applied" >/dev/null 2>&1) ||
    die "$addon is neither pristine nor patched; reinstall it: rm -rf node_modules && sh scripts/setup.sh"
fi
(cd "$addon" && patch -p1 --forward --dry-run --silent < "$patchfile" >/dev/null 2>&1 &&
  patch -p1 --forward --silent --no-backup-if-mismatch < "$patchfile") || die "applying $patchfile to $addon failed"
gyp="$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js"
[ -f "$gyp" ] || die "npm's node-gyp was not found at $gyp; install it with: npm install -g node-gyp"
# Node's own headers when they are installed beside it (Debian's nodejs); otherwise node-gyp fetches them.
nodedir=$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")
[ -f "$nodedir/include/node/node_api.h" ] && set -- --nodedir="$nodedir" || set --
(cd "$addon" && node "$gyp" rebuild --loglevel=error "$@" >/dev/null) ||
  die "node-gyp could not rebuild $addon (output above); see native-notes/README.md"
echo "$want" > "$stamp"
