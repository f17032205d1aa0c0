// node-postgres against Tributary: named prepared statements (reused),
// parameters, types, a transaction, errors with their SQLSTATE.
// Exits non-zero with a message on the first mismatch.
// Usage: node check.js HOST PORT
const { Client } = require('pg');

function check(got, want, what) {
  const g = JSON.stringify(got), w = JSON.stringify(want);
  if (g !== w) {
    console.error(`${what}: got ${g}, want ${w}`);
    process.exit(1);
  }
}

(async () => {
  const client = new Client({ host: process.argv[2], port: Number(process.argv[3]), user: 'tributary', database: 'postgres' });
  await client.connect();
  await client.query('CREATE TABLE ev (id int PRIMARY KEY, kind text, amount numeric, at timestamptz)');
  await client.query("CREATE MATERIALIZED VIEW per_kind AS SELECT kind, count(*) AS n, sum(amount) AS total FROM ev GROUP BY kind");
  // A named prepared statement, executed several times.
  for (let i = 1; i <= 6; i++) {
    await client.query({ name: 'ins', text: 'INSERT INTO ev VALUES ($1, $2, $3, $4)', values: [i, i % 2 ? 'a' : 'b', (i * 1.5).toFixed(1), '2024-01-0' + i + 'T00:00:00Z'] });
  }
  const r = await client.query({ name: 'sel', text: 'SELECT kind, n::int AS n, total::text AS total FROM per_kind WHERE kind = $1', values: ['a'] });
  check(r.rows, [{ kind: 'a', n: 3, total: '13.5' }], 'view through a named statement');
  const again = await client.query({ name: 'sel', values: ['b'] });
  check(again.rows, [{ kind: 'b', n: 3, total: '18.0' }], 'reused named statement');
  const t = await client.query('SELECT at FROM ev WHERE id = $1', [2]);
  check(t.rows[0].at.toISOString(), '2024-01-02T00:00:00.000Z', 'timestamptz');

  await client.query('BEGIN');
  await client.query('DELETE FROM ev WHERE kind = $1', ['a']);
  const inTx = await client.query('SELECT count(*)::int AS c FROM per_kind');
  check(inTx.rows, [{ c: 1 }], 'the transaction sees its own delete');
  await client.query('ROLLBACK');
  const after = await client.query('SELECT count(*)::int AS c FROM ev');
  check(after.rows, [{ c: 6 }], 'rollback');

  try {
    await client.query('INSERT INTO ev VALUES (1, $1, 0, now())', ['dup']);
    check('no error', '23505', 'duplicate key');
  } catch (e) {
    check(e.code, '23505', 'duplicate key SQLSTATE');
  }
  await client.end();
  console.log('node-postgres ok');
})().catch((e) => { console.error(e); process.exit(1); });
