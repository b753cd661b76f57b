#!/usr/bin/env bash
# services.sh starts and stops the real services that danmakud's tests use:
# Redis (Debian's redis-server) and dynalite (a DynamoDB API, from npm).
#
#   scripts/services.sh start   install what is missing, start both (once),
#                               wait until they answer, print the exports
#   scripts/services.sh stop    stop both
#   scripts/services.sh status  say whether each one answers
#   scripts/services.sh env     print the exports only
#
# Only the exports go to standard output, so a caller can run
#   eval "$(scripts/services.sh start)"
# Everything else goes to standard error. Running "start" again while the
# services answer starts nothing new. Data is not kept: Redis saves nothing
# and dynalite keeps its tables in memory. Pid files and logs are in .tmp/
# at the top of the repository.
#
# Ports: DANMAKUD_REDIS_PORT (6390) and DANMAKUD_DYNAMODB_PORT (8001).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tmp="$root/.tmp/services"
redis_port="${DANMAKUD_REDIS_PORT:-6390}"
dynamo_port="${DANMAKUD_DYNAMODB_PORT:-8001}"
host=127.0.0.1

log() { printf 'services: %s\n' "$*" >&2; }
die() {
	log "$*"
	exit 1
}

# as_root runs a command as root: directly when already root, else by sudo.
as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		die "need root to run: $*"
	fi
}

apt_updated=false
# apt_install installs Debian packages, running apt-get update first, once.
apt_install() {
	command -v apt-get >/dev/null 2>&1 || die "apt-get not found: install $* by hand"
	if ! $apt_updated; then
		log "apt-get update"
		as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
		apt_updated=true
	fi
	log "apt-get install $*"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

install_missing() {
	local pkgs=()
	command -v redis-server >/dev/null 2>&1 || pkgs+=(redis-server)
	command -v redis-cli >/dev/null 2>&1 || pkgs+=(redis-tools)
	command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
	command -v npm >/dev/null 2>&1 || pkgs+=(npm)
	if [ "${#pkgs[@]}" -gt 0 ]; then
		apt_install "${pkgs[@]}"
	fi

	# npm ci only when dynalite is missing or package-lock.json changed
	# since the last install.
	local sum stamp="$root/node_modules/.danmakud-package-lock.sha256"
	sum="$(sha256sum "$root/package-lock.json" | cut -d' ' -f1)"
	if [ ! -f "$root/node_modules/dynalite/cli.js" ] || [ "$(cat "$stamp" 2>/dev/null || true)" != "$sum" ]; then
		log "npm ci"
		(cd "$root" && npm ci --no-audit --no-fund >&2)
		printf '%s\n' "$sum" >"$stamp"
	fi
}

redis_up() {
	command -v redis-cli >/dev/null 2>&1 &&
		[ "$(redis-cli -h "$host" -p "$redis_port" ping 2>/dev/null || true)" = PONG ]
}

# dynamo_up reports whether an HTTP server answers on the dynalite port.
dynamo_up() {
	command -v node >/dev/null 2>&1 || return 1
	node -e '
		const req = require("http").get({host: process.argv[1], port: +process.argv[2], path: "/", timeout: 1000},
			(res) => { res.resume(); process.exit(0); });
		req.on("timeout", () => { req.destroy(); process.exit(1); });
		req.on("error", () => process.exit(1));
	' "$host" "$dynamo_port" 2>/dev/null
}

# wait_for waits up to 30 s for the named check to pass.
wait_for() {
	local check=$1 name=$2 logfile=$3
	for _ in $(seq 1 300); do
		if "$check"; then
			return 0
		fi
		sleep 0.1
	done
	log "$name did not answer within 30 s; its log:"
	tail -n 20 "$logfile" >&2 || true
	exit 1
}

start_redis() {
	if redis_up; then
		log "redis already answers on $host:$redis_port"
		return
	fi
	mkdir -p "$tmp/redis"
	log "starting redis on $host:$redis_port"
	redis-server --bind "$host" --port "$redis_port" --save '' --appendonly no \
		--daemonize yes --pidfile "$tmp/redis.pid" --dir "$tmp/redis" \
		--logfile "$tmp/redis.log" >&2
	wait_for redis_up redis "$tmp/redis.log"
}

start_dynamo() {
	if dynamo_up; then
		log "dynalite already answers on $host:$dynamo_port"
		return
	fi
	mkdir -p "$tmp"
	log "starting dynalite on $host:$dynamo_port"
	# setsid and nohup detach it from this script, so that it outlives it.
	(
		cd "$root"
		setsid nohup node node_modules/dynalite/cli.js --host "$host" --port "$dynamo_port" \
			--createTableMs 0 --deleteTableMs 0 --updateTableMs 0 \
			>"$tmp/dynalite.log" 2>&1 </dev/null &
		echo $! >"$tmp/dynalite.pid"
	)
	wait_for dynamo_up dynalite "$tmp/dynalite.log"
}

stop_redis() {
	if redis_up; then
		log "stopping redis on $host:$redis_port"
		redis-cli -h "$host" -p "$redis_port" shutdown nosave >/dev/null 2>&1 || true
	fi
	rm -f "$tmp/redis.pid"
}

stop_dynamo() {
	local pidfile="$tmp/dynalite.pid" pid
	if [ -f "$pidfile" ]; then
		pid="$(cat "$pidfile")"
		# Only a process that is still our dynalite, never a reused pid.
		if [ -n "$pid" ] && grep -q dynalite "/proc/$pid/cmdline" 2>/dev/null; then
			log "stopping dynalite (pid $pid)"
			kill "$pid" 2>/dev/null || true
			for _ in $(seq 1 50); do
				kill -0 "$pid" 2>/dev/null || break
				sleep 0.1
			done
			kill -9 "$pid" 2>/dev/null || true
		fi
		rm -f "$pidfile"
	fi
	if dynamo_up; then
		log "something not started by this script still answers on $host:$dynamo_port"
	fi
}

print_env() {
	printf 'export DANMAKUD_TEST_REDIS=%s:%s\n' "$host" "$redis_port"
	printf 'export DANMAKUD_TEST_DYNAMODB=http://%s:%s\n' "$host" "$dynamo_port"
}

case "${1:-}" in
start)
	install_missing
	start_redis
	start_dynamo
	print_env
	;;
stop)
	stop_redis
	stop_dynamo
	;;
status)
	rc=0
	if redis_up; then log "redis answers on $host:$redis_port"; else log "redis is down" && rc=1; fi
	if dynamo_up; then log "dynalite answers on $host:$dynamo_port"; else log "dynalite is down" && rc=1; fi
	exit "$rc"
	;;
env)
	print_env
	;;
*)
	die "usage: $0 start|stop|status|env"
	;;
esac
