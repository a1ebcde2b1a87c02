# shellcheck shell=bash
# Prerequisites for scripts/test and the .ci/ checks: find what is missing, install it when we may
# (root with apt-get), otherwise stop in the first seconds with one line naming what is missing and
# how to get it. Python tools go into virtual environments under target/, never into the system
# Python (which Debian marks externally managed: PEP 668).
#
# Sourced, never run; it only defines functions. The caller sets PROG (how messages start) first.

log() {
    echo "$PROG: $*" >&2
}

die() {
    echo "$PROG: error: $*" >&2
    exit 1
}

may_apt() {
    [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null
}

# Installs Debian packages; `apt-get update` runs once per process, since a fresh machine has no
# package lists at all.
apt_install() { # package...
    may_apt || return 1
    log "installing Debian packages: $*"
    if [[ -z ${APT_UPDATED:-} ]]; then
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || return 1
        APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

# What is missing, collected by the need_* functions below so that one line can name all of it.
MISSING=()      # "what (how to get it)"
MISSING_PKGS=() # the Debian packages that provide it
MISSING_OTHER=0 # things no Debian package provides (cargo)

reset_missing() {
    MISSING=()
    MISSING_PKGS=()
    MISSING_OTHER=0
}

missing() { # what debian-package-or-empty how-if-no-package
    if [[ -n $2 ]]; then
        MISSING+=("$1 (Debian package $2)")
        [[ " ${MISSING_PKGS[*]} " == *" $2 "* ]] || MISSING_PKGS+=("$2")
    else
        MISSING+=("$1 ($3)")
        MISSING_OTHER=1
    fi
}

need_command() { # command debian-package
    command -v "$1" >/dev/null || missing "$1" "$2"
}

# A file some Debian package ships (a font, say), when no command names it.
need_file() { # path debian-package
    [[ -e $1 ]] || missing "$1" "$2"
}

# Rust itself is not ours to install: Debian's cargo is older than the crates we use.
need_rust() {
    command -v cargo >/dev/null || missing cargo "" "install Rust with rustup: https://rustup.rs"
}

# python3, and its venv module when a venv must be (re)made. Debian ships venv and ensurepip apart
# from python3, in python3-venv.
need_venv_python() { # venv-dir requirements-file
    command -v python3 >/dev/null || {
        missing python3 python3
        missing "python3 -m venv" python3-venv
        return
    }
    venv_current "$1" "$2" || python3 -c 'import venv, ensurepip' 2>/dev/null \
        || missing "python3 -m venv" python3-venv
}

# Runs the checks (a function making need_* calls); installs what they found missing and checks
# again, or, when that cannot be done here, stops with one line naming all of it and how to get it.
install_missing() { # check-function
    reset_missing
    "$1"
    ((${#MISSING[@]} == 0)) && return
    local what
    what=$(printf '%s, ' "${MISSING[@]}")
    what=${what%, }
    if ((MISSING_OTHER)) || ! may_apt; then
        local how=""
        if ((${#MISSING_PKGS[@]} > 0)); then
            if may_apt; then
                # Root, so only what has no Debian package stops us: say the rest will follow.
                how="; re-run once that is there, and $PROG installs the Debian packages itself"
            elif command -v apt-get >/dev/null; then
                how=": run $PROG as root and it installs the Debian packages (or: apt-get install ${MISSING_PKGS[*]})"
            else
                how=": install them and re-run"
            fi
        fi
        die "missing $what$how"
    fi
    apt_install "${MISSING_PKGS[@]}" || die "apt-get install ${MISSING_PKGS[*]} failed (see above)"
    reset_missing
    "$1"
    what=$(printf '%s, ' "${MISSING[@]}")
    ((${#MISSING[@]} == 0)) || die "still missing after apt-get install: ${what%, }"
}

# A venv is current when it was made from exactly this requirements file by this python3.
venv_stamp() { # requirements-file
    echo "$(sha256sum <"$1" | cut -c1-64) $(python3 -c 'import sys; print(sys.executable, sys.version.split()[0])')"
}

venv_current() { # venv-dir requirements-file
    [[ -x $1/bin/python && -f $1/.pinned && $(cat "$1/.pinned") == "$(venv_stamp "$2")" ]]
}

# Makes (or reuses) a venv holding exactly the pinned requirements. The stamp is written last, so
# an interrupted install is redone on the next run.
ensure_venv() { # venv-dir requirements-file
    local venv=$1 req=$2
    if venv_current "$venv" "$req"; then
        return
    fi
    log "creating $venv from $req"
    rm -rf "$venv"
    mkdir -p "$(dirname "$venv")"
    python3 -m venv "$venv" >&2 || die "python3 -m venv $venv failed"
    "$venv/bin/pip" install --quiet --disable-pip-version-check --no-input -r "$req" >&2 \
        || die "pip install -r $req into $venv failed (is PyPI reachable?)"
    venv_stamp "$req" >"$venv/.pinned"
}

# npm packages pinned by a committed package.json and package-lock.json, installed with `npm ci`
# into a directory under target/ (never globally), without running their install scripts (one of
# them would download a Java runtime). Redone only when the lock file or node changes; the stamp is
# written last, so an interrupted install is redone on the next run.
npm_stamp() { # source-dir
    echo "$(cat "$1/package.json" "$1/package-lock.json" | sha256sum | cut -c1-64) node $(node --version)"
}

ensure_npm() { # target-dir source-dir
    local dir=$1 src=$2
    if [[ -d $dir/node_modules && -f $dir/.pinned && $(cat "$dir/.pinned") == "$(npm_stamp "$src")" ]]; then
        return
    fi
    log "installing the npm packages of $src/package-lock.json into $dir"
    rm -rf "$dir"
    mkdir -p "$dir"
    cp "$src/package.json" "$src/package-lock.json" "$dir/"
    (cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2) \
        || die "npm ci in $dir failed (is the npm registry reachable?)"
    npm_stamp "$src" >"$dir/.pinned"
}
