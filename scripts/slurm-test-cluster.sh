#!/usr/bin/env bash
# Throwaway single-node Slurm cluster for tests, on a Debian machine where we
# are root (CI runners, dev VMs). Not for real clusters: it owns
# /etc/slurm/slurm.conf while it is up.
#
# Usage: see `usage` below, or run with --help.
set -euo pipefail

PROG=slurm-test-cluster
# Remembers which state dir the running cluster uses, so `down`/`status`
# work without --state-dir.
MARKER=/etc/slurm/ptb-test-cluster.env
CONF_HEADER="# Written by scripts/slurm-test-cluster.sh (throwaway test cluster)."
STATE_DIR=${PTB_SLURM_STATE_DIR:-/var/tmp/ptb-slurm-test}
TIMEOUT=${PTB_SLURM_TIMEOUT:-60}
DB_PORT=${PTB_SLURM_DB_PORT:-3307}
CLUSTER_NAME=ptb
ACCOUNT=ptb
NODE=$(hostname -s)

BASE_PACKAGES=(slurmctld slurmd slurm-client munge)
ACCT_PACKAGES=(slurmdbd mariadb-server)

usage() {
  cat <<EOF
Usage: $(basename "$0") COMMAND [OPTIONS]

Commands:
  install [--accounting]   apt-get install the Slurm packages (no-op when present)
  up [--accounting] [--state-dir DIR] [--force]
                           (re)start a single-node cluster: partitions 'cpu'
                           (default) and 'gpu', node with 2 fake GPUs
  down [--state-dir DIR]   stop the daemons started by 'up' (idempotent)
  status [--state-dir DIR] show daemons and node state; exit 0 iff the node is usable

Options:
  --accounting     also run MariaDB + slurmdbd (needed for sacct)
  --state-dir DIR  spool, logs, PID files, fake GPU devices
                   (default \$PTB_SLURM_STATE_DIR or /var/tmp/ptb-slurm-test)
  --force          overwrite an /etc/slurm/slurm.conf not written by this script

Environment: PTB_SLURM_TIMEOUT (seconds to wait for each daemon, default 60),
PTB_SLURM_DB_PORT (MariaDB TCP port on 127.0.0.1, default 3307).
EOF
}

say() { printf '%s: %s\n' "$PROG" "$*"; }
die() { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 1; }
need_root() { [[ $(id -u) -eq 0 ]] || die "must run as root"; }

# --- install ----------------------------------------------------------------

missing_packages() {
  local pkg
  for pkg in "$@"; do
    [[ $(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null) == ii* ]] || echo "$pkg"
  done
}

cmd_install() {
  local accounting=$1 pkgs=("${BASE_PACKAGES[@]}") missing log
  ((accounting)) && pkgs+=("${ACCT_PACKAGES[@]}")
  mapfile -t missing < <(missing_packages "${pkgs[@]}")
  if ((${#missing[@]} == 0)); then
    say "install: all packages present (${pkgs[*]})"
    return
  fi
  log=$(mktemp /tmp/slurm-test-install.XXXXXX.log)
  say "install: apt-get install ${missing[*]}"
  if ! { apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    die "apt-get failed (full log: $log)"
  fi
  rm -f "$log"
  say "install: done"
}

# --- process helpers --------------------------------------------------------

# PID from a PID file, only if that process is alive and is the expected
# program (guards against PID reuse after a crash or reboot).
pid_of() {
  local pidfile=$1 comm=$2 pid
  [[ -r $pidfile ]] || return 1
  pid=$(tr -dc '0-9' <"$pidfile")
  [[ -n $pid ]] && [[ -r /proc/$pid/comm ]] || return 1
  [[ $(<"/proc/$pid/comm") == "$comm" ]] || return 1
  echo "$pid"
}

# Stop one daemon by PID file: SIGTERM, then SIGKILL after a grace period.
stop_daemon() {
  local name=$1 pidfile=$2 grace=${3:-10} pid i
  pid=$(pid_of "$pidfile" "$name") || { rm -f "$pidfile"; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < grace * 10; i++)); do
    [[ -d /proc/$pid ]] || break
    sleep 0.1
  done
  if [[ -d /proc/$pid ]]; then
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do [[ -d /proc/$pid ]] || break; sleep 0.1; done
    say "down: $name (pid $pid) killed with SIGKILL"
  else
    say "down: $name (pid $pid) stopped"
  fi
  rm -f "$pidfile"
}

# Alive and not a zombie (a daemon that dies during `up` is our unreaped child).
alive() {
  local st
  st=$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) && [[ $st != Z ]]
}

# Start a daemon in the foreground of its own session: we know its PID at
# once, and its stderr (config errors come before its log file opens) is kept.
start_daemon() {
  local name=$1
  shift
  setsid "$@" </dev/null >>"$STATE_DIR/log/$name.stderr" 2>&1 &
  echo $! >"$STATE_DIR/run/$name.pid"
}

# Poll a check until it succeeds; fail fast if the daemon exits meanwhile.
wait_daemon() {
  local name=$1 deadline=$((SECONDS + TIMEOUT)) pid
  shift
  pid=$(<"$STATE_DIR/run/$name.pid")
  until "$@" >/dev/null 2>&1; do
    alive "$pid" || fail_up "$name (pid $pid) exited during start-up"
    ((SECONDS < deadline)) || fail_up "$name (pid $pid) not ready after ${TIMEOUT}s (check: $*)"
    sleep 0.2
  done
  say "up: $name started (pid $pid)"
}

elapsed() { awk -v t0="$1" -v t1="$(date +%s.%N)" 'BEGIN {printf "%.1f", t1 - t0}'; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

show_logs() {
  local f
  for f in "$STATE_DIR"/log/*; do
    [[ -s $f ]] || continue
    # In the foreground daemons echo their log to stderr: show it only when
    # the log file is empty (failures before the log file is opened).
    [[ $f == *.stderr && -s ${f%.stderr}.log ]] && continue
    printf '%s\n' "----- $f (last 20 lines) -----" >&2
    tail -n 20 "$f" >&2
  done
  if timeout 5 scontrol ping >/dev/null 2>&1; then
    printf '%s\n' "----- node state -----" >&2
    timeout 5 sinfo -N -o '%N %T %E' >&2 || true
  fi
}

# Keep the logs, stop what did start, then fail.
fail_up() {
  show_logs
  stop_all >/dev/null 2>&1 || true
  die "$*"
}

# --- state dir --------------------------------------------------------------

load_marker() {
  # An explicit --state-dir wins; otherwise use what the last `up` recorded.
  if ((!STATE_DIR_GIVEN)) && [[ -r $MARKER ]]; then
    STATE_DIR=$(sed -n 's/^STATE_DIR=//p' "$MARKER")
  fi
}

# --- down -------------------------------------------------------------------

cancel_all_jobs() {
  # Left-over job processes would outlive slurmd; cancel while the controller
  # can still reach the node.
  pid_of "$STATE_DIR/run/slurmctld.pid" slurmctld >/dev/null || return 0
  pid_of "$STATE_DIR/run/slurmd.pid" slurmd >/dev/null || return 0
  local jobs i
  jobs=$(timeout 10 squeue -h -o %i 2>/dev/null) || return 0
  [[ -n $jobs ]] || return 0
  # shellcheck disable=SC2086  # one argument per job id
  timeout 10 scancel $jobs 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    [[ -z $(timeout 5 squeue -h -o %i 2>/dev/null) ]] && break
    sleep 0.2
  done
  say "down: cancelled jobs $(paste -sd ' ' <<<"$jobs")"
}

cmd_down() {
  load_marker
  stop_all
  say "down: cluster stopped"
}

# Stop everything recorded under $STATE_DIR.
stop_all() {
  local run=$STATE_DIR/run
  cancel_all_jobs
  # slurmd ignores SIGTERM while re-registering with a dead controller, so it
  # goes first and gets SIGKILL quickly; the controller goes after it.
  stop_daemon slurmd "$run/slurmd.pid" 5
  stop_daemon slurmctld "$run/slurmctld.pid" 10
  # Each daemon takes ~2 s to exit; once the controller is gone nothing needs
  # the rest (the accounting database is thrown away with the state dir).
  stop_daemon slurmdbd "$run/slurmdbd.pid" 10 &
  stop_daemon mariadbd "$run/mariadbd.pid" 20 &
  # Only a munged we started has a PID file here (a system one is left alone).
  stop_daemon munged "$run/munged.pid" 5 &
  wait
}

# --- up ---------------------------------------------------------------------

munge_works() { { munge -n </dev/null | unmunge >/dev/null; } 2>/dev/null; }

start_munge() {
  if munge_works; then
    say "up: munged already running, reusing it"
    return
  fi
  [[ -s /etc/munge/munge.key ]] || {
    mungekey --create --keyfile=/etc/munge/munge.key >/dev/null
    chown munge:munge /etc/munge/munge.key
    chmod 600 /etc/munge/munge.key
  }
  # Slurm clients expect the default socket; the socket dir must be 755.
  install -d -o munge -g munge -m 755 /run/munge
  install -d -o munge -g munge -m 700 /var/log/munge /var/lib/munge
  rm -f /run/munge/munge.socket.2 /run/munge/munge.socket.2.lock
  # munged wants to run as the owner of its key; setpriv execs (keeps the PID).
  start_daemon munged setpriv --reuid=munge --regid=munge --init-groups munged --foreground
  wait_daemon munged munge_works
}

start_mariadb() {
  local data=$STATE_DIR/mysql sock=$STATE_DIR/run/mysqld.sock
  port_open "$DB_PORT" && fail_up "port $DB_PORT already in use; set PTB_SLURM_DB_PORT"
  local opts=(--no-defaults --datadir="$data" --user=root
    --innodb-log-file-size=16M --innodb-buffer-pool-size=64M)
  mariadb-install-db "${opts[@]}" --auth-root-authentication-method=socket \
    --skip-test-db >"$STATE_DIR/log/mariadb-install.log" 2>&1 ||
    fail_up "mariadb-install-db failed"
  start_daemon mariadbd mariadbd "${opts[@]}" --socket="$sock" --port="$DB_PORT" \
    --bind-address=127.0.0.1 --log-error="$STATE_DIR/log/mariadbd.log"
  wait_daemon mariadbd mariadb-admin --socket="$sock" ping
  mariadb --socket="$sock" -e "
    CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY 'ptb-test';
    GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';" ||
    fail_up "could not create the slurm database user"
}

start_slurmdbd() {
  local conf=/etc/slurm/slurmdbd.conf
  cat >"$conf" <<EOF
$CONF_HEADER
AuthType=auth/munge
DbdHost=$NODE
DbdAddr=127.0.0.1
SlurmUser=root
PidFile=$STATE_DIR/run/slurmdbd.pid
LogFile=$STATE_DIR/log/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=ptb-test
StorageLoc=slurm_acct_db
EOF
  chmod 600 "$conf" # slurmdbd refuses a readable file holding a password
  start_daemon slurmdbd slurmdbd -D
  wait_daemon slurmdbd port_open 6819
  if ! { sacctmgr -i add cluster "$CLUSTER_NAME" &&
    sacctmgr -i add account "$ACCOUNT" Description=ptb-tests Organization=ptb &&
    sacctmgr -i add user root DefaultAccount="$ACCOUNT"; } >"$STATE_DIR/log/sacctmgr.log" 2>&1; then
    fail_up "sacctmgr could not register cluster/account/user"
  fi
  say "up: accounting: cluster '$CLUSTER_NAME', account '$ACCOUNT', user root"
}

write_slurm_conf() {
  local accounting=$1 cpus mem_mb tmp_mb
  # At least 4 CPUs, even on a 2-core machine (config_overrides): tests hold
  # agent jobs that mostly sleep, and the rest of a matrix must still run.
  cpus=$(nproc)
  ((cpus >= 4)) || cpus=4
  mem_mb=$(awk '/^MemTotal:/ {printf "%d", $2 / 1024 * 0.95}' /proc/meminfo)
  # slurmd drains a node whose real TmpFS is smaller than TmpDisk: stay below
  # the free space of /tmp (halved: other work here may fill the disk).
  tmp_mb=$(df -Pm /tmp | awk 'NR == 2 {printf "%d", $4 * 0.5}')

  cat >/etc/slurm/gres.conf <<EOF
$CONF_HEADER
AutoDetect=off
NodeName=$NODE Name=gpu File=$STATE_DIR/dev/nvidia[0-1]
EOF

  local acct_lines
  if ((accounting)); then
    acct_lines="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=6819
AccountingStorageTRES=gres/gpu"
  else
    # No AccountingStorageTRES here: it breaks job submission without slurmdbd.
    acct_lines="AccountingStorageType=accounting_storage/none"
  fi

  cat >/etc/slurm/slurm.conf <<EOF
$CONF_HEADER
# Rewritten on every 'up'; removed by nothing. State: $STATE_DIR
ClusterName=$CLUSTER_NAME
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
# A requeued job waits cred_expire (default 120 s) before it may start again,
# and a job whose begin time passes waits for the next periodic scheduling
# pass (default 60 s): both far too slow for tests.
AuthInfo=cred_expire=5
SchedulerParameters=sched_interval=2
MpiDefault=none
MailProg=/bin/true
# No systemd/cgroups on these machines.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
ReturnToService=2
SlurmdParameters=config_overrides
MinJobAge=300
KillWait=5
JobRequeue=1
OverTimeLimit=0
InactiveLimit=0
GresTypes=gpu
TmpFS=/tmp
StateSaveLocation=$STATE_DIR/spool/slurmctld
SlurmdSpoolDir=$STATE_DIR/spool/slurmd
SlurmctldPidFile=$STATE_DIR/run/slurmctld.pid
SlurmdPidFile=$STATE_DIR/run/slurmd.pid
SlurmctldLogFile=$STATE_DIR/log/slurmctld.log
SlurmdLogFile=$STATE_DIR/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
$acct_lines
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb TmpDisk=$tmp_mb Gres=gpu:2 State=UNKNOWN
PartitionName=cpu Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=$NODE MaxTime=INFINITE State=UP
EOF
  say "up: wrote /etc/slurm/slurm.conf (node $NODE: CPUs=$cpus RealMemory=$mem_mb TmpDisk=$tmp_mb gpu:2)"
}

node_state() { sinfo -h -n "$NODE" -o %T 2>/dev/null | head -n 1; }
node_idle() { [[ $(node_state) == idle ]]; }

cmd_up() {
  local accounting=$1 force=$2 t0 prog
  t0=$(date +%s.%N)
  for prog in munged slurmctld slurmd sinfo; do
    command -v "$prog" >/dev/null || die "$prog not found; run '$0 install' first"
  done
  if ((accounting)); then
    for prog in slurmdbd mariadbd; do
      command -v "$prog" >/dev/null || die "$prog not found; run '$0 install --accounting' first"
    done
  fi
  if [[ -e /etc/slurm/slurm.conf ]] && ! grep -qxF "$CONF_HEADER" /etc/slurm/slurm.conf && ((!force)); then
    die "/etc/slurm/slurm.conf was not written by this script; use --force to overwrite it"
  fi

  # Stale daemons from an earlier run (possibly another state dir) go first.
  local wanted=$STATE_DIR
  if [[ -r $MARKER ]]; then
    STATE_DIR=$(sed -n 's/^STATE_DIR=//p' "$MARKER")
    stop_all
  fi
  STATE_DIR=$wanted
  stop_all
  for prog in slurmctld slurmd slurmdbd; do
    if pgrep -x "$prog" >/dev/null; then
      die "$prog is running (pid $(pgrep -x "$prog" | paste -sd " ")) but was not started by this script; stop it first"
    fi
  done

  # Fresh state every time: job ids restart at 1, nothing left from a crash.
  # Only a directory this script created is ever wiped.
  if [[ -e $STATE_DIR ]]; then
    [[ -e $STATE_DIR/.ptb-slurm-test || -z $(ls -A "$STATE_DIR") ]] ||
      die "$STATE_DIR exists and was not created by this script"
    rm -rf "$STATE_DIR"
  fi
  mkdir -p "$STATE_DIR"/{run,log,dev,spool/slurmctld,spool/slurmd}
  touch "$STATE_DIR/.ptb-slurm-test"
  mkdir -p /etc/slurm
  printf 'STATE_DIR=%s\nACCOUNTING=%s\n' "$STATE_DIR" "$accounting" >"$MARKER"

  # Slurm only accepts character devices as GPU files; 1:3 is /dev/null.
  mknod "$STATE_DIR/dev/nvidia0" c 1 3
  mknod "$STATE_DIR/dev/nvidia1" c 1 3
  say "up: state dir $STATE_DIR (fake GPUs $STATE_DIR/dev/nvidia[0-1])"

  write_slurm_conf "$accounting"
  ((accounting)) || rm -f /etc/slurm/slurmdbd.conf
  start_munge
  if ((accounting)); then
    start_mariadb
    start_slurmdbd
  fi

  start_daemon slurmctld slurmctld -D
  wait_daemon slurmctld scontrol ping
  start_daemon slurmd slurmd -D
  wait_daemon slurmd node_idle
  say "up: cluster ready in $(elapsed "$t0") s: partitions cpu (default), gpu$( ((accounting)) && echo '; accounting on')"
}

# --- status -----------------------------------------------------------------

cmd_status() {
  load_marker
  local name pidfile pid ok=1
  say "status: state dir $STATE_DIR"
  for name in munged mariadbd slurmdbd slurmctld slurmd; do
    pidfile=$STATE_DIR/run/$name.pid
    if pid=$(pid_of "$pidfile" "$name"); then
      say "status: $name running (pid $pid)"
    else
      say "status: $name not running"
      [[ $name == slurmctld || $name == slurmd ]] && ok=0
    fi
  done
  if ((ok)) && node_idle_or_busy; then
    say "status: node $NODE $(node_state)"
    return 0
  fi
  say "status: cluster not usable"
  return 3
}

node_idle_or_busy() {
  case $(node_state) in idle | mixed | allocated | completing) return 0 ;; *) return 1 ;; esac
}

# --- main -------------------------------------------------------------------

main() {
  local cmd=${1:-} accounting=0 force=0
  STATE_DIR_GIVEN=0
  [[ -n ${PTB_SLURM_STATE_DIR:-} ]] && STATE_DIR_GIVEN=1
  (($#)) && shift
  while (($#)); do
    case $1 in
      --accounting) accounting=1 ;;
      --force) force=1 ;;
      --state-dir) [[ $# -ge 2 ]] || die "--state-dir needs a value"; STATE_DIR=$2; STATE_DIR_GIVEN=1; shift ;;
      --state-dir=*) STATE_DIR=${1#*=}; STATE_DIR_GIVEN=1 ;;
      -h | --help) usage; exit 0 ;;
      *) usage >&2; die "unknown option: $1" ;;
    esac
    shift
  done
  [[ $STATE_DIR == /* ]] || STATE_DIR=$(readlink -m "$STATE_DIR")
  case $cmd in
    install) need_root; cmd_install "$accounting" ;;
    up) need_root; cmd_up "$accounting" "$force" ;;
    down) need_root; cmd_down ;;
    status) cmd_status ;;
    -h | --help | help) usage ;;
    *) usage >&2; exit 2 ;;
  esac
}

main "$@"
