#!/usr/bin/env bash
# make preview: converts the sample tenant (four messy, overlapping lists in four
# encodings) into the embedded SQLite database and shows what came out.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bin=bin/contact-converter
out=preview
tenant=config/samples/tenant

step() { printf '\n== %s\n' "$*"; }

step "Building $bin"
go build -o "$bin" .

step "The lists to merge ($tenant)"
for f in "$tenant"/*.csv; do
  printf '  %-24s %s bytes\n' "$(basename "$f")" "$(wc -c <"$f")"
done

step "Converting into sqlite:$out/contacts.db (the embedded default)"
mkdir -p "$out"
rm -f "$out"/contacts.db*
"$bin" convert -f "$tenant/conversion.yaml" --database "sqlite:$out/contacts.db" --report "$out/report.json"

step "The merged contacts (one JSON object per contact; also the GDPR portability format)"
"$bin" export --database "sqlite:$out/contacts.db" >"$out/contacts.jsonl"
head -n 5 "$out/contacts.jsonl"
echo "  ... $(wc -l <"$out/contacts.jsonl") contacts in $out/contacts.jsonl"

step "Conflicts waiting for a resolution (policy Manual)"
"$bin" conflicts --database "sqlite:$out/contacts.db"

step "To settle one, add it to spec.conflicts.resolutions and convert again:"
echo "  resolutions:"
echo "    - {key: marie.dubois@example.fr, field: firstName, value: Marie-Claire}"

echo
echo "Done. Explore further:"
echo "  $bin export --database sqlite:$out/contacts.db --format csv"
echo "  $bin conflicts --database sqlite:$out/contacts.db --all"
echo "  less $out/report.json        # per-source accounting, column mapping, timings"
echo "  go run ./hack/genlists -contacts 1000000 -out /tmp/tenant   # a large tenant to try"
