#!/bin/sh
# Install the Debian packages the host tests need, only when a tool is missing.
#
# Why: `make test` must pass on a fresh Debian machine (CI), and the MQTT tests run a real
# mosquitto broker. Usage: tools/ensure_debs.sh TOOL:PACKAGE ...  e.g. mosquitto:mosquitto
# Each TOOL is looked up on PATH (and in /usr/sbin); the PACKAGEs of missing tools are
# installed in one `apt-get install`. Package services are not started.
set -e

missing=""
for pair in "$@"; do
    tool=${pair%%:*}
    pkg=${pair#*:}
    if ! command -v "$tool" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$tool" ]; then
        missing="$missing $pkg"
    fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
else
    SUDO=
fi

echo "ensure_debs: installing$missing"
# policy-rc.d exit 101 tells invoke-rc.d not to start services the packages ship
# (the tests start their own broker on a free port); only ours is removed again.
policy=/usr/sbin/policy-rc.d
own_policy=
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
    $SUDO chmod 755 "$policy"
    own_policy=1
fi
status=0
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q || status=$?
if [ "$status" -eq 0 ]; then
    # shellcheck disable=SC2086  # word splitting of the package list is intended
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        $missing || status=$?
fi
[ -n "$own_policy" ] && $SUDO rm -f "$policy"
exit "$status"
