#!/usr/bin/env bash
# Measures the conversion engine end to end on a generated tenant of 1M
# contacts in about 1.9M rows over six lists with mixed encodings and
# delimiters: rows/s, peak RSS, and the time split.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
contacts="${BENCH_CONTACTS:-1000000}"
dir="bin/bench-tenant-$contacts"
pairs="${BENCH_PG_PAIRS:-3}"
if ! [[ "$pairs" =~ ^[1-9][0-9]*$ ]]; then
  echo "bench-engine: BENCH_PG_PAIRS=$pairs: give how many conversions to pair with a raw COPY, 1 or more (default 3)" >&2
  exit 1
fi
shard_runs="${BENCH_SHARD_RUNS:-3}"
if ! [[ "$shard_runs" =~ ^[1-9][0-9]*$ ]]; then
  echo "bench-engine: BENCH_SHARD_RUNS=$shard_runs: give how many times to run each shard count, 1 or more (default 3)" >&2
  exit 1
fi
shard_counts="${BENCH_SHARDS:-1 2 4}"
if ! [[ " $shard_counts " =~ " 1 " ]] || ! [[ "$shard_counts" =~ ^[1-9][0-9]*( [1-9][0-9]*)*$ ]]; then
  echo "bench-engine: BENCH_SHARDS=$shard_counts: give shard counts separated by spaces, 1 among them (the base the others are measured against), such as \"1 2 4\"" >&2
  exit 1
fi
if [ ! -x /usr/bin/time ]; then
  echo "bench-engine: /usr/bin/time is missing: apt-get install -y time" >&2
  exit 1
fi
go build -o bin/contact-converter .
if [ ! -f "$dir/conversion.yaml" ]; then
  echo ">> generating $contacts contacts into $dir"
  go run ./hack/genlists -contacts "$contacts" -out "$dir"
fi
rm -f "$dir"/contacts.db*
echo ">> converting into SQLite"
/usr/bin/time -v -o "$dir/time.txt" bin/contact-converter convert -f "$dir/conversion.yaml" \
  --database "sqlite:$dir/contacts.db" --report "$dir/report.json" >/dev/null 2>"$dir/convert.log"
python3 - "$dir" <<'PY'
import json, sys
d = sys.argv[1]
rep = json.load(open(d + "/report.json"))
rows = sum(s["rowsRead"] for s in rep["sources"])
t = rep["seconds"]
sys.dont_write_bytecode = True
sys.path.insert(0, "hack")
from benchtime import rss, wall
print(f"engine: {rows} rows -> {rep['contacts']} contacts into SQLite in {t['total']:.2f}s (wall {wall(d + '/time.txt'):.2f}s): "
      f"{rows / t['total']:,.0f} rows/s, peak RSS {rss(d + '/time.txt'):.0f} MiB")
print(f"engine: time split: read {t['read']:.2f}s, merge {t['merge']:.2f}s (overlaps write), write {t['write']:.2f}s")
PY

# The DuckDB baseline: the merge DuckDB does of the same lists, with its
# pinned npm package installed into a folder the bench owns.
if ! command -v npm >/dev/null; then
  echo "engine: the DuckDB baseline needs node and npm: apt-get install -y nodejs npm" >&2
  exit 1
fi
echo ">> the DuckDB baseline (@duckdb/node-api, pinned in hack/bench-duckdb/package-lock.json)"
npm ci --prefix hack/bench-duckdb --no-audit --no-fund --loglevel=error >/dev/null
/usr/bin/time -v -o "$dir/time-duckdb.txt" node hack/bench-duckdb/merge.mjs "$dir" >"$dir/duckdb.json"
python3 - "$dir" <<'PY'
import json, sys
d = sys.argv[1]
sys.dont_write_bytecode = True
sys.path.insert(0, "hack")
from benchtime import rss, wall
ours, duck = wall(d + "/time.txt"), wall(d + "/time-duckdb.txt")
res = json.load(open(d + "/duckdb.json"))
print(f"engine: DuckDB merges the same lists into {res['contacts']} rows in {duck:.2f}s wall, peak RSS {rss(d + '/time-duckdb.txt'):.0f} MiB; "
      f"convert into SQLite: {ours:.2f}s wall, peak RSS {rss(d + '/time.txt'):.0f} MiB; ratio convert/DuckDB {ours / duck:.2f}")
PY

# PostgreSQL: a throwaway server (as the postgres user when run as root).
bindir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
if [ -z "$bindir" ]; then
  echo "engine: PostgreSQL skipped: apt-get install -y postgresql" >&2
  exit 1
fi
pgdir="$(mktemp -d)"
as_pg=()
if [ "$(id -u)" = 0 ]; then chown postgres "$pgdir"; as_pg=(runuser -u postgres --); fi
port=$(( 20000 + RANDOM % 20000 ))
"${as_pg[@]}" "$bindir/initdb" -D "$pgdir/data" -A trust -U postgres --no-sync -E UTF8 --locale=C >/dev/null
"${as_pg[@]}" "$bindir/pg_ctl" -D "$pgdir/data" -l "$pgdir/log" -w \
  -o "-p $port -c listen_addresses=127.0.0.1 -k $pgdir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_wal_size=4GB" start >/dev/null
trap '"${as_pg[@]}" "$bindir/pg_ctl" -D "$pgdir/data" -m immediate stop >/dev/null 2>&1; rm -rf "$pgdir"' EXIT
psql=("$bindir/psql" -q -X -h 127.0.0.1 -p "$port" -U postgres postgres)
# Each conversion into a fresh database is followed by a raw COPY of the
# same final rows, for comparison: the contacts alone, then every row the
# write phase writes (the contacts, and a first run's imported opt-outs:
# their record, their evidence and the choices they make), into tables with
# the same keys and indexes. A single pair swings with the machine's load,
# so the bench takes several, alternating, and gives the median.
tables=(contacts imported_opt_outs consent_events preference_overrides)
for ((p = 1; p <= pairs; p++)); do
  db="pg$p"
  "${psql[@]}" -c "CREATE DATABASE $db"
  echo ">> converting into PostgreSQL, then a raw COPY of the same rows ($p of $pairs)"
  /usr/bin/time -v -o "$dir/time-pg-$p.txt" bin/contact-converter convert -f "$dir/conversion.yaml" \
    --database "postgres://postgres@127.0.0.1:$port/$db?sslmode=disable" --report "$dir/report-pg-$p.json" \
    >/dev/null 2>"$dir/convert-pg-$p.log"
  dbsql=("$bindir/psql" -q -X -h 127.0.0.1 -p "$port" -U postgres "$db")
  load=()
  for t in "${tables[@]}"; do
    "${dbsql[@]}" -c "CREATE TABLE probe_$t (LIKE $t INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES)"
    "${dbsql[@]}" -c "\copy $t TO '$pgdir/$t.copy'"
    load+=(-c "\copy probe_$t FROM '$pgdir/$t.copy'")
  done
  start=$(date +%s.%N)
  "${dbsql[@]}" -c "BEGIN" "${load[@]:0:2}" -c "COMMIT"
  mid=$(date +%s.%N)
  "${dbsql[@]}" -c "BEGIN" "${load[@]:2}" -c "COMMIT"
  end=$(date +%s.%N)
  echo "$start $mid $end" >"$dir/rawcopy-$p.txt"
  # Dropped at once: no autovacuum worker starts on its tables later.
  "${psql[@]}" -c "DROP DATABASE $db"
  rm -f "$pgdir"/*.copy
done
python3 - "$dir" "$pairs" <<'PY'
import json, statistics, sys
d, pairs = sys.argv[1], int(sys.argv[2])
sys.dont_write_bytecode = True
sys.path.insert(0, "hack")
from benchtime import rss
totals, rsss, pcts = [], [], []
for p in range(1, pairs + 1):
    rep = json.load(open(f"{d}/report-pg-{p}.json"))
    rows = sum(s["rowsRead"] for s in rep["sources"])
    t = rep["seconds"]
    start, mid, end = (float(x) for x in open(f"{d}/rawcopy-{p}.txt").read().split())
    contacts, everything = mid - start, end - start
    totals.append(t["total"])
    rsss.append(rss(f"{d}/time-pg-{p}.txt"))
    pcts.append(100 * everything / t["write"])
    print(f"engine: PostgreSQL {p} of {pairs}: {rows} rows -> {rep['contacts']} contacts in {t['total']:.2f}s "
          f"({rows / t['total']:,.0f} rows/s), peak RSS {rsss[-1]:.0f} MiB, write {t['write']:.2f}s; raw COPY of the same "
          f"final rows: the contacts alone {contacts:.2f}s, every row the write phase writes (with the imported opt-outs' "
          f"record, evidence and choices) {everything:.2f}s: {pcts[-1]:.0f}%")
med = statistics.median
print(f"engine: into PostgreSQL in {med(totals):.2f}s, peak RSS {med(rsss):.0f} MiB; "
      f"our write phase runs at {med(pcts):.0f}% of raw COPY speed (medians of {pairs})")
PY

# Sharded runs: 1, 2 and 4 shards started at once as processes against the
# same PostgreSQL, each reading its share of the lists and handing rows to
# the others through the database. On 2 cores the wall time cannot show the
# scale-out; the figure is how each shard's CPU compares with the unsharded
# run's in the same round. The machine's load moves a single run by 10% or
# more, so each round runs every count (BENCH_SHARDS) in turn, and the bench
# gives the medians of BENCH_SHARD_RUNS rounds.
prev=""
for ((run = 1; run <= shard_runs; run++)); do
  for shards in $shard_counts; do
    db="shards${shards}_$run"
    # A quiet server for each: the last run's database gone, and no
    # autovacuum worker still busy with the tables loaded before (up to 60 s).
    if [ -n "$prev" ]; then "${psql[@]}" -c "DROP DATABASE $prev"; fi
    "${psql[@]}" -c "CHECKPOINT"
    for _ in $(seq 120); do
      busy=$("${psql[@]}" -At -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'")
      [ "$busy" = 0 ] && break
      sleep 0.5
    done
    prev="$db"
    "${psql[@]}" -c "CREATE DATABASE $db"
    suri="postgres://postgres@127.0.0.1:$port/$db?sslmode=disable"
    echo ">> $shards shard(s) into PostgreSQL (round $run of $shard_runs)"
    pids=()
    for ((i = 0; i < shards; i++)); do
      out="$dir/shard$shards-$i-r$run"
      /usr/bin/time -v -o "$out.time" bin/contact-converter convert -f "$dir/conversion.yaml" \
        --database "$suri" --report "$out.json" --shards "$shards" --shard "$i" --run-id "bench-$shards-$run" \
        >/dev/null 2>"$out.log" &
      pids+=($!)
    done
    for p in "${pids[@]}"; do
      wait "$p" || { echo "engine: a shard failed: see $dir/shard$shards-*-r$run.log" >&2; exit 1; }
    done
  done
done
python3 - "$dir" "$shard_runs" $shard_counts <<'PY'
import json, statistics, sys
d, runs, counts = sys.argv[1], int(sys.argv[2]), [int(n) for n in sys.argv[3:]]
sys.dont_write_bytecode = True
sys.path.insert(0, "hack")
from benchtime import cpu, rss, wall
med = statistics.median
print("engine: shards, per shard: CPU seconds of the process (read / hand out / merge+write incl. taking parcels / total), "
      "against the unsharded run's of the same round")
busiest, together = {n: [] for n in counts}, {n: [] for n in counts}
for run in range(1, runs + 1):
    base = cpu(f"{d}/shard1-0-r{run}.time")
    for n in counts:
        tops = []
        for i in range(n):
            out = f"{d}/shard{n}-{i}-r{run}"
            r = json.load(open(out + ".json"))
            c, s = r["seconds"]["cpu"], r.get("shard") or {}
            total = cpu(out + ".time")
            tops.append(total)
            merged = sum(src["rowsMerged"] + src["rowsSuppressed"] for src in r["sources"])
            read = s.get("rowsRead", sum(src["rowsRead"] for src in r["sources"]))
            print(f"engine:   round {run}, {n} shard(s), shard {i}: sources {s.get('sources', 'all')}, rows read {read}, "
                  f"merged {merged}: read {c['read']:.2f} / hand out {c.get('exchange', 0):.2f} / merge+write {c['mergeWrite']:.2f} / "
                  f"total {total:.2f}s = {100 * total / base:.0f}%; wall {wall(out + '.time'):.2f}s, waited {r['seconds'].get('wait', 0):.2f}s, "
                  f"peak RSS {rss(out + '.time'):.0f} MiB")
        busiest[n].append(100 * max(tops) / base)
        together[n].append(100 * sum(tops) / base)
unsharded = [cpu(f"{d}/shard1-0-r{run}.time") for run in range(1, runs + 1)]
print(f"engine: the unsharded run used {med(unsharded):.2f}s of CPU (median of {runs}: {', '.join(f'{c:.2f}' for c in unsharded)})")
for n in counts:
    if n > 1:
        print(f"engine: {n} shards: the busiest shard used {med(busiest[n]):.0f}% of the unsharded run's CPU, all shards together "
              f"{med(together[n]):.0f}% (medians of {runs} rounds: busiest {', '.join(f'{p:.0f}' for p in busiest[n])}%)")
PY
