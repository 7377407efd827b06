#!/bin/bash
# bench/vs-wrk/run.sh [COIL_BENCH [ROUNDS [SECS]]]
#
# coil-bench beside wrk (and h2load --h1 when installed) against the same
# nginx: one worker pinned to CPU 0, every generator pinned to CPU 1,
# -t1 -c50, SECS (default 5) seconds each, ROUNDS (default 3) rounds with
# the tools alternating. For each run: requests/s, the generator's user
# and system CPU per request (perf stat's user/sys times over the whole
# process), its system calls per request (perf stat -e
# raw_syscalls:sys_enter, whole process), and p50/p99 as the tool reports
# them ("-" for h2load, which prints no percentiles; run() and table()
# are bench/common/vs.sh's). The table shows each figure's median over
# the rounds. coil-bench runs three ways: its default (batched waits, 100 us, with responses
# timed by the kernel's receive timestamps), unbatched (--batch-wait 0),
# and batched with reap times (--reap-time --batch-wait 100us: the old
# opt-in, whose latencies carry the wait). Under the HTTP table, the
# goals: the default at most 0.65x wrk's CPU per request and at most 0.1
# system calls per request, its p50 within 5% of the unbatched one
# (alternating runs): in the closed model (-c50 alone) each way of waiting
# makes its own throughput and the p50 follows it (Little's law), so the
# accuracy is shown at one offered load, -R VS_WRK_RATE (default 20000),
# the default beside --batch-wait 0, each with -U: the median of the
# uncorrected p50 (from each request's actual send to its response) of
# both is printed beside them, the response side alone, and each one's
# own send lag (p50 minus it). Then the same over HTTPS (nginx with a throwaway
# self-signed certificate) when this coil-bench has TLS. Then wrk's scripting (-s) with the same script
# in both tools: a static one like wrk's post.lua (method, body and a
# header set once), a request() that makes a new path and header per
# request like counter.lua, and a response() that counts statuses;
# beside them coil-bench's POST without a script. VS_WRK_ONLY=http,
# https or scripts runs one section. Needs nginx, wrk, perf, openssl,
# taskset.
set -euo pipefail
cb=${1:-build/tools/coil-bench/coil-bench}
rounds=${2:-3}
secs=${3:-5}
conns=50
rate=${VS_WRK_RATE:-20000} # the open-model rows' -R
only=${VS_WRK_ONLY:-all}

. "$(dirname "$0")/../common/bench.sh"
. "$(dirname "$0")/../common/vs.sh"
bench_need vs-wrk nginx wrk perf taskset
cb=$(bench_cb vs-wrk "$cb")

bench_tmpdir vs-wrk
port=$(free_port)
tport=$(free_port)
bench_page
tls_conf=""
if bench_cert; then
	tls_conf="server { listen 127.0.0.1:$tport ssl; root $dir;
	  ssl_protocols TLSv1.2 TLSv1.3;
	  ssl_certificate $dir/cert.pem; ssl_certificate_key $dir/key.pem;
	  ssl_session_tickets on; }"
fi
bench_nginx "$port" "server { listen 127.0.0.1:$port; root $dir;
    location = /form { return 200 \"hello from nginx, a small static page for the load test\\n\"; }
    location /c/ { return 200 \"hello from nginx, a small static page for the load test\\n\"; } }
  $tls_conf"

bench_header
echo "nginx $(nginx -v 2>&1 | sed 's/.*\///'), 1 worker on CPU 0, access log off;" \
	"generators on CPU 1, -t1 -c$conns, ${secs}s each, $rounds rounds"

# goals: the default coil-bench against wrk and against itself unbatched
goals() {
	# the medians of sent() over the rounds, "NAME p50-us"
	: >"$dir/medians.sent"
	[ -f "$dir/sent" ] && awk "$bench_awk_med"'
		{ n[$1]++; v[$1, n[$1]] = $2 }
		END { for (k in n) { delete a
			for (i = 1; i <= n[k]; i++) a[i] = v[k, i]
			print k, med(a, n[k]) } }' "$dir/sent" >"$dir/medians.sent"
	awk 'FILENAME ~ /medians.sent$/ { s50[$1] = $2; next }
	{ cpu[$1] = $2; sc[$1] = $3; p50[$1] = $4; p99[$1] = $5 }
	END {
		d = "coil-bench"; u = "coil-bench_--batch-wait_0"
		if (!(d in cpu) || !("wrk" in cpu) || !(u in cpu)) exit
		r = cpu[d] / cpu["wrk"]
		printf "goal: CPU/request <= 0.65x wrk: %.2fx (%s)\n", r, r <= 0.65 ? "met" : "missed"
		printf "goal: syscalls/request <= 0.1: %.3f (%s)\n", sc[d], sc[d] <= 0.1 ? "met" : "missed"
		q = p50[u] > 0 ? p50[d] / p50[u] : 0
		printf "closed model, p50 beside unbatched: %.0f vs %.0f us, %+.1f%% (each at its own throughput)\n", p50[d], p50[u], (q - 1) * 100
		printf "      p99: %.0f vs %.0f us\n", p99[d], p99[u]
		# at one offered load: what the kernel receive times are worth
		d = "coil-bench_-R" rate; u = d "_--batch-wait_0"
		if (!(d in p50) || !(u in p50)) exit
		q = p50[u] > 0 ? p50[d] / p50[u] : 0
		printf "goal: p50 at -R %d within 5%% of unbatched: %.0f vs %.0f us, %+.1f%% (%s)\n", rate, p50[d], p50[u], (q - 1) * 100, (q >= 0.95 && q <= 1.05) ? "met" : "missed"
		printf "      p99: %.0f vs %.0f us\n", p99[d], p99[u]
		# the third measurement: from the actual send of each request to
		# its response, which leaves out when the generator got round
		# to sending (an unbatched loop wakes per response and sends
		# the due requests later): the response side alone
		if (!(d in s50) || !(u in s50)) exit
		q = s50[u] > 0 ? s50[d] / s50[u] : 0
		printf "sent->received p50 (-U), batched vs unbatched: %.0f vs %.0f us, %+.1f%% (%swithin 5%%)\n", s50[d], s50[u], (q - 1) * 100, (q >= 0.95 && q <= 1.05) ? "" : "not "
		printf "      own send lag (p50 minus sent->received p50): %.0f vs %.0f us\n", p50[d] - s50[d], p50[u] - s50[u]
	}' rate="$rate" "$dir/medians.sent" "$dir/medians"
	rm -f "$dir/medians" "$dir/medians.sent" "$dir/sent"
}

# sent NAME: the uncorrected p50 of the run just made (-U: from each
# request's actual send, the block coil-bench prints first), for goals()
sent() {
	local v
	v=$(awk '/Uncorrected Latency Distribution/ { u = 1; next }
		u && $1 == "50%" { print $2; exit }' "$dir/out")
	[ -n "$v" ] && echo "$1 $(to_us "$v" 1)" >>"$dir/sent"
	return 0
}

# tools NAME URL SCHEME: one round of every generator
round() {
	local url=$1 https=$2
	run wrk "$url" wrk -t1 -c$conns -d${secs}s --latency
	run coil-bench "$url" "$cb" -t1 -c$conns -d${secs}s -L -k
	run "coil-bench_--batch-wait_0" "$url" "$cb" -t1 -c$conns -d${secs}s -L -k --batch-wait 0
	run "coil-bench_--reap-time_--batch-wait_100us" "$url" "$cb" -t1 -c$conns -d${secs}s -L -k --reap-time --batch-wait 100us
	# one offered load for both ways of waiting (in the closed model
	# each makes its own throughput, and the p50 follows it)
	run "coil-bench_-R$rate" "$url" "$cb" -t1 -c$conns -d${secs}s -L -U -k -R$rate
	sent "coil-bench_-R$rate"
	run "coil-bench_-R${rate}_--batch-wait_0" "$url" "$cb" -t1 -c$conns -d${secs}s -L -U -k -R$rate --batch-wait 0
	sent "coil-bench_-R${rate}_--batch-wait_0"
	if command -v h2load >/dev/null; then
		run "h2load_--h1" "$url" h2load --h1 -t1 -c$conns -D$secs
	fi
}

if [ "$only" = all ] || [ "$only" = http ]; then
	echo
	echo "== HTTP: http://127.0.0.1:$port/"
	for r in $(seq "$rounds"); do
		echo "round $r"
		round "http://127.0.0.1:$port/" 0
	done
	table "HTTP, -t1 -c$conns, ${secs}s"
	goals
fi

# the scripts, the same file for both tools
cat >"$dir/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body   = "foo=bar&baz=quux"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
LUA
cat >"$dir/counter.lua" <<'LUA'
counter = 0
request = function()
   local path = "/c/" .. counter
   wrk.headers["X-Counter"] = counter
   counter = counter + 1
   return wrk.format(nil, path)
end
LUA
cat >"$dir/status.lua" <<'LUA'
statuses = {}
response = function(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
end
LUA

# one round of the scripted runs
round_scripts() {
	local base=http://127.0.0.1:$port
	run "coil-bench_POST_no_script" "$base/form" "$cb" -t1 -c$conns -d${secs}s -L \
		-b 'foo=bar&baz=quux' -H 'Content-Type: application/x-www-form-urlencoded'
	run "coil-bench_-s_post.lua" "$base/form" "$cb" -t1 -c$conns -d${secs}s -L -s "$dir/post.lua"
	run "wrk_-s_post.lua" "$base/form" wrk -t1 -c$conns -d${secs}s --latency -s "$dir/post.lua"
	run "coil-bench_-s_counter.lua" "$base/" "$cb" -t1 -c$conns -d${secs}s -L -s "$dir/counter.lua"
	run "wrk_-s_counter.lua" "$base/" wrk -t1 -c$conns -d${secs}s --latency -s "$dir/counter.lua"
	run "coil-bench_-s_counter.lua_bw100us" "$base/" "$cb" -t1 -c$conns -d${secs}s -L \
		--batch-wait 100us -s "$dir/counter.lua"
	run "coil-bench_-s_status.lua" "$base/" "$cb" -t1 -c$conns -d${secs}s -L -s "$dir/status.lua"
	run "wrk_-s_status.lua" "$base/" wrk -t1 -c$conns -d${secs}s --latency -s "$dir/status.lua"
	run "coil-bench_-s_status.lua_bw100us" "$base/" "$cb" -t1 -c$conns -d${secs}s -L \
		--batch-wait 100us -s "$dir/status.lua"
}

if { [ "$only" = all ] || [ "$only" = scripts ]; } &&
	"$cb" -t1 -c1 -d100ms -s "$dir/post.lua" "http://127.0.0.1:$port/form" >"$dir/probe" 2>&1; then
	echo
	echo "== Scripts (-s): http://127.0.0.1:$port/"
	for r in $(seq "$rounds"); do
		echo "round $r"
		round_scripts
	done
	table "Scripts, HTTP, -t1 -c$conns, ${secs}s"
elif [ "$only" = all ] || [ "$only" = scripts ]; then
	echo "this coil-bench cannot run scripts: $(head -1 "$dir/probe")"
fi

if [ -n "$tls_conf" ] && { [ "$only" = all ] || [ "$only" = https ]; }; then
	echo
	echo "== HTTPS: https://localhost:$tport/ (self-signed, -k; resumption on)"
	if ! "$cb" -t1 -c1 -d100ms -k "https://localhost:$tport/" >"$dir/probe" 2>&1; then
		echo "this coil-bench cannot do HTTPS: $(head -1 "$dir/probe")"
		exit 0
	fi
	for r in $(seq "$rounds"); do
		echo "round $r"
		round "https://localhost:$tport/" 1
	done
	table "HTTPS, -t1 -c$conns, ${secs}s"
	goals
fi
