#!/bin/sh
# deploy/slurm/local-cluster.sh - a one-node Slurm cluster on this machine,
# for trying deploy/slurm/coil-bench.sbatch and for the test suite
# (tests/bench/test_slurm.c): Debian's slurm-wlm and munge, run as root.
#
#   deploy/slurm/local-cluster.sh start DIR   # prints SLURM_CONF=DIR/slurm.conf
#   SLURM_CONF=DIR/slurm.conf srun -n 4 hostname
#   deploy/slurm/local-cluster.sh stop DIR
#
# Everything lives in DIR: a munge key from `mungekey -c`, munged on its
# own socket (the system's munged, if any, is left alone), a slurm.conf
# with its own ports, state and logs. Settings that work on a small VM:
# proctrack/linuxproc and task/none (no cgroup set-up needed),
# select/cons_tres, the node with the machine's CPUs and a partition that
# oversubscribes (FORCE:4) so that four tasks fit on two cores.
#
# Exit status: 0; 77 when Slurm or munge is missing or cannot start here
# (not root, daemons refuse), with the reason on stderr; 2 bad usage.
set -u

cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || {
	echo "usage: $0 start|stop DIR" >&2
	exit 2
}

skip() {
	echo "local-cluster: $*" >&2
	exit 77
}

stop() {
	for p in slurmd slurmctld munged; do
		f="$dir/$p.pid"
		[ -f "$f" ] || continue
		pid=$(cat "$f" 2>/dev/null || true)
		[ -n "$pid" ] && kill "$pid" 2>/dev/null
		# wait up to 10 s for it to go, then insist
		i=0
		while [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
		rm -f "$f"
	done
	return 0
}

if [ "$cmd" = stop ]; then
	stop
	exit 0
fi
[ "$cmd" = start ] || {
	echo "usage: $0 start|stop DIR" >&2
	exit 2
}

[ "$(id -u)" = 0 ] || skip "needs root (slurmd runs tasks as their user)"
for b in munged mungekey slurmctld slurmd srun; do
	command -v "$b" >/dev/null 2>&1 ||
		PATH=$PATH:/usr/sbin command -v "$b" >/dev/null 2>&1 ||
		skip "$b not found (apt-get install slurm-wlm munge)"
done
PATH=$PATH:/usr/sbin

mkdir -p "$dir/state" "$dir/spool" "$dir/munge" || skip "cannot make $dir"
chmod 700 "$dir/munge"
host=$(hostname -s)
ncpu=$(nproc)

# free TCP ports for slurmctld and slurmd, asked of the kernel
ports=$(python3 -c 'import socket
s=[socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(" ".join(str(x.getsockname()[1]) for x in s))' 2>/dev/null) ||
	skip "python3 is needed to pick free ports"
set -- $ports
ctld_port=$1
d_port=$2

mungekey -c -f -k "$dir/munge/munge.key" >/dev/null 2>&1 ||
	skip "mungekey -c failed"
chmod 400 "$dir/munge/munge.key"
munged --force -S "$dir/munge/munge.socket" \
	--key-file="$dir/munge/munge.key" \
	--pid-file="$dir/munged.pid" --log-file="$dir/munged.log" \
	--seed-file="$dir/munge/munge.seed" ||
	{ stop; skip "munged did not start (see $dir/munged.log)"; }

cat >"$dir/slurm.conf" <<EOF
ClusterName=coil
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$d_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/builtin
InactiveLimit=0
KillWait=5
NodeName=$host NodeAddr=127.0.0.1 CPUs=$ncpu State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
EOF
export SLURM_CONF="$dir/slurm.conf"

slurmctld -f "$SLURM_CONF" ||
	{ stop; skip "slurmctld did not start (see $dir/slurmctld.log)"; }
slurmd -f "$SLURM_CONF" ||
	{ stop; skip "slurmd did not start (see $dir/slurmd.log)"; }

# wait (up to 20 s) for the node to be up, not for a fixed time
i=0
until sinfo -h -N -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; do
	i=$((i + 1))
	if [ $i -gt 200 ]; then
		stop
		skip "the node did not come up (see $dir/slurmctld.log, slurmd.log)"
	fi
	sleep 0.1
done
echo "SLURM_CONF=$SLURM_CONF"
