#!/usr/bin/env bash
# Measures the conversion engine end to end on a generated tenant of 1M
# contacts in about 1.9M rows over six lists with mixed encodings and
# delimiters: rows/s, peak RSS, and the time split.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
contacts="${BENCH_CONTACTS:-1000000}"
dir="bin/bench-tenant-$contacts"
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
uri="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
echo ">> converting into PostgreSQL"
/usr/bin/time -v -o "$dir/time-pg.txt" bin/contact-converter convert -f "$dir/conversion.yaml" \
  --database "$uri" --report "$dir/report-pg.json" >/dev/null 2>"$dir/convert-pg.log"
# Raw COPY of the same final rows, for comparison: the contacts alone, then
# every row the write phase writes (the contacts, and a first run's imported
# opt-outs: their record, their evidence and the choices they make), into
# tables with the same keys and indexes.
psql=("$bindir/psql" -q -X -h 127.0.0.1 -p "$port" -U postgres postgres)
tables=(contacts imported_opt_outs consent_events preference_overrides)
load=()
for t in "${tables[@]}"; do
  "${psql[@]}" -c "CREATE TABLE probe_$t (LIKE $t INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES)"
  "${psql[@]}" -c "\copy $t TO '$pgdir/$t.copy'"
  load+=(-c "\copy probe_$t FROM '$pgdir/$t.copy'")
done
start=$(date +%s.%N)
"${psql[@]}" -c "BEGIN" "${load[@]:0:2}" -c "COMMIT"
mid=$(date +%s.%N)
"${psql[@]}" -c "BEGIN" "${load[@]:2}" -c "COMMIT"
end=$(date +%s.%N)
python3 - "$dir" "$start" "$mid" "$end" <<'PY'
import json, sys
d, start, mid, end = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
rep = json.load(open(d + "/report-pg.json"))
rows = sum(s["rowsRead"] for s in rep["sources"])
t = rep["seconds"]
sys.dont_write_bytecode = True
sys.path.insert(0, "hack")
from benchtime import rss
contacts, everything = mid - start, end - start
print(f"engine: {rows} rows -> {rep['contacts']} contacts into PostgreSQL in {t['total']:.2f}s: "
      f"{rows / t['total']:,.0f} rows/s, peak RSS {rss(d + '/time-pg.txt'):.0f} MiB; write {t['write']:.2f}s")
print(f"engine: raw COPY of the same final rows: the contacts alone {contacts:.2f}s, every row the write phase writes "
      f"(with the imported opt-outs' record, evidence and choices) {everything:.2f}s; "
      f"our write phase runs at {100 * everything / t['write']:.0f}% of raw COPY speed")
PY
