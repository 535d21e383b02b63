// The DuckDB baseline of `make bench`: the merge DuckDB can do of the bench
// tenant's six lists (see internal/listgen), timed in-process.
//
//   node hack/bench-duckdb/merge.mjs DIR
//
// It reads each list with read_csv (delimiter and encoding given), lower-cases
// and trims the address, maps language words through a small table, groups by
// address with any_value of the names, a count of distinct first names, the
// list of sources and a regex check of the address, and writes Parquet.
import { DuckDBInstance } from '@duckdb/node-api';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node merge.mjs DIR');
  process.exit(2);
}
const lists = [
  { name: 'salon-2018', encoding: 'latin-1', delim: ';' },
  { name: 'homepage-optin', encoding: 'utf-8', delim: ',' },
  { name: 'webshop', encoding: 'utf-16', delim: '\\t' },
  { name: 'newsletter-2017', encoding: 'utf-8', delim: '|' },
  { name: 'fair-antwerp', encoding: 'latin-1', delim: ';' },
  { name: 'crm-export', encoding: 'utf-8', delim: ',' },
];
const languages = [['nl', 'nl'], ['vlaams', 'nl'], ['nl_be', 'nl'], ['néerlandais', 'nl'], ['fr', 'fr'], ['français', 'fr'],
  ['fra', 'fr'], ['en', 'en'], ['english', 'en'], ['de', 'de'], ['deutsch', 'de']];

const start = performance.now();
const instance = await DuckDBInstance.create(':memory:', { threads: '2' });
const con = await instance.connect();
await con.run('CREATE TABLE languages (word VARCHAR, code VARCHAR)');
await con.run('INSERT INTO languages VALUES ' + languages.map(([w, c]) => `('${w}', '${c}')`).join(', '));
const rows = lists.map((l) =>
  `SELECT lower(trim(email)) AS key, first_name, last_name, lower(trim(language)) AS language, '${l.name}' AS source
   FROM read_csv('${dir}/${l.name}.csv', delim = '${l.delim}', header = true, all_varchar = true, encoding = '${l.encoding}',
                 names = ['email', 'first_name', 'last_name', 'language', 'opt_out'])`).join('\nUNION ALL\n');
await con.run(`COPY (
  SELECT r.key, any_value(r.first_name) AS first_name, any_value(r.last_name) AS last_name,
         any_value(coalesce(l.code, '')) AS language, count(DISTINCT r.first_name) AS first_names,
         list(DISTINCT r.source) AS sources, regexp_matches(r.key, '^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$') AS valid
  FROM (${rows}) r LEFT JOIN languages l ON l.word = r.language
  GROUP BY r.key
) TO '${dir}/duckdb-merge.parquet' (FORMAT parquet)`);
const reader = await con.runAndReadAll(`SELECT count(*) FROM '${dir}/duckdb-merge.parquet'`);
const contacts = reader.getRows()[0][0];
const seconds = (performance.now() - start) / 1000;
console.log(JSON.stringify({ contacts: Number(contacts), seconds }));
