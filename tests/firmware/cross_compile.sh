#!/usr/bin/env bash
# Builds the firmware's portable core (firmware/core/src) with real embedded
# cross compilers from Debian: xtensa-lx106-elf-g++ (the ESP8266's core, kin
# of the ESP32's) with picolibc and the ARM package's libstdc++ headers, and
# arm-none-eabi-g++ for a Cortex-M4. The flags are the device's: -Os, no
# exceptions, no RTTI, every warning an error. Fails on any diagnostic and on
# an undefined symbol that means heap use (malloc, operator new/delete) or
# exceptions (__cxa_*, unwinding); prints the code size of each object.
# Exit 77 (skipped) only when the Xtensa compiler is not installed
# (scripts/setup installs it).
set -euo pipefail

src=${DHT_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/firmware/core/src
if ! command -v xtensa-lx106-elf-g++ >/dev/null; then
    echo "skipped: xtensa-lx106-elf-g++ is not installed (scripts/setup installs gcc-xtensa-lx106)"
    exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

common=(-std=c++17 -Os -fno-exceptions -fno-rtti -Wall -Wextra -Werror -I"$src")
# Heap: malloc and friends, operator new/delete. Exceptions: the C++ runtime's
# throw/catch and the unwinder.
forbidden='^(malloc|calloc|realloc|free|_Zn[wa].*|_Zd[la].*|__cxa_.*|_Unwind_.*|__gxx_personality.*)$'
failed=0

build() {  # target name, compiler, size tool, nm tool, flags...
    local target=$1 cxx=$2 size=$3 nm=$4
    shift 4
    local total=0
    echo "== $target: $cxx ${common[*]} $*"
    for f in "$src"/*.cpp; do
        local o="$work/$target-$(basename "${f%.cpp}").o"
        if ! "$cxx" "${common[@]}" "$@" -c "$f" -o "$o" 2>"$work/err" || [ -s "$work/err" ]; then
            echo "FAIL - $target: $(basename "$f") does not compile cleanly:"
            cat "$work/err"
            failed=1
            continue
        fi
        local bad
        bad=$("$nm" -u "$o" | awk '{print $NF}' | grep -E "$forbidden" || true)
        if [ -n "$bad" ]; then
            echo "FAIL - $target: $(basename "$o") uses heap or exceptions:" $bad
            failed=1
        fi
        local text
        text=$("$size" "$o" | awk 'NR == 2 {print $1}')
        total=$((total + text))
        # What it needs from outside the core: the C library and compiler helpers.
        printf '%s %-16s text %6d bytes  needs: %s\n' "$target" "$(basename "$o" | sed "s/^$target-//")" "$text" \
            "$("$nm" -u "$o" | awk '{print $NF}' | grep -v '^_ZN3dht8firmware' | tr '\n' ' ')"
    done
    printf '%s total text %d bytes\n' "$target" "$total"
}

# No C++ headers ship for Xtensa: the ARM bare-metal package's libstdc++
# headers serve (header-only use: no heap, no exceptions).
cxxinc=$(ls -d /usr/include/newlib/c++/*/ 2>/dev/null | sort -V | tail -n 1)
cxxinc=${cxxinc%/}
if [ -z "$cxxinc" ] || [ ! -e /usr/lib/xtensa-lx106-elf/picolibc.specs ]; then
    echo "FAIL - the Xtensa compiler is there but picolibc-xtensa-lx106-elf or libstdc++-arm-none-eabi-dev is not"
    exit 1
fi
build xtensa xtensa-lx106-elf-g++ xtensa-lx106-elf-size xtensa-lx106-elf-nm \
    --specs=/usr/lib/xtensa-lx106-elf/picolibc.specs -nostdinc++ \
    -isystem "$cxxinc" -isystem "$cxxinc/arm-none-eabi" -isystem "$cxxinc/backward" -mlongcalls

if command -v arm-none-eabi-g++ >/dev/null; then
    build arm arm-none-eabi-g++ arm-none-eabi-size arm-none-eabi-nm -mcpu=cortex-m4 -mthumb
else
    echo "arm-none-eabi-g++ is not installed: the ARM build is left out"
fi

if [ "$failed" -ne 0 ]; then
    echo "cross-compile: FAILED"
    exit 1
fi
echo "cross-compile: the core builds for every target, without heap or exceptions"
