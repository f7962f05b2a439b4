#!/bin/sh
# dfs setup: make this checkout ready to run (npm test, npm run demo, npm run bench run it first).
#
# Steps, each silent when there is nothing to do:
#   1. Node.js >= 20
#   2. native FUSE pieces: libfuse.so.2 (fuse-native's addon links it) and fusermount (unmount);
#      installed with apt-get when missing and we are root, otherwise we stop and say what to run
#   3. /dev/fuse
#   3b. before `npm test` only: rsync and sqlite3, which the mount tests drive, and chromium, which
#       the dashboard tests drive (apt-get when root)
#   4. npm dependencies (build tools for native addons first; npm ci when package-lock.json and node_modules differ, npm install without a lock)
#   5. fuse-native addon patch + rebuild (scripts/patch-fuse-native.sh)
#   6. TypeScript build to dist/
#
# Idempotent: a second run prints nothing and takes well under a second.
# DFS_SKIP_NATIVE=1 skips steps 2-3b (a machine without FUSE: unit tests only; FUSE tests will skip,
# and under CI a skipped test counts as a failure). See native-notes/README.md for the native side.

set -eu

cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*"; }
die() {
  printf 'setup: %s\n' "$@" >&2
  exit 1
}

# ---- 1. Node.js ---------------------------------------------------------------------------------
if ! command -v node >/dev/null 2>&1; then
  die "Node.js 20 or newer is required, but \`node\` is not on PATH." \
    "Install it from https://nodejs.org/ (or your package manager, or nvm) and run this again."
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  die "Node.js 20 or newer is required; this is $(node -v) ($(command -v node))." \
    "Install Node 20+ (https://nodejs.org/, or \`nvm install 20\`) and run this again."
fi

# ---- 2. libfuse.so.2 and fusermount -------------------------------------------------------------
have_libfuse2() {
  ldconfig_bin=$(command -v ldconfig 2>/dev/null || true)
  [ -n "$ldconfig_bin" ] || for p in /sbin/ldconfig /usr/sbin/ldconfig; do [ -x "$p" ] && ldconfig_bin=$p && break; done
  if [ -n "$ldconfig_bin" ] && "$ldconfig_bin" -p 2>/dev/null | grep -q 'libfuse\.so\.2 '; then
    return 0
  fi
  # No ldconfig cache (or an unusual layout): look in the usual places.
  for d in /lib /usr/lib /lib64 /usr/lib64 /lib/*-linux-gnu /usr/lib/*-linux-gnu /usr/local/lib; do
    [ -e "$d/libfuse.so.2" ] && return 0
  done
  return 1
}
have_fusermount() {
  command -v fusermount >/dev/null 2>&1 || command -v fusermount3 >/dev/null 2>&1 ||
    [ -x /bin/fusermount ] || [ -x /usr/bin/fusermount ] || [ -x /bin/fusermount3 ] || [ -x /usr/bin/fusermount3 ]
}
native_missing() {
  m=''
  have_libfuse2 || m='libfuse.so.2'
  have_fusermount || m="${m:+$m and }fusermount"
  printf '%s' "$m"
}

if [ "${DFS_SKIP_NATIVE:-}" != 1 ]; then
  os=$(uname -s)
  if [ "$os" != Linux ]; then
    die "dfs mounts through FUSE on Linux; $os is not supported (see native-notes/README.md)." \
      "To build and run only the non-FUSE tests here: DFS_SKIP_NATIVE=1 npm test"
  fi

  missing=$(native_missing)
  if [ -n "$missing" ]; then
    if command -v apt-get >/dev/null 2>&1; then
      if [ "$(id -u)" -eq 0 ]; then
        say "installing libfuse2 and fuse3 with apt-get ($missing missing)"
        apt-get update -qq >/dev/null ||
          die "apt-get update failed; fix the package sources, then: apt-get install -y libfuse2 fuse3"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libfuse2 fuse3 >/dev/null ||
          die "apt-get install -y libfuse2 fuse3 failed (see the messages above)"
        missing=$(native_missing)
        [ -z "$missing" ] || die "still missing after installing libfuse2 and fuse3: $missing"
      else
        die "$missing missing: dfs needs libfuse2 (fuse-native links libfuse.so.2) and fuse3 (fusermount)." \
          "Run:  sudo apt-get install -y libfuse2 fuse3" \
          "then run this again."
      fi
    else
      pkgs='the libfuse 2 runtime library (libfuse.so.2) and fusermount (from fuse3 or fuse)'
      if command -v dnf >/dev/null 2>&1; then hint='sudo dnf install -y fuse-libs fuse3'
      elif command -v yum >/dev/null 2>&1; then hint='sudo yum install -y fuse-libs fuse'
      elif command -v zypper >/dev/null 2>&1; then hint='sudo zypper install -y libfuse2 fuse3'
      elif command -v pacman >/dev/null 2>&1; then hint='sudo pacman -S --needed fuse2 fuse3'
      elif command -v apk >/dev/null 2>&1; then hint='apk add fuse fuse3   (musl: fuse-native has only a glibc prebuild)'
      else hint="your distribution's packages for $pkgs"
      fi
      die "$missing missing: dfs needs $pkgs." \
        "Install: $hint" \
        "then run this again."
    fi
  fi

  # ---- 3. /dev/fuse -----------------------------------------------------------------------------
  if [ ! -c /dev/fuse ]; then
    die "/dev/fuse is missing: the kernel's FUSE device is not available here." \
      "On a normal machine load the module:  sudo modprobe fuse" \
      "In a container, start it with:  --device /dev/fuse --cap-add SYS_ADMIN  (Docker may also need --security-opt apparmor:unconfined)"
  fi
  if [ ! -r /dev/fuse ] || [ ! -w /dev/fuse ]; then
    die "/dev/fuse exists but $(id -un) cannot open it (mode $(ls -l /dev/fuse | cut -c1-10))." \
      "Run as root, or make it usable for this user (e.g. sudo chmod 666 /dev/fuse, the usual default)."
  fi

  # ---- 3b. tools the mount tests drive (only before `npm test`) ---------------------------------
  # test/mount/realTools.test.ts runs rsync and sqlite3 against a mount, test/mount/info.test.ts
  # getfattr (Debian's package attr). npm sets
  # npm_lifecycle_event=pretest when this runs as the pretest script; demo, bench and setup need neither.
  if [ "${npm_lifecycle_event:-}" = pretest ]; then
    tools_missing=''
    for tool in rsync sqlite3 getfattr; do
      command -v "$tool" >/dev/null 2>&1 || tools_missing="${tools_missing:+$tools_missing }$tool"
    done
    if [ -n "$tools_missing" ]; then
      if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
        say "installing rsync, sqlite3 and attr for the tests with apt-get ($tools_missing missing)"
        apt-get update -qq >/dev/null ||
          die "apt-get update failed; fix the package sources, then: apt-get install -y rsync sqlite3 attr"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rsync sqlite3 attr >/dev/null ||
          die "apt-get install -y rsync sqlite3 attr failed (see the messages above)"
      else
        die "the tests need $tools_missing (test/mount/realTools.test.ts and info.test.ts drive them against a mount)." \
          "Run:  sudo apt-get install -y rsync sqlite3 attr   (or your distribution's packages)" \
          "then run this again."
      fi
    fi
    # test/dashboard/ drives the dashboard page in Debian's Chromium, headless, through playwright-core
    # (which downloads no browser). DFS_CHROMIUM names another binary.
    if [ -z "${DFS_CHROMIUM:-}" ] && ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
      if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
        say "installing chromium for the dashboard tests with apt-get"
        apt-get update -qq >/dev/null ||
          die "apt-get update failed; fix the package sources, then: apt-get install -y chromium"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null ||
          die "apt-get install -y chromium failed (see the messages above)"
      else
        die "the tests need Chromium (test/dashboard/ drives the dashboard page in it, headless)." \
          "Run:  sudo apt-get install -y chromium   (or your distribution's package)," \
          "or point DFS_CHROMIUM at a Chromium or Chrome binary, then run this again."
      fi
    fi
  fi
fi

# ---- 4. npm dependencies ------------------------------------------------------------------------
# @ronomon/reed-solomon (erasure coding) and fadvise (drop-behind of written chunks) are compiled by npm
# on install, as fuse-native is in step 5: all need make, a C/C++ compiler and python3 (node-gyp).
build_missing=""
for tool in make g++ python3; do command -v "$tool" >/dev/null 2>&1 || build_missing="$build_missing $tool"; done
if [ -n "$build_missing" ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
    say "installing build-essential and python3 with apt-get ($build_missing missing; native addons are compiled on install)"
    apt-get update -qq >/dev/null ||
      die "apt-get update failed; fix the package sources, then: apt-get install -y build-essential python3"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq build-essential python3 >/dev/null ||
      die "apt-get install -y build-essential python3 failed (see the messages above)"
  else
    die "compiling the native addons needs$build_missing." \
      "Run:  sudo apt-get install -y build-essential python3   (or your distribution's packages), then this again."
  fi
fi
# Prints what to run: "ok" (node_modules matches), "ci" (package-lock.json is the truth, node_modules
# differs) or "install" (no lock, or the lock no longer matches package.json: npm ci would refuse).
deps_action=$(node --input-type=module -e '
import { existsSync, readFileSync } from "node:fs"
const read = (f) => JSON.parse(readFileSync(f, "utf8"))
const pkg = read("package.json")
const kinds = ["dependencies", "devDependencies", "optionalDependencies"]
const hasLock = existsSync("package-lock.json")
const hiddenFile = "node_modules/.package-lock.json"
let action = "ok"
if (!hasLock) {
  // no lock: every declared package present is good enough
  for (const k of kinds) for (const name of Object.keys(pkg[k] ?? {}))
    if (k !== "optionalDependencies" && !existsSync(`node_modules/${name}/package.json`)) action = "install"
} else {
  const lock = read("package-lock.json")
  const root = lock.packages?.[""] ?? {}
  const same = (a = {}, b = {}) => JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort())
  if (!kinds.every((k) => same(pkg[k], root[k]))) action = "install"
  else if (!existsSync(hiddenFile)) action = "ci"
  else {
    const want = lock.packages ?? {}
    const have = read(hiddenFile).packages ?? {}
    for (const [path, p] of Object.entries(have)) {
      const w = want[path]
      if (!w || w.version !== p.version || !existsSync(path)) { action = "ci"; break }
    }
    if (action === "ok") for (const [path, w] of Object.entries(want)) {
      if (path === "" || w.optional || w.devOptional || w.peer) continue
      if (!have[path]) { action = "ci"; break }
    }
  }
}
// A native addon installed without its build (scripts not run, or a build that failed: the install script of fadvise
// swallows a failed build) is not there.
const addons = { "@ronomon/reed-solomon": "binding.node", fadvise: "build/Release/fadvise.node" }
for (const [name, built] of Object.entries(addons))
  if (action === "ok" && existsSync(`node_modules/${name}/package.json`) && !existsSync(`node_modules/${name}/${built}`)) action = "ci"
process.stdout.write(action)
')
case "$deps_action" in
  ok) ;;
  ci)
    say "installing dependencies (npm ci: node_modules differs from package-lock.json)"
    npm ci --no-audit --no-fund --loglevel=error
    ;;
  install)
    say "installing dependencies (npm install)"
    npm install --no-audit --no-fund --loglevel=error
    ;;
  *) die "could not compare package.json, package-lock.json and node_modules (got: $deps_action)" ;;
esac

# ---- 5. fuse-native addon: patch and rebuild ------------------------------------------------------
# scripts/patch-fuse-native.sh says what and why (an installed package runs it as its postinstall).
# It runs after step 4 because npm ci puts back the pristine package.
sh scripts/patch-fuse-native.sh

# ---- 6. build -----------------------------------------------------------------------------------
[ -d dist ] || say "building dist/ (tsc)"
./node_modules/.bin/tsc -p tsconfig.json || die "TypeScript build failed (tsc -p tsconfig.json, errors above)"
