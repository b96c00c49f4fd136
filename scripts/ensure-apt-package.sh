#!/bin/sh
# ensure-apt-package.sh PACKAGE PURPOSE COMMAND...
# Install Debian's PACKAGE with apt-get when none of COMMAND... is on the PATH. Never fails:
# without it, the tests that need it skip and say why. PURPOSE finishes "needed for ...".
package=$1 purpose=$2
shift 2
for cmd in "$@"; do
    if command -v "$cmd" >/dev/null 2>&1; then
        exit 0
    fi
done
if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure $package: no apt-get here; install $package yourself; $purpose will be skipped" >&2
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO="sudo -n"
    else
        echo "ensure $package: not root and no passwordless sudo; $purpose will be skipped" \
        "(as root: apt-get install $package)" >&2
        exit 0
    fi
fi
echo "ensure $package: installing $package (apt-get) for $purpose" >&2
if $SUDO apt-get update -qq >/dev/null && \
   DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$package" >/dev/null; then
    echo "ensure $package: $package installed" >&2
else
    echo "ensure $package: could not install $package; $purpose will be skipped" \
        "(try: apt-get update && apt-get install $package)" >&2
fi
exit 0
