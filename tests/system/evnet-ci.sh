#!/bin/bash
# The installed-system checks of evnetd (issue 6): build the .debs, lint them, and test
# them installed in a booted Debian 13 (trixie) container.
#
#   tests/system/evnet-ci.sh deps            install the host tools (apt), as needed
#   tests/system/evnet-ci.sh build OUT       build the .debs from a copy of the tree into OUT
#   tests/system/evnet-ci.sh lint OUT        lintian, systemd-analyze verify and security
#   tests/system/evnet-ci.sh oelint          oelint-adv on yocto-layer/meta-evnet
#   tests/system/evnet-ci.sh nspawn OUT      install OUT's .debs into a booted trixie and test
#   tests/system/evnet-ci.sh all [OUT]       all of the above
#
# Runs as root (apt, debootstrap, systemd-nspawn). The debootstrapped trixie root is kept
# in $EVNET_CI_CACHE (default /var/cache/evnet-ci) and rebuilt when missing, when its
# recipe changes or when older than $EVNET_CI_CACHE_DAYS days (default 30); downloaded
# .debs are kept there too. Every run works on a copy and removes it, even on failure.
# Exit status: 0 all checks passed, 1 a check failed, 2 usage, 77 cannot run here (not root).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TREE=$(cd "$HERE/../.." && pwd)
CACHE=${EVNET_CI_CACHE:-/var/cache/evnet-ci}
CACHE_DAYS=${EVNET_CI_CACHE_DAYS:-30}
MIRROR=${EVNET_CI_MIRROR:-http://deb.debian.org/debian}
SUITE=trixie
INCLUDE=systemd,systemd-sysv,dbus,ca-certificates
ROOT_CACHE=$CACHE/$SUITE
STAMP_TEXT="evnet-ci root v1: $SUITE minbase include=$INCLUDE mirror=$MIRROR"
# Hardware units may score up to 5.0 in `systemd-analyze security`, all others 3.0 (the
# network services evnet-ocpp, energy, web; the simulator) except the package installer:
# evnet-firmware-install.service runs apt-get as root for evnet-ocpp's firmware updates (no
# daemon, no network listener; it installs only our packages after checks), and a package
# manager cannot be sandboxed below ~7.8. Its score is printed, not limited.
HARDWARE_UNITS="evnet-meter.service evnet-charger.service"
PACKAGE_MANAGER_UNITS="evnet-firmware-install.service"
HOST_TOOLS="systemd-container debootstrap lintian"
export PATH=/usr/sbin:/usr/bin:/sbin:/bin   # Debian's tools, never a pyenv/venv python
export LC_ALL=C.UTF-8

step() { printf '\n=== %s\n' "$*"; }
ok() { printf 'ok   %s\n' "$*"; }
die() { printf 'FAIL %s\n' "$*" >&2; exit 1; }
elapsed() { echo "$((SECONDS - ${1:-0})) s"; }
exposure_limit() {  # exposure_limit UNIT: the highest allowed score, or "none"
    case " $PACKAGE_MANAGER_UNITS " in *" $1 "*) echo none; return ;; esac
    case " $HARDWARE_UNITS " in *" $1 "*) echo 5.0; return ;; esac
    echo 3.0
}

need_root() { [ "$(id -u)" -eq 0 ] || { echo "evnet-ci: must run as root" >&2; exit 77; }; }

# ---------------------------------------------------------------------------------------
cmd_deps() {
    need_root
    local missing=""
    for p in $HOST_TOOLS; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
    done
    if [ -n "$missing" ] || ! (cd "$TREE" && dpkg-checkbuilddeps >/dev/null 2>&1); then
        step "installing host packages:$missing + build dependencies"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        # shellcheck disable=SC2086
        [ -z "$missing" ] || apt-get install -y -qq --no-install-recommends $missing >/dev/null
        apt-get build-dep -y -qq --no-install-recommends "$TREE" >/dev/null
    fi
    (cd "$TREE" && dpkg-checkbuilddeps)
    command -v systemd-nspawn >/dev/null && command -v debootstrap >/dev/null
    ok "host tools and build dependencies"
}

# ---------------------------------------------------------------------------------------
cmd_build() {
    local out=${1:?usage: build OUT}
    local t0=$SECONDS
    step "build .debs into $out"
    rm -rf "$out/src" && mkdir -p "$out/src"
    rm -f "$out"/*.deb "$out"/*.changes "$out"/*.buildinfo
    # A copy of the tree (tracked and untracked-but-not-ignored files): the build never
    # touches the working tree and the .debs land in $out, not in the tree's parent.
    (cd "$TREE" && { git ls-files -z -co --exclude-standard 2>/dev/null || find . \( -path ./.venv -o -path ./.git \) -prune -o \( -type f -o -type l \) -print0; } \
        | tar --null --ignore-failed-read -cf - -T -) | tar -xf - -C "$out/src"
    (cd "$out/src" && dpkg-buildpackage -us -uc -b >"$out/build.log" 2>&1) \
        || { tail -40 "$out/build.log"; die "dpkg-buildpackage (log: $out/build.log)"; }
    ls "$out"/*.deb
    ok "dpkg-buildpackage ($(elapsed $t0))"
}

# ---------------------------------------------------------------------------------------
# The trixie root, made once and kept; each user copies it.
ensure_root_cache() {
    need_root
    mkdir -p "$CACHE"
    exec 9>"$CACHE/.lock"
    flock 9
    if [ -f "$ROOT_CACHE/.evnet-ci-stamp" ] && [ "$(cat "$ROOT_CACHE/.evnet-ci-stamp")" = "$STAMP_TEXT" ] \
        && [ -z "$(find "$ROOT_CACHE/.evnet-ci-stamp" -mtime +"$CACHE_DAYS")" ]; then
        flock -u 9
        return 0
    fi
    local t0=$SECONDS
    step "debootstrap $SUITE into $ROOT_CACHE (cache)"
    rm -rf "$ROOT_CACHE.tmp" "$ROOT_CACHE"
    debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$ROOT_CACHE.tmp" "$MIRROR" \
        >"$CACHE/debootstrap.log" 2>&1 || { tail -20 "$CACHE/debootstrap.log"; die "debootstrap"; }
    echo evnet-ci >"$ROOT_CACHE.tmp/etc/hostname"
    # The .debs apt downloads go to a shared cache bound into each container.
    rm -f "$ROOT_CACHE.tmp"/var/cache/apt/archives/*.deb
    echo "$STAMP_TEXT" >"$ROOT_CACHE.tmp/.evnet-ci-stamp"
    mv "$ROOT_CACHE.tmp" "$ROOT_CACHE"
    flock -u 9
    ok "debootstrap $SUITE ($(elapsed $t0))"
}

# A throw-away root for the unit checks with this host's systemd: its own units (so that
# sysinit.target, dbus.service, ... exist and parse) plus our packages unpacked (so that
# ExecStart= exists). The target's systemd checks the units again inside the container.
make_stage() {
    local out=$1 stage=$2 dir
    rm -rf "$stage"
    for dir in /lib/systemd/system /usr/lib/systemd/system; do
        if [ -d "$dir" ] && [ ! -L "$dir" ] && [ ! -L "$(dirname "$(dirname "$dir")")" ]; then
            mkdir -p "$stage$dir" && cp -a "$dir/." "$stage$dir/"
        fi
    done
    for deb in "$out"/*.deb; do
        dpkg-deb -x "$deb" "$stage"
    done
}

unit_files() {  # our unit files inside a stage, as absolute paths in it
    local stage=$1
    (cd "$stage" && find lib/systemd/system usr/lib/systemd/system -maxdepth 1 -name 'evnet*' 2>/dev/null) \
        | sed 's|^|/|' | sort -u
}

cmd_lint() {
    local out=${1:?usage: lint OUT}
    local t0=$SECONDS failed=0
    step "lintian"
    local changes
    changes=$(ls "$out"/*.changes)
    lintian --pedantic -I --show-overrides "$changes" 2>&1 | grep -v "running with root privileges" | tee "$out/lintian.log" || true
    if grep -E '^[EW]: ' "$out/lintian.log"; then
        echo "FAIL lintian: errors or warnings above" >&2; failed=1
    else
        ok "lintian: no errors, no warnings"
    fi

    local stage="$out/stage"
    make_stage "$out" "$stage"
    local units
    mapfile -t units < <(unit_files "$stage")
    [ "${#units[@]}" -gt 0 ] || die "no units in the packages"

    step "systemd-analyze verify (host systemd $(systemd-analyze --version | awk 'NR==1{print $2}'), root = its units + our packages)"
    # Man pages in Documentation= are looked up with the host's man: point it at ours.
    if MANPATH="$stage/usr/share/man" systemd-analyze verify --root="$stage" "${units[@]}" >"$out/verify.log" 2>&1 \
        && [ ! -s "$out/verify.log" ]; then
        ok "verify: no output for ${units[*]}"
    else
        cat "$out/verify.log"; echo "FAIL systemd-analyze verify printed the above" >&2; failed=1
    fi

    step "systemd-analyze security --offline=true"
    local unit name score limit
    for unit in "${units[@]}"; do
        name=$(basename "$unit")
        case "$name" in *.service) ;; *) continue ;; esac
        limit=$(exposure_limit "$name")
        score=$(systemd-analyze security --offline=true --root="$stage" "$name" 2>"$out/security.err" \
            | sed -n 's/^→ Overall exposure level for .*: \([0-9.]*\) .*/\1/p')
        if [ -z "$score" ]; then
            cat "$out/security.err"; echo "FAIL security: no score for $name" >&2; failed=1
        elif [ "$limit" = none ]; then
            ok "security $name: exposure $score (a package manager run: not limited)"
        elif awk -v s="$score" -v l="$limit" 'BEGIN{exit !(s <= l)}'; then
            ok "security $name: exposure $score (limit $limit)"
        else
            echo "FAIL security $name: exposure $score > $limit" >&2; failed=1
        fi
    done
    rm -rf "$stage"
    [ "$failed" -eq 0 ] || die "lint"
    ok "lint ($(elapsed $t0))"
}

# ---------------------------------------------------------------------------------------
cmd_oelint() {
    local t0=$SECONDS oelint=${OELINT_ADV:-}
    step "oelint-adv on yocto-layer/meta-evnet"
    [ -n "$oelint" ] || oelint=$(command -v oelint-adv || true)
    [ -n "$oelint" ] || [ ! -x "$TREE/.venv/bin/oelint-adv" ] || oelint=$TREE/.venv/bin/oelint-adv
    [ -n "$oelint" ] || die "oelint-adv not found (pip install oelint-adv; the project's test extra should have it)"
    local layer="$TREE/yocto-layer/meta-evnet"
    local files
    mapfile -t files < <(cd "$layer" && find . -type f \( -name '*.bb' -o -name '*.bbappend' -o -name '*.bbclass' -o -name '*.conf' -o -name '*.inc' \) | sort)
    # --release: the oldest series the layer supports; homepageping needs a network.
    local findings rc=0
    findings=$(cd "$layer" && "$oelint" --quiet --release scarthgap --relpaths \
        --suppress oelint.vars.homepageping --hide info "${files[@]}" 2>&1) || rc=$?
    if [ "$rc" -eq 0 ] && [ -z "$findings" ]; then
        ok "oelint-adv: no findings in ${#files[@]} files ($(elapsed $t0))"
    else
        echo "$findings"
        die "oelint-adv (exit $rc): findings above"
    fi
}

# ---------------------------------------------------------------------------------------
# The container.
WORK=""
NSPAWN_PID=""
CT=""   # PID of the container's systemd (PID 1 inside)

cleanup() {
    local rc=$?
    if [ -n "$NSPAWN_PID" ] && kill -0 "$NSPAWN_PID" 2>/dev/null; then
        if [ -n "$CT" ]; then ct systemctl poweroff --no-block >/dev/null 2>&1 || true; fi
        for _ in $(seq 1 100); do kill -0 "$NSPAWN_PID" 2>/dev/null || break; sleep 0.1; done
        kill -TERM "$NSPAWN_PID" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$NSPAWN_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$NSPAWN_PID" 2>/dev/null || true
        wait "$NSPAWN_PID" 2>/dev/null || true
    fi
    if [ -n "$WORK" ] && [ -d "$WORK" ]; then
        if [ "$rc" -ne 0 ] && [ -f "$WORK/boot.log" ]; then
            echo "--- container console (last 15 lines)"
            tail -15 "$WORK/boot.log" | tr -d '\r' | sed 's/\x1b\[[0-9;]*m//g'
        fi
        rm -rf "$WORK"
    fi
    exit "$rc"
}

# Run a command in the container: all its namespaces, a clean environment.
ct() { nsenter -t "$CT" -a -- env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 TERM=dumb "$@"; }
as_user() { local u=$1; shift; ct runuser -u "$u" -- "$@"; }

# Wait until "$@" succeeds (in the host shell), at most $1 seconds.
wait_for() {
    local limit=$1; shift
    local until=$((SECONDS + limit))
    while ! "$@" >/dev/null 2>&1; do
        [ "$SECONDS" -lt "$until" ] || return 1
        sleep 0.2
    done
}

prop() { ct systemctl show -p "$2" --value "$1"; }   # prop UNIT PROPERTY
unit_up() { [ "$(prop "$1" ActiveState)" = active ] && [ "$(prop "$1" SubState)" = running ]; }
all_up() { local u; for u in $TARGET_UNITS; do unit_up "$u" || return 1; done; }
restarted() { local pid; pid=$(prop "$1" MainPID); [ "$pid" != 0 ] && [ "$pid" != "$2" ] && unit_up "$1"; }
unit_user() { case "$1" in evnet-web.service) echo evnet-web ;; *) echo evnet ;; esac; }   # User= expected

show_units() {
    local u
    for u in $TARGET_UNITS; do
        printf '     %-24s %s/%s pid=%s restarts=%s status="%s"\n' "$u" "$(prop "$u" ActiveState)" \
            "$(prop "$u" SubState)" "$(prop "$u" MainPID)" "$(prop "$u" NRestarts)" "$(prop "$u" StatusText)"
    done
}

charging_summary() {
    python3 -c 'import json, sys; s = json.load(sys.stdin); print(" ".join("%s=%s" % (k, s.get(k)) for k in ("status", "pilot", "contactor_closed", "current_a", "session")))'
}
energy_mode() { as_user bob evnetctl energy --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["Mode"])'; }
charger_limits() { as_user bob busctl get-property org.evnet.Charger1 /org/evnet/Charger1 org.evnet.Charger1 Limits; }
energy_limit() {  # the charger's limit from source "energy"; fails while there is none
    as_user bob busctl --json=short get-property org.evnet.Charger1 /org/evnet/Charger1 org.evnet.Charger1 Limits \
        | python3 -c 'import json, sys; print("%g A" % json.load(sys.stdin)["data"]["energy"])'
}
charging() {
    as_user bob evnetctl status --json | python3 -c 'import json, sys; s = json.load(sys.stdin); sys.exit(0 if s.get("contactor_closed") is True and s.get("status") == "Charging" else 1)'
}

journal_of() { ct journalctl --no-pager -q -u "$1" -n 40 -o short-monotonic || true; }

# Firmware images for the install-firmware test, made from the built evnetd: the same
# package with higher versions (one for evnet-ocpp's hook, one for an administrator's
# upgrade), and a package the hook must refuse.
make_firmware_debs() {
    local out=$1 dir=$2 tmp v
    mkdir -p "$dir"
    tmp=$(mktemp -d "$WORK/fwbuild.XXXXXX")
    for v in 0.1.0+fw1 0.1.0+fw2; do
        rm -rf "$tmp/evnetd"
        dpkg-deb -R "$(ls "$out"/evnetd_*_all.deb)" "$tmp/evnetd"
        sed -i "s/^Version: .*/Version: $v/" "$tmp/evnetd/DEBIAN/control"
        dpkg-deb --root-owner-group -b "$tmp/evnetd" "$dir/evnetd_${v}_all.deb" >/dev/null
    done
    mkdir -p "$tmp/evil/DEBIAN"
    printf '%s\n' "Package: evnet-evil" "Version: 1.0" "Architecture: all" \
        "Maintainer: CI <ci@evnet.example>" "Description: a package install-firmware must refuse" \
        >"$tmp/evil/DEBIAN/control"
    dpkg-deb --root-owner-group -b "$tmp/evil" "$dir/evnet-evil_1.0_all.deb" >/dev/null
    rm -rf "$tmp"
}

# Run a command in a transient unit with a unit's sandbox: the [Service] settings of the
# installed unit except those about the process's life (and its RuntimeDirectory, which the
# running daemon owns), i.e. its user, groups, state directory and hardening.
in_sandbox() {
    local unit=$1 props=() line
    shift
    while IFS= read -r line; do
        props+=(-p "$line")
    done < <(ct sed -n '/^\[Service\]/,/^\[/p' "/usr/lib/systemd/system/$unit" \
        | grep -E '^[A-Za-z]+=' \
        | grep -vE '^(Type|NotifyAccess|ExecStart|WatchdogSec|Restart|RestartSec|RestartPreventExitStatus|TimeoutStopSec|RuntimeDirectory)=')
    ct systemd-run --quiet --wait --pipe --collect "${props[@]}" "$@"
}

cmd_nspawn() {
    local out=${1:?usage: nspawn OUT}
    local t0=$SECONDS
    need_root
    ensure_root_cache
    mkdir -p "$CACHE/archives"
    WORK=$(mktemp -d /var/tmp/evnet-ci.XXXXXX)
    trap cleanup EXIT
    trap 'exit 130' INT TERM

    step "boot a copy of the $SUITE root"
    exec 9>"$CACHE/.lock"
    flock -s 9   # no rebuild of the cache while copying it
    cp -a "$ROOT_CACHE" "$WORK/root"
    flock -u 9
    mkdir -p "$WORK/debs"
    cp "$out"/*.deb "$WORK/debs/"
    make_firmware_debs "$out" "$WORK/debs/fw"
    systemd-nspawn --register=no --keep-unit -b -D "$WORK/root" -M "evnet-ci-$$" --console=passive \
        --bind="$CACHE/archives:/var/cache/apt/archives" --bind-ro="$WORK/debs:/srv/debs" \
        </dev/null >"$WORK/boot.log" 2>&1 &
    NSPAWN_PID=$!
    local pid
    for _ in $(seq 1 100); do
        for pid in $(pgrep -P "$NSPAWN_PID" || true); do
            [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = systemd ] && CT=$pid
        done
        [ -n "$CT" ] && break
        kill -0 "$NSPAWN_PID" 2>/dev/null || die "systemd-nspawn exited: $(cat "$WORK/boot.log")"
        sleep 0.1
    done
    [ -n "$CT" ] || die "no systemd in the container"
    local state="" until=$((SECONDS + 90))
    while [ "$SECONDS" -lt "$until" ]; do   # systemctl fails until PID 1 listens
        state=$(timeout 60 nsenter -t "$CT" -a -- systemctl is-system-running --wait 2>/dev/null || true)
        case "$state" in running|degraded|maintenance|stopping|offline) break ;; esac
        sleep 0.2
    done
    case "$state" in
        running) ;;
        degraded) echo "note: system degraded: $(ct systemctl --failed --no-legend --plain | awk '{print $1}' | xargs)" ;;
        *) die "container did not boot: is-system-running = '$state'" ;;
    esac
    ok "booted ($state, $(elapsed $t0))"

    step "apt-get install our packages"
    local debs=() deb
    for deb in "$WORK"/debs/*.deb; do debs+=("/srv/debs/$(basename "$deb")"); done
    ct apt-get update -qq >"$WORK/apt.log" 2>&1 || { cat "$WORK/apt.log"; die "apt-get update"; }
    ct env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${debs[@]}" \
        >>"$WORK/apt.log" 2>&1 || { tail -40 "$WORK/apt.log"; die "apt-get install"; }
    ct dpkg-query -W -f='${Package} ${Version} ${Status}\n' evnetd evnetd-sim python3-ocpp
    ct getent passwd evnet >/dev/null || die "user evnet missing"
    ok "installed"

    step "systemd-analyze verify inside (systemd $(ct systemctl --version | awk 'NR==1{print $2}'))"
    local units
    units=$(ct sh -c 'cd /usr/lib/systemd/system && ls evnet*' | xargs)
    # No man(1) in a minbase root: the man pages are checked by the host's verify.
    if ct sh -c "cd /usr/lib/systemd/system && systemd-analyze verify --man=no $units" >"$WORK/verify.log" 2>&1 \
        && [ ! -s "$WORK/verify.log" ]; then
        ok "verify: no output for" $units
    else
        cat "$WORK/verify.log"; die "systemd-analyze verify inside the container printed the above"
    fi

    step "systemd-analyze security inside (the target's systemd)"
    local name score limit
    for name in $units; do
        case "$name" in *.service) ;; *) continue ;; esac
        limit=$(exposure_limit "$name")
        score=$(ct systemd-analyze security --offline=true "$name" 2>&1 \
            | sed -n 's/^→ Overall exposure level for .*: \([0-9.]*\) .*/\1/p')
        [ -n "$score" ] || die "security: no score for $name"
        if [ "$limit" = none ]; then
            ok "security $name: exposure $score (a package manager run: not limited)"
            continue
        fi
        awk -v s="$score" -v l="$limit" 'BEGIN{exit !(s <= l)}' || die "security $name: exposure $score > $limit"
        ok "security $name: exposure $score (limit $limit)"
    done

    step "evnet.target with evnet-sim enabled: every unit active after READY"
    ct systemctl enable evnet-sim.service
    ct systemctl reset-failed
    ct systemctl restart evnet.target
    TARGET_UNITS=$(prop evnet.target Wants | tr ' ' '\n' | grep '^evnet' | sort | xargs)
    echo "     units of evnet.target: $TARGET_UNITS"
    for u in evnet-sim.service evnet-meter.service evnet-charger.service evnet-ocpp.service evnet-energy.service \
        evnet-web.service; do
        if ct test -e "/usr/lib/systemd/system/$u" || ct test -e "/lib/systemd/system/$u"; then
            case " $TARGET_UNITS " in *" $u "*) ;; *) die "$u is not wanted by evnet.target" ;; esac
        fi
    done
    if ! wait_for 60 all_up; then
        show_units
        for u in $TARGET_UNITS; do unit_up "$u" || { echo "--- journal of $u"; journal_of "$u"; }; done
        die "not every unit of evnet.target is active"
    fi
    local u
    for u in $TARGET_UNITS; do
        [ "$(prop "$u" Type)" = notify ] || die "$u is not Type=notify"
        [ "$(prop "$u" WatchdogUSec)" != 0 ] || die "$u has no WatchdogSec"
        [ -n "$(prop "$u" StatusText)" ] || die "$u sent no STATUS= (sd_notify)"
        [ "$(prop "$u" User)" = "$(unit_user "$u")" ] || die "$u does not run as $(unit_user "$u")"
    done
    # Still up after more than one watchdog period of the slowest unit (no crash loop).
    local before after
    before=$(for u in $TARGET_UNITS; do prop "$u" NRestarts; done | xargs)
    sleep 6
    after=$(for u in $TARGET_UNITS; do prop "$u" NRestarts; done | xargs)
    all_up && [ "$before" = "$after" ] || { show_units; die "units restarted or stopped while idle"; }
    show_units
    ok "all active, Type=notify, READY and STATUS seen, watchdog armed, user evnet (evnet-web for the web client)"
    for u in $TARGET_UNITS; do
        [ "$(prop "$u" CPUSchedulingPolicy)" = 1 ] || continue   # SCHED_FIFO asked for
        ct grep -Eq '^policy +: +1$' "/proc/$(prop "$u" MainPID)/sched" || die "$u does not run SCHED_FIFO"
        ok "$u runs SCHED_FIFO, priority $(prop "$u" CPUSchedulingPriority)"
    done

    step "D-Bus policy: evnet-admin may call methods, a stranger may only read"
    ct useradd --create-home --groups evnet-admin alice
    ct useradd --create-home bob
    as_user alice evnetctl sim plug --cable 32 || die "alice (evnet-admin): evnetctl sim plug failed"
    [ "$(as_user bob busctl get-property org.evnet.Plant1 /org/evnet/Plant1 org.evnet.Plant1 Plugged)" = "b true" ] \
        || die "plug did not show in the Plugged property (read by bob)"
    ok "alice (evnet-admin): evnetctl sim plug; bob reads Plugged = true"
    if case " $TARGET_UNITS " in *" evnet-charger.service "*) true ;; *) false ;; esac; then
        # A simulated session: the EV asks for charge, the charger closes the contactor.
        as_user alice evnetctl sim ev-state C || die "alice: evnetctl sim ev-state C failed"
        if ! wait_for 20 charging; then
            as_user alice evnetctl status; die "no charging session after plug and ev-state C"
        fi
        ok "session: plug + ev-state C -> $(as_user bob evnetctl status --json | charging_summary)"
        as_user alice evnetctl sim ev-state B || die "alice: evnetctl sim ev-state B failed"
    fi
    local err
    if err=$(as_user bob evnetctl sim unplug 2>&1); then die "bob was allowed to unplug"; fi
    echo "$err" | grep -qi "denied\|not allowed\|rejected" || die "bob's unplug failed, but not with access denied: $err"
    if err=$(as_user bob busctl call org.evnet.Plant1 /org/evnet/Plant1 org.evnet.Plant1 Unplug 2>&1); then
        die "bob was allowed to call Unplug"
    fi
    echo "$err" | grep -qi "access denied" || die "bob's Unplug: $err"
    ok "bob: method calls denied ($err)"
    if err=$(as_user evnet-web busctl call org.evnet.Plant1 /org/evnet/Plant1 org.evnet.Plant1 Unplug 2>&1); then
        die "evnet-web was allowed to call the plant simulator"
    fi
    echo "$err" | grep -qi "access denied" || die "evnet-web's Unplug: $err"
    ok "evnet-web: the plant simulator's methods denied"
    as_user bob busctl introspect org.evnet.Plant1 /org/evnet/Plant1 >/dev/null || die "bob cannot introspect"
    as_user bob evnetctl status --json >"$WORK/status.json" || die "bob cannot read evnetctl status"
    ok "bob: introspect and evnetctl status work"

    # Only user evnet may own the names (not even root).
    local owner_test='import asyncio
from dbus_fast import BusType
from dbus_fast.aio import MessageBus
async def main():
    bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
    await bus.request_name("org.evnet.Energy1")
asyncio.run(main())'
    for u in bob root evnet-web; do
        if err=$(as_user "$u" python3 -c "$owner_test" 2>&1); then die "$u could own org.evnet.Energy1"; fi
        echo "$err" | grep -q "not allowed to own" || die "$u owning org.evnet.Energy1: $err"
    done
    ok "bob, root and evnet-web may not own org.evnet names"

    step "evnet-ocpp offline (no CSMS configured): link state, configuration keys, policy"
    if ! python3 -c 'import json, sys; s = json.load(open(sys.argv[1])); sys.exit(0 if "ocpp" in s["services"] and s["ocpp_connected"] is False and s["ocpp_registration"] is None else 1)' \
        "$WORK/status.json"; then
        cat "$WORK/status.json"; die "evnetctl status --json: expected ocpp in services, ocpp_connected false, ocpp_registration null"
    fi
    ok "evnetctl status --json: ocpp_connected=false, ocpp_registration=null ($(prop evnet-ocpp.service StatusText))"
    local key_line
    key_line=$(as_user alice evnetctl ocpp config HeartbeatInterval) || die "alice: evnetctl ocpp config HeartbeatInterval failed"
    echo "$key_line" | grep -Eq '^HeartbeatInterval = [0-9]+$' || die "alice: evnetctl ocpp config HeartbeatInterval printed: $key_line"
    if err=$(as_user bob evnetctl ocpp config HeartbeatInterval 60 2>&1); then die "bob was allowed to change HeartbeatInterval"; fi
    # the bus's refusal ("Rejected send message" / AccessDenied), not OCPP's status Rejected
    echo "$err" | grep -qi "rejected send message\|access denied\|AccessDenied" \
        || die "bob's ChangeConfiguration failed, but not with access denied: $err"
    [ "$(as_user alice evnetctl ocpp config HeartbeatInterval)" = "$key_line" ] || die "bob's ChangeConfiguration changed the key"
    ok "bob: evnetctl ocpp config HeartbeatInterval 60 denied ($err)"
    [ "$(as_user alice evnetctl ocpp config HeartbeatInterval 60)" = Accepted ] || die "alice: HeartbeatInterval 60 was not Accepted"
    [ "$(as_user alice evnetctl ocpp config HeartbeatInterval)" = "HeartbeatInterval = 60" ] || die "HeartbeatInterval did not become 60"
    ok "alice (evnet-admin): '$key_line', set 60: Accepted, reads back 60"

    step "evnet-energy: settings over D-Bus, the energy limit at the charger, sharing"
    local mode
    [ "$(energy_mode)" = normal ] || die "energy mode is not normal at first: $(as_user bob evnetctl energy)"
    as_user alice evnetctl energy set mode solar-min || die "alice (evnet-admin): evnetctl energy set mode solar-min failed"
    mode=$(energy_mode)
    [ "$mode" = solar-min ] || die "energy mode did not become solar-min: $mode"
    if err=$(as_user bob evnetctl energy set mode solar 2>&1); then die "bob was allowed to change the energy mode"; fi
    echo "$err" | grep -qi "rejected send message\|access denied\|AccessDenied" || die "bob's energy set failed, but not with access denied: $err"
    [ "$(energy_mode)" = solar-min ] || die "bob's refused energy set changed the mode"
    ok "alice: evnetctl energy set mode solar-min; bob denied ($err)"
    as_user alice evnetctl energy set mode normal || die "alice: evnetctl energy set mode normal failed"
    [ "$(ct stat -c %U /var/lib/evnet/energy.db)" = evnet ] || die "/var/lib/evnet/energy.db is missing or not evnet's"
    # evnet-energy (user evnet) calls the charger's SetLimit: the limit shows among the charger's.
    wait_for 10 energy_limit || { charger_limits; journal_of evnet-energy.service; die "no energy limit among the charger's limits"; }
    ok "settings persisted in energy.db; the charger's energy limit: $(energy_limit); $(as_user bob evnetctl energy | sed -n 2,3p | xargs)"
    # Sharing in the unit's sandbox: python-can and the simulated board's bus (a directory of
    # AF_UNIX sockets in /var/lib/evnet/can). SocketCAN itself (AF_CAN) cannot be tried: the
    # build VM's kernel has no CAN.
    as_user alice evnetctl energy set sharing true || die "alice: evnetctl energy set sharing true failed"
    wait_for 10 sh -c "nsenter -t $CT -a -- journalctl -q -u evnet-energy -o cat | grep -q 'sharing on CAN evnet_sim/'" \
        || { journal_of evnet-energy.service; die "evnet-energy did not open the sharing bus"; }
    local sharing
    sharing=$(as_user bob evnetctl energy --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["SharingState"])')
    [ "$sharing" != off ] || die "SharingState is off with sharing on"
    as_user alice evnetctl energy set sharing false || die "alice: evnetctl energy set sharing false failed"
    ok "sharing on: the bus opened in the sandbox (SharingState $sharing); off again"

    step "evnet-web: HTTPS on port 443 as evnet-web, login, a change through D-Bus, the journal"
    local web_dir=/var/lib/evnet/web pin
    [ "$(ct stat -c '%U %a' "$web_dir")" = "evnet-web 700" ] || die "$web_dir: $(ct stat -c '%U %a' "$web_dir"), expected evnet-web 700"
    for f in pin key.pem; do
        [ "$(ct stat -c '%U %a' "$web_dir/$f")" = "evnet-web 600" ] \
            || die "$web_dir/$f: $(ct stat -c '%U %a' "$web_dir/$f" 2>&1), expected evnet-web 600"
    done
    ct test -s "$web_dir/certificate.pem" || die "no self-signed certificate in $web_dir"
    pin=$(ct cat "$web_dir/pin")
    local web_py='import http.cookiejar, json, ssl, sys, urllib.error, urllib.request
base = "https://127.0.0.1:%s/api/v1" % sys.argv[1]
tls = ssl.create_default_context()
tls.check_hostname, tls.verify_mode = False, ssl.CERT_NONE   # the per-device self-signed certificate
opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=tls),
                                     urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
def call(method, path, body=None, headers=None):
    data = None if body is None else json.dumps(body).encode()
    headers = {**(headers or {}), **({"Content-Type": "application/json"} if data else {})}
    try:
        with opener.open(urllib.request.Request(base + path, data, headers, method=method), timeout=20) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read()
def expect(what, got, status):
    if got[0] != status:
        sys.exit("%s: HTTP %s (expected %s): %s" % (what, got[0], status, got[1][:300]))
    return got[1]
doc = expect("GET openapi.yaml", call("GET", "/openapi.yaml"), 200)
assert doc.startswith(b"openapi:"), doc[:40]
expect("GET status without login", call("GET", "/status"), 401)
csrf = json.loads(expect("POST login", call("POST", "/login", {"pin": sys.argv[2]}), 200))["csrf_token"]
status = json.loads(expect("GET status", call("GET", "/status"), 200))
expect("PATCH settings/charger without CSRF token", call("PATCH", "/settings/charger", {"user_max_a": 16}), 403)
changed = json.loads(expect("PATCH settings/charger", call("PATCH", "/settings/charger", {"user_max_a": 16},
                                                            {"X-CSRF-Token": csrf}), 200))
assert changed["user_max_a"] == 16, changed
energy = json.loads(expect("GET settings/energy", call("GET", "/settings/energy"), 200))
journal = json.loads(expect("GET journal", call("GET", "/journal?lines=20"), 200))
assert journal["source"] == "journal" and journal["entries"], journal
print("openapi 200, status 401 then 200 (%s), user_max_a 16 (403 without CSRF), energy mode %s, journal %d entries"
      % (status.get("status"), energy.get("mode"), len(journal["entries"])))'
    local web_out
    web_out=$(ct python3 -c "$web_py" 443 "$pin" 2>&1) || { echo "$web_out"; journal_of evnet-web.service; die "the web API checks failed"; }
    ok "$web_out"
    # The change went to the charger as a D-Bus call of evnet-web (its own policy rule).
    as_user bob busctl --json=short get-property org.evnet.Charger1 /org/evnet/Charger1 org.evnet.Charger1 Settings \
        | python3 -c 'import json, sys; sys.exit(0 if json.load(sys.stdin)["data"]["user_max_a"]["data"] == 16 else 1)' \
        || die "the charger's user_max_a is not 16 after the web's change"
    ok "the charger's Settings: user_max_a = 16"
    local seen
    seen=$(in_sandbox evnet-web.service ls -A /var/lib/evnet 2>&1) || die "ls in evnet-web's sandbox: $seen"
    [ "$seen" = web ] || die "in evnet-web's sandbox /var/lib/evnet holds: $seen"
    ok "in evnet-web's sandbox /var/lib/evnet holds only web/ (the other daemons' state is out of reach)"

    step "journal: structured fields"
    as_user alice evnetctl sim fault tamper on || die "evnetctl sim fault tamper on"
    wait_for 10 sh -c "nsenter -t $CT -a -- journalctl -q -u evnet-sim FAULT=tamper -o json | grep -q ." \
        || { journal_of evnet-sim.service; die "no journal entry of evnet-sim with FAULT=tamper"; }
    as_user alice evnetctl sim fault tamper off || die "evnetctl sim fault tamper off"
    local fields
    fields=$(ct journalctl -q -u evnet-sim -o json --output-fields=SYSLOG_IDENTIFIER,LOGGER,CODE_FILE,CODE_LINE,PRIORITY,FAULT,_SYSTEMD_UNIT FAULT=tamper | head -1)
    echo "     $fields"
    for f in '"SYSLOG_IDENTIFIER":"evnet-sim"' '"_SYSTEMD_UNIT":"evnet-sim.service"' '"LOGGER":' '"CODE_FILE":' '"CODE_LINE":' '"FAULT":"tamper"'; do
        echo "$fields" | grep -q "$f" || die "journal entry lacks $f"
    done
    for u in $TARGET_UNITS; do
        [ -n "$(ct journalctl -q -u "$u" SYSLOG_IDENTIFIER="${u%.service}" -o cat -n 1)" ] \
            || die "no journal entry with SYSLOG_IDENTIFIER=${u%.service} for $u"
    done
    ok "journalctl -u shows SYSLOG_IDENTIFIER, LOGGER, CODE_FILE, CODE_LINE, FAULT"

    step "kill -9 of each service: systemd restarts it"
    local old n0
    for u in $TARGET_UNITS; do
        old=$(prop "$u" MainPID); n0=$(prop "$u" NRestarts)
        ct sh -c "kill -KILL $old"   # the shell builtin: minbase has no procps
        wait_for 30 restarted "$u" "$old" || { show_units; journal_of "$u"; die "$u was not restarted after kill -9"; }
        [ "$(prop "$u" NRestarts)" -gt "$n0" ] || die "$u: NRestarts did not grow"
        ok "$u: pid $old killed, now pid $(prop "$u" MainPID)"
    done
    wait_for 30 all_up || { show_units; die "not every unit recovered after the kills"; }
    ok "all recovered"

    step "stalled watchdog: systemd restarts the service"
    # The unit with the tightest watchdog (SIGSTOP stops its pings).
    local wd best="" best_wd=""
    for u in $TARGET_UNITS; do
        wd=$(prop "$u" WatchdogUSec)
        wd=$(ct systemd-analyze timespan "$wd" | awk '/μs:/{print $2}')
        if [ -z "$best" ] || [ "$wd" -lt "$best_wd" ]; then best=$u; best_wd=$wd; fi
    done
    old=$(prop "$best" MainPID)
    ct sh -c "kill -STOP $old"
    wait_for $((best_wd / 1000000 * 3 + 20)) restarted "$best" "$old" \
        || { show_units; journal_of "$best"; die "$best was not restarted after its watchdog stalled"; }
    ct journalctl -q -u "$best" -o cat | grep -q "Watchdog timeout" || die "$best: no 'Watchdog timeout' in the journal"
    ok "$best (WatchdogSec $((best_wd / 1000)) ms): stalled pid $old, watchdog timeout, now pid $(prop "$best" MainPID)"
    wait_for 30 all_up || { show_units; die "not every unit recovered after the watchdog restart"; }

    step "evnet-ocpp's sandbox: network client, cryptography, journal; firmware through evnet-firmware-install"
    # websockets >= 15 (connect(..., proxy=None)), AF_INET/AF_INET6 allowed (a refused
    # connection, not EAFNOSUPPORT), cryptography signing and verifying under
    # MemoryDenyWriteExecute, the OCPP modules importable.
    local sandbox_py='import asyncio, socket
import websockets
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
import evnetd.ocpp.certificates, evnetd.ocpp.firmware, evnetd.ocpp.logs, evnetd.ocpp.service, evnetd.ocpp.transfer
async def refused():
    try:
        await websockets.connect("ws://127.0.0.1:9/CP", additional_headers={}, proxy=None, open_timeout=5)
    except ConnectionRefusedError:
        return
    raise SystemExit("connected to port 9?")
asyncio.run(refused())
socket.socket(socket.AF_INET6, socket.SOCK_STREAM).close()
key = ec.generate_private_key(ec.SECP256R1())
key.public_key().verify(key.sign(b"image", ec.ECDSA(hashes.SHA256())), b"image", ec.ECDSA(hashes.SHA256()))
rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.MAX_LENGTH)
rsa_key.public_key().verify(rsa_key.sign(b"image", pss, hashes.SHA256()), b"image", pss, hashes.SHA256())
print("websockets", websockets.__version__)'
    local sandbox_out
    sandbox_out=$(in_sandbox evnet-ocpp.service python3 -c "$sandbox_py" 2>&1) || { echo "$sandbox_out"; die "the OCPP client checks failed in evnet-ocpp's sandbox"; }
    ok "in the sandbox: $sandbox_out, proxy=None accepted, AF_INET/AF_INET6 allowed, ECDSA/RSA-PSS sign+verify"
    [ -n "$(in_sandbox evnet-ocpp.service journalctl --no-pager --quiet -o cat -n 5 -u 'evnet-*')" ] \
        || die "journalctl in evnet-ocpp's sandbox shows nothing (SupplementaryGroups=systemd-journal?)"
    ok "journalctl -u 'evnet-*' works as evnet in the sandbox (GetDiagnostics)"
    [ "$(prop evnet-firmware-install.path ActiveState)" = active ] || die "evnet-firmware-install.path is not active"
    ct install -d -o evnet -g evnet -m 0750 /var/lib/evnet/firmware
    ct install -o evnet -g evnet -m 0640 /srv/debs/fw/evnetd_0.1.0+fw1_all.deb /srv/debs/fw/evnet-evil_1.0_all.deb \
        /var/lib/evnet/firmware/
    local rc ocpp_pid
    rc=0
    in_sandbox evnet-ocpp.service /usr/lib/evnet/install-firmware /var/lib/evnet/firmware/evnet-evil_1.0_all.deb >"$WORK/fw.log" 2>&1 || rc=$?
    if [ "$rc" != 2 ] || ct dpkg-query -W evnet-evil >/dev/null 2>&1 \
        || ! ct journalctl -q -u evnet-firmware-install -o cat | grep -q "refused: package 'evnet-evil'"; then
        cat "$WORK/fw.log"; journal_of evnet-firmware-install.service; die "a foreign package: exit $rc (2 expected), or installed"
    fi
    ok "a foreign package is refused: exit 2, not installed"
    ocpp_pid=$(prop evnet-ocpp.service MainPID)
    rc=0
    in_sandbox evnet-ocpp.service /usr/lib/evnet/install-firmware /var/lib/evnet/firmware/evnetd_0.1.0+fw1_all.deb >"$WORK/fw.log" 2>&1 || rc=$?
    if [ "$rc" != 10 ] || [ "$(ct dpkg-query -W -f='${Version}' evnetd)" != 0.1.0+fw1 ]; then
        cat "$WORK/fw.log"; journal_of evnet-firmware-install.service
        die "evnetd 0.1.0+fw1 through the hook: exit $rc (10 expected), evnetd $(ct dpkg-query -W -f='${Version}' evnetd)"
    fi
    [ "$(prop evnet-ocpp.service MainPID)" = "$ocpp_pid" ] || die "the firmware upgrade restarted evnet-ocpp (the process waiting for it)"
    ok "evnetd 0.1.0+fw1 via the hook in evnet-ocpp's sandbox: installed as root, exit 10, evnet-ocpp (pid $ocpp_pid) left running"
    ct systemctl restart evnet-ocpp.service   # what the daemon does after exit status 10
    wait_for 60 all_up || { show_units; die "not every unit is active after the firmware install"; }
    ocpp_pid=$(prop evnet-ocpp.service MainPID)
    ct env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends /srv/debs/fw/evnetd_0.1.0+fw2_all.deb \
        >"$WORK/apt2.log" 2>&1 || { tail -30 "$WORK/apt2.log"; die "apt-get install evnetd 0.1.0+fw2"; }
    wait_for 30 restarted evnet-ocpp.service "$ocpp_pid" || { show_units; die "an administrator's upgrade did not restart evnet-ocpp"; }
    wait_for 60 all_up || { show_units; die "not every unit is active after the upgrade"; }
    ok "an administrator's upgrade (apt-get install evnetd 0.1.0+fw2) restarts evnet-ocpp: pid $ocpp_pid -> $(prop evnet-ocpp.service MainPID)"

    step "apt-get purge leaves nothing behind"
    ct env DEBIAN_FRONTEND=noninteractive apt-get purge -y evnetd evnetd-sim python3-ocpp >"$WORK/purge.log" 2>&1 \
        || { tail -30 "$WORK/purge.log"; die "apt-get purge"; }
    local left
    left=$(ct sh -c 'ls -d /var/lib/evnet /etc/evnet /run/evnet /usr/share/dbus-1/system.d/org.evnet.conf \
        /usr/lib/evnet /var/cache/evnet-firmware-install /run/evnet-firmware-install \
        /usr/lib/sysusers.d/evnetd.conf /usr/lib/python3/dist-packages/evnetd /usr/lib/python3/dist-packages/ocpp \
        /usr/bin/evnetd /usr/bin/evnetctl 2>/dev/null;
        find /etc/systemd /usr/lib/systemd /usr/lib/udev /var/lib/systemd/deb-systemd-helper-enabled \
            -name "*evnet*" 2>/dev/null;
        dpkg-query -W -f="\${Package} \${Status}\n" evnetd evnetd-sim python3-ocpp 2>/dev/null | grep -v "not-installed$";
        find /proc -maxdepth 1 -regex "/proc/[0-9]+" \( -user evnet -o -user evnet-web \)' || true)
    [ -z "$left" ] || die "left behind after purge: $left"
    ct systemctl list-units --all --no-legend --plain 'evnet*' | grep -v "not-found" | grep . && die "units still loaded"
    ct apt-get autoclean -qq >/dev/null 2>&1 || true
    ok "purged: no /var/lib/evnet, /etc/evnet, units, policy, processes (user evnet stays, as Debian policy asks)"

    ok "installed-system test ($(elapsed $t0))"
}

# ---------------------------------------------------------------------------------------
main() {
    local cmd=${1:-}
    shift || true
    case "$cmd" in
        deps) cmd_deps ;;
        build) cmd_build "$@" ;;
        lint) cmd_lint "$@" ;;
        oelint) cmd_oelint ;;
        nspawn) cmd_nspawn "$@" ;;
        all)
            local out=${1:-}
            [ -n "$out" ] || out=$(mktemp -d /var/tmp/evnet-ci-out.XXXXXX)
            cmd_deps; cmd_build "$out"; cmd_lint "$out"; cmd_oelint; cmd_nspawn "$out"
            echo; echo "all checks passed ($(elapsed 0))" ;;
        *) sed -n '2,16p' "$0"; exit 2 ;;
    esac
}
main "$@"
