#!/bin/sh
# Installs the Debian packages the build and the tests need, skipping those
# already present. `--build` installs only what building and the demo need;
# other arguments are extra packages (e.g. clang for `make fuzz`). Needs root
# (or sudo) only when something is missing.
set -eu
build="gcc make pkg-config libc6-dev libssl-dev zlib1g-dev libyaml-dev libzstd-dev libcurl4-openssl-dev libdeflate-dev python3"
tests="util-linux skopeo docker-registry openssl libdeflate-tools git apache2-utils"
if [ "${1:-}" = "--build" ]; then
	shift
	tests=""
fi
pkgs="$build $tests $*"
missing=""
for p in $pkgs; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0
echo "installing:$missing" >&2
if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
