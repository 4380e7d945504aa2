#!/bin/sh
# Install, upgrade or remove the metrics-producer systemd service (docs/deployment.md).
#
#   sudo sh producer/systemd/install.sh install      # or: sudo make install-producer
#   sudo sh producer/systemd/install.sh uninstall    # keeps /etc/default/metrics-producer
#   sudo sh producer/systemd/install.sh purge        # ... and removes it too
#
# install: a virtualenv in $PREFIX with the producer package and its three dependencies (pinned as in
# requirements.txt), the unit in $UNIT_DIR, the settings file in $CONF (only if there is none yet: an
# upgrade keeps yours and writes the new sample next to it as $CONF.dist), then daemon-reload and
# enable --now (or restart, on an upgrade). Running it again is an upgrade.
#
# Variables: PREFIX (/opt/metrics-producer), UNIT_DIR (/etc/systemd/system), CONF
# (/etc/default/metrics-producer), PYTHON (python3, 3.11+), DESTDIR (stage into a directory instead of /;
# systemctl is then not called), PIP_ARGS (extra pip arguments, e.g. a local wheel house),
# INSTALL_DEPS (yes; "no" skips pip, for tests and for hosts that provide the packages another way).
set -eu

NAME=metrics-producer
PREFIX=${PREFIX:-/opt/$NAME}
UNIT_DIR=${UNIT_DIR:-/etc/systemd/system}
CONF=${CONF:-/etc/default/$NAME}
PYTHON=${PYTHON:-python3}
DESTDIR=${DESTDIR:-}
PIP_ARGS=${PIP_ARGS:-}
INSTALL_DEPS=${INSTALL_DEPS:-yes}
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)

say() { echo "install.sh: $*"; }

systemd_running() { [ -z "$DESTDIR" ] && [ -d /run/systemd/system ]; }

pins() {
    # the pinned versions of the agent's runtime dependencies, from requirements.txt
    grep -iE '^(confluent-kafka|psutil|orjson)==' "$SRC/requirements.txt"
}

do_install() {
    root="$DESTDIR$PREFIX"
    was_active=no
    if systemd_running && systemctl is-active --quiet "$NAME"; then was_active=yes; fi

    say "virtualenv in $root"
    if [ "$INSTALL_DEPS" = no ]; then
        "$PYTHON" -m venv --without-pip "$root"
    else
        "$PYTHON" -m venv "$root"
        # shellcheck disable=SC2086 # PIP_ARGS is a list of arguments
        "$root/bin/python" -m pip install --quiet --disable-pip-version-check $PIP_ARGS $(pins)
    fi
    site=$("$root/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    rm -rf "$site/producer"
    # the package itself, without caches, the unit's own files (systemd/check.py runs from the checkout)
    # or anything else from the checkout
    (cd "$SRC" && find producer \( -name '__pycache__' -o -path producer/systemd \) -prune -o -type f -name '*.py' -print) | while read -r f; do
        install -D -m 0644 "$SRC/$f" "$site/$f"
    done
    "$root/bin/python" -m compileall -q "$site/producer"  # the service cannot write .pyc files
    install -D -m 0644 "$SRC/docs/deployment.md" "$root/share/doc/deployment.md"
    install -D -m 0644 "$SRC/docs/configuration.md" "$root/share/doc/configuration.md"
    install -D -m 0644 "$SRC/docs/metrics.md" "$root/share/doc/metrics.md"

    unit="$DESTDIR$UNIT_DIR/$NAME.service"
    say "unit $unit"
    mkdir -p "$(dirname "$unit")"
    sed -e "s#/opt/metrics-producer#$PREFIX#g" -e "s#/etc/default/metrics-producer#$CONF#g" \
        "$HERE/$NAME.service" > "$unit"
    chmod 0644 "$unit"

    conf="$DESTDIR$CONF"
    if [ -e "$conf" ]; then
        say "keeping your $conf; the new sample is $conf.dist"
        install -D -m 0600 "$HERE/$NAME.env" "$conf.dist"
    else
        say "settings $conf (every setting commented out)"
        install -D -m 0600 "$HERE/$NAME.env" "$conf"
    fi

    if systemd_running; then
        systemctl daemon-reload
        if [ "$was_active" = yes ]; then
            systemctl restart "$NAME"
            say "upgraded and restarted $NAME"
        else
            systemctl enable --now "$NAME"
            say "enabled and started $NAME"
        fi
        systemctl --no-pager --lines=0 status "$NAME" || true
    else
        say "systemd is not running here (or DESTDIR is set): not starting anything"
    fi
}

do_uninstall() {
    purge=$1
    if systemd_running; then
        systemctl disable --now "$NAME" 2>/dev/null || true
    fi
    rm -f "$DESTDIR$UNIT_DIR/$NAME.service"
    rm -rf "$DESTDIR$PREFIX"
    if [ "$purge" = yes ]; then
        rm -f "$DESTDIR$CONF" "$DESTDIR$CONF.dist"
    elif [ -e "$DESTDIR$CONF" ]; then
        say "kept $DESTDIR$CONF (use 'purge' to remove it)"
    fi
    if systemd_running; then
        systemctl daemon-reload
    fi
    say "removed $NAME"
}

case "${1:-}" in
    install) do_install ;;
    uninstall) do_uninstall no ;;
    purge) do_uninstall yes ;;
    *) echo "usage: $0 install|uninstall|purge" >&2; exit 2 ;;
esac
