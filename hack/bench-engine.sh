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
import json, re, sys
d = sys.argv[1]
rep = json.load(open(d + "/report.json"))
rows = sum(s["rowsRead"] for s in rep["sources"])
t = rep["seconds"]
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(d + "/time.txt").read()).group(1))
wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", open(d + "/time.txt").read()).group(1)
print(f"engine: {rows} rows -> {rep['contacts']} contacts into SQLite in {t['total']:.2f}s (wall {wall}): "
      f"{rows / t['total']:,.0f} rows/s, peak RSS {rss / 1024:.0f} MiB")
print(f"engine: time split: read {t['read']:.2f}s, merge {t['merge']:.2f}s (overlaps write), write {t['write']:.2f}s")
PY
