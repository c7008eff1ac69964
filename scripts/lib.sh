# Shared by scripts/*: the project's Python environment and Debian packages.
# shellcheck shell=bash

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$REPO_ROOT/.venv"

# A stage's banner; the previous stage's wall time is printed as it ends and kept for
# stage_times (scripts/test prints them all at its end).
STAGE_TIMES=()
_stage="" _stage_t0=0
log() {
    local now
    now=$(date +%s)
    if [ -n "$_stage" ]; then
        STAGE_TIMES+=("$(printf '%6d s  %s' $((now - _stage_t0)) "$_stage")")
        printf '   (%s: %d s)\n' "$_stage" $((now - _stage_t0))
    fi
    _stage="$*" _stage_t0=$now
    printf '\n== %s (%s)\n' "$*" "$(date -u +%H:%M:%S)"
}
stage_times() {
    log "end"
    printf '\nWall time per stage:\n'
    printf '%s\n' "${STAGE_TIMES[@]}"
}

# Installs Debian packages without letting their services start on this host.
apt_install() {
    local missing=()
    for package in "$@"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' \
            || missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    local guard=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        guard=1
    fi
    if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -print -quit)" ] \
        || [ -n "${VRRP_APT_UPDATE:-}" ]; then
        apt-get update -q
    fi
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -q \
        --no-install-recommends "${missing[@]}" || {
        apt-get update -q
        DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -q \
            --no-install-recommends "${missing[@]}"
    }
    [ -n "$guard" ] && rm -f /usr/sbin/policy-rc.d
    return 0
}

# The project's virtualenv with the pinned requirements and this checkout installed
# editable as the package `vrrp_pair` (quiet when up to date).
python_env() {
    local stamp="$VENV/.requirements.sha256"
    local want
    want=$(cat "$REPO_ROOT"/requirements*.txt "$REPO_ROOT/requirements.lock" \
        "$REPO_ROOT/pyproject.toml" | sha256sum | cut -d' ' -f1)
    if [ ! -x "$VENV/bin/python" ]; then
        python3 -m venv "$VENV"
    fi
    if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        "$VENV/bin/pip" install -q --upgrade pip
        "$VENV/bin/pip" install -q -r "$REPO_ROOT/requirements.txt" \
            -r "$REPO_ROOT/requirements-dev.txt" -c "$REPO_ROOT/requirements.lock"
        echo "$want" > "$stamp"
    fi
    # shellcheck disable=SC1091
    . "$VENV/bin/activate"
}

# A Go tool built from the Go module proxy once, cached by version; prints its path.
go_tool() {
    local name=$1 module=$2 version=$3
    local dir="/var/cache/vrrp-pair/tools/$name-$version"
    if [ ! -x "$dir/$name" ]; then
        mkdir -p "$dir"
        GOBIN="$dir" GOFLAGS=-trimpath go install "$module@$version" >&2
    fi
    echo "$dir/$name"
}

# A stack deployed to the local cloud (scripts/local-cloud) records that cloud's id
# (VRRP_LOCAL_CLOUD_ID, made at its first `up`, gone with `down`). `down` takes the cloud's
# resources with it, so a stack recorded for another id describes resources that no
# longer exist, and its `up` would fail on them: forget its state (pulumi stack rm
# --force), saying so, and keep the stack's config file (stack rm deletes it otherwise: the
# tracked Pulumi.<stack>.yaml). Args: the state dir, the stack, the running cloud's id.
forget_stack_of_a_gone_cloud() {
    local state=$1 stack=$2 cloud_id=$3 recorded
    recorded="$state/$stack.cloud-id"
    if [ -s "$recorded" ] && [ "$(cat "$recorded")" != "$cloud_id" ] \
        && pulumi stack select "$stack" --non-interactive >/dev/null 2>&1; then
        echo "Stack $stack was deployed to a local cloud that is gone ($(cat "$recorded");" \
            "this one is $cloud_id): its resources went with that cloud, so its state is" \
            "forgotten (pulumi stack rm --force) and the stack starts afresh." >&2
        pulumi stack rm --force --yes --preserve-config --non-interactive "$stack" >&2
        rm -f "$state/$stack.encryptionsalt"
    fi
    echo "$cloud_id" > "$recorded"
}
