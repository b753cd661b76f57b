#!/bin/sh
# browser.sh installs Debian's Chromium and a CJK font for the browser tests
# in e2e/. It does nothing when /usr/bin/chromium is already there, so it is
# safe to run before every test run.
set -eu

if [ -x /usr/bin/chromium ]; then
	echo "browser.sh: /usr/bin/chromium is installed"
	exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium fonts-wqy-zenhei
/usr/bin/chromium --version
