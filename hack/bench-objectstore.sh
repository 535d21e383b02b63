#!/usr/bin/env bash
# Measures a big gzipped list streamed from an S3-compatible store against
# the same file read from disk: wall time and the converter's peak RSS.
# The list is 1 GiB before compression (about 17M rows of 1M contacts, an
# export with its history); the store is versitygw on loopback.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bytes="${BENCH_GZIP_BYTES:-1073741824}"
dir="bin/bench-s3-$bytes"
go build -o bin/contact-converter .
vgw="$(hack/setup-versitygw.sh | tail -1)"
if [ ! -f "$dir/big.csv.gz" ]; then
  echo ">> generating a gzipped list of $bytes bytes before compression into $dir"
  go run ./hack/genlists -gzip-bytes "$bytes" -contacts 1000000 -out "$dir"
fi
mkdir -p "$dir/store/bench"
ln -f "$dir/big.csv.gz" "$dir/store/bench/big.csv.gz"
port=$(( 20000 + RANDOM % 20000 ))
"$vgw" --access bench --secret bench-secret --port "127.0.0.1:$port" --quiet posix --default-etag bench-1 "$dir/store" >"$dir/versitygw.log" 2>&1 &
vgw_pid=$!
trap 'kill $vgw_pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
cat >"$dir/keys.yaml" <<YAML
apiVersion: v1
kind: Secret
metadata: {name: bench-s3}
stringData: {AWS_ACCESS_KEY_ID: bench, AWS_SECRET_ACCESS_KEY: bench-secret}
YAML
for where in disk s3; do
  if [ "$where" = disk ]; then csv="{path: big.csv.gz}"; else
    csv="{s3: {endpoint: 'http://127.0.0.1:$port', bucket: bench, key: big.csv.gz, pathStyle: true, secretRef: {name: bench-s3}}}"; fi
  cat >"$dir/conversion-$where.yaml" <<YAML
apiVersion: contacts.contactconverter.io/v1alpha1
kind: ContactConversion
metadata: {name: big}
spec:
  defaultLanguage: nl
  sources:
    - name: history
      csv: $csv
  database: {sqlite: {persistentVolumeClaim: contacts}}
YAML
  rm -f "$dir"/contacts.db*
  echo ">> converting from $where"
  /usr/bin/time -v -o "$dir/time-$where.txt" bin/contact-converter convert -f "$dir/conversion-$where.yaml" --objects "$dir/keys.yaml" \
    --allow-url-cidrs 127.0.0.0/8 --database "sqlite:$dir/contacts.db" --report "$dir/report-$where.json" >/dev/null 2>"$dir/convert-$where.log"
done
python3 - "$dir" <<'PY'
import json, os, sys
d = sys.argv[1]
sys.dont_write_bytecode = True
sys.path.insert(0, "hack")
from benchtime import rss, wall
size = os.path.getsize(d + "/big.csv.gz")
for where in ("disk", "s3"):
    rep = json.load(open(f"{d}/report-{where}.json"))
    rows = sum(s["rowsRead"] for s in rep["sources"])
    print(f"objectstore: {where:4}: {size / 2**20:.0f} MiB gzipped, {rows} rows -> {rep['contacts']} contacts in "
          f"{wall(f'{d}/time-{where}.txt'):.1f}s wall (read {rep['seconds']['read']:.1f}s), peak RSS {rss(f'{d}/time-{where}.txt'):.0f} MiB")
PY
