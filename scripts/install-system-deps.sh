#!/bin/sh
# Installs the Debian packages the test suite needs, only when they are missing.
set -eu
missing=""
[ -x /usr/lib/postgresql/15/bin/initdb ] || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$missing postgresql"
[ -x /usr/bin/chromium ] || missing="$missing chromium"
# Speaks a test sentence into the fake microphone of the recording tests.
[ -x /usr/bin/espeak-ng ] || missing="$missing espeak-ng"
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
else
    SUDO=""
fi
echo "Installing:$missing"
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing
