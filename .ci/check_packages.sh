#!/usr/bin/env bash
# Checks that the README's package list is everything a fresh Debian machine needs, without a container.
#
#   .ci/check_packages.sh              the packages of the README's `apt-get install` line
#   .ci/check_packages.sh PKG...       the given packages instead (to check the checker)
#
# How: a sysroot is made of the files of the listed packages and of every package they depend on (the
# closure `apt-get install --no-install-recommends` installs, taken from dpkg's database, so the listed
# packages must be installed here). The project is configured with CMAKE_SYSROOT pointing at it, every
# find_package/find_path/find_library and pkg-config re-rooted there, and FetchContent off (so every
# dependency of the library, the tests, the benchmarks and the command-line tool must be found there); then
# the README's first program, which includes the umbrella header, is built and run. A header, CMake package or
# library the build needs but the list does not provide is not in the sysroot, so the check fails. The
# programs the build and the tests run (cmake, the compiler, make, pkg-config, redis-server) must come from
# the closure too. Only GCC's own directory (/usr/lib/gcc/<triplet>/<version>) is outside the sysroot, as
# it is part of the compiler, which belongs to the `g++` package.
set -euo pipefail
cd "$(dirname "$0")/.."
source_dir=$PWD

if (($#)); then
  listed=("$@")
else
  # The one `apt-get install` line of the README's Quick start section.
  line=$(sed -n '/^## Quick start/,/^## [^Q]/p' README.md | grep -m1 -E '^(sudo )?apt-get install' || true)
  if [[ -z $line ]]; then
    echo "check_packages: no 'apt-get install' line under '## Quick start' in README.md" >&2
    exit 1
  fi
  read -ra words <<<"${line#sudo }"
  listed=()
  for w in "${words[@]:2}"; do [[ $w == -* ]] || listed+=("$w"); done
fi
echo "README packages: ${listed[*]}"

not_installed=()
for p in "${listed[@]}"; do
  dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed' || not_installed+=("$p")
done
if ((${#not_installed[@]})); then
  echo "check_packages: not installed here, cannot check: ${not_installed[*]} (apt-get install -y them)" >&2
  exit 1
fi

work=$(mktemp -d /tmp/aimastery-packages.XXXXXX)
trap 'rm -rf "$work"' EXIT
sysroot=$work/sysroot

# The dependency closure: Depends and Pre-Depends, recursively, among installed packages.
apt-cache depends --recurse --installed --no-recommends --no-suggests --no-conflicts --no-breaks \
  --no-replaces --no-enhances "${listed[@]}" 2>/dev/null | grep -v '^ ' | grep -v '^<' | sort -u >"$work/candidates"
# apt-cache also names alternatives that are not installed (`a | b`): keep the installed ones.
xargs -a "$work/candidates" dpkg-query -W -f='${Package} ${db:Status-Status}\n' 2>/dev/null |
  awk '$2 == "installed" { print $1 }' | sort -u >"$work/closure" || true
echo "closure: $(wc -l <"$work/closure") packages"

# Programs the build and the tests run must be in the closure too.
compiler=${CXX:-c++}
missing_programs=()
for prog in cmake "$compiler" make pkg-config redis-server; do
  path=$(command -v "$prog" || true)
  owner=""
  [[ -n $path ]] && owner=$(dpkg -S "$(readlink -f "$path")" 2>/dev/null | head -1 | cut -d: -f1 || true)
  if [[ -z $owner ]] || ! grep -qx "$owner" "$work/closure"; then
    missing_programs+=("$prog (${owner:-not installed})")
  fi
done
if ((${#missing_programs[@]})); then
  echo "check_packages: FAILED: programs the build runs are not provided by the README's packages: ${missing_programs[*]}" >&2
  exit 1
fi

# The sysroot: one symbolic link per file of each package, at the file's own path. Debian 12 merges /usr:
# /lib, /lib64, /bin and /sbin are links into /usr, and so they are in the sysroot.
xargs -a "$work/closure" dpkg -L 2>/dev/null | sort -u >"$work/files"
mkdir -p "$sysroot"/usr/lib "$sysroot"/usr/lib64 "$sysroot"/usr/bin "$sysroot"/usr/sbin
for top in lib lib64 bin sbin; do ln -s "usr/$top" "$sysroot/$top"; done
# Everything but directories (cp --parents makes those), one absolute symbolic link each.
xargs -d '\n' -a "$work/files" bash -c 'for f; do if [[ $f == /* && ! -d $f && -e $f ]]; then printf "%s\n" "$f"; fi; done' _ |
  xargs -d '\n' cp -s --parents -t "$sysroot" --
echo "sysroot: $(wc -l <"$work/files") paths"

triplet=$(gcc -dumpmachine 2>/dev/null || echo x86_64-linux-gnu)
export PKG_CONFIG_SYSROOT_DIR=$sysroot
export PKG_CONFIG_LIBDIR=$sysroot/usr/lib/$triplet/pkgconfig:$sysroot/usr/lib/pkgconfig:$sysroot/usr/share/pkgconfig
unset PKG_CONFIG_PATH CMAKE_PREFIX_PATH

if ! cmake -S "$source_dir" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER="$compiler" \
      -DCMAKE_SYSROOT="$sysroot" -DCMAKE_FIND_ROOT_PATH_MODE_PACKAGE=ONLY \
      -DCMAKE_FIND_ROOT_PATH_MODE_INCLUDE=ONLY -DCMAKE_FIND_ROOT_PATH_MODE_LIBRARY=ONLY \
      -DCMAKE_FIND_ROOT_PATH_MODE_PROGRAM=NEVER -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF \
      -DAIMASTERY_FETCH_DEPENDENCIES=OFF -DAIMASTERY_BUILD_TESTS=ON -DAIMASTERY_BUILD_BENCHMARKS=ON \
      -DAIMASTERY_BUILD_EXAMPLES=ON >"$work/configure.log" 2>&1; then
  cat "$work/configure.log" >&2
  echo "check_packages: FAILED: the project does not configure with only the README's packages" >&2
  exit 1
fi
if grep -q "hiredis not found" "$work/configure.log"; then
  echo "check_packages: FAILED: hiredis is not provided by the README's packages (aimastery::redis is off)" >&2
  exit 1
fi
if ! cmake --build "$work/build" -j2 --target readme_example >"$work/build.log" 2>&1; then
  grep -E -m20 "error|fatal" "$work/build.log" >&2 || tail -40 "$work/build.log" >&2
  echo "check_packages: FAILED: the README's first program does not build with only the README's packages" >&2
  exit 1
fi
(cd "$source_dir" && "$work/build/tests/readme/readme_example" >/dev/null)
echo "check_packages: ok: the README's packages configure the project and build its first program"
