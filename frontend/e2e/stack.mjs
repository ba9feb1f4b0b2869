// A private Moolai stack for the end-to-end tests: NATS, a fresh PostgreSQL
// database, persister, core (serving ../dist), one edge and agents — all real,
// started by start-stack.sh (which sources ../../scripts/lib.sh). Every process
// is stopped by its PID when the test ends, passes, fails or is interrupted.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const SCRIPT = join(here, 'start-stack.sh');
export const ROOT = resolve(here, '../..');
export const BIN_DIR = process.env.MOOLAI_BIN_DIR ?? join(ROOT, 'target/debug');

function run(args, env) {
  const r = spawnSync('bash', [SCRIPT, ...args], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 180_000,
  });
  if (r.stderr.trim()) process.stderr.write(`${r.stderr.trimEnd().replace(/^/gm, '  [stack] ')}\n`);
  return r;
}

/**
 * Starts the stack with agents `agents` (ids). Returns its addresses and
 * `stop()`; `logsTo` receives the services' logs when it stops.
 */
export function startStack({ agents = [], password = 'e2e-admin-password', logsTo } = {}) {
  for (const b of ['moolai-persister', 'moolai-core', 'moolai-edge', 'moolai-agent']) {
    if (!existsSync(join(BIN_DIR, b))) {
      throw new Error(`${join(BIN_DIR, b)} is missing: run 'cargo build --bins' in ${ROOT} first`);
    }
  }
  if (!existsSync(resolve(here, '../dist/index.html'))) {
    throw new Error("frontend/dist is missing: run 'npm run build' first");
  }
  const dir = mkdtempSync(join(tmpdir(), 'moolai-e2e-'));
  const env = { E2E_ADMIN_PASSWORD: password };
  let stopped = false;

  const stop = () => {
    if (stopped) return;
    stopped = true;
    run(['down', dir], env);
    if (logsTo && existsSync(join(dir, 'logs'))) {
      mkdirSync(logsTo, { recursive: true });
      cpSync(join(dir, 'logs'), logsTo, { recursive: true });
    }
    rmSync(dir, { recursive: true, force: true });
  };
  // Whatever way this process ends, nothing it started outlives it.
  process.once('exit', stop);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.once(sig, () => {
      stop();
      process.exit(130);
    });
  }

  const r = run(['up', dir, ...agents], env);
  if (r.status !== 0) {
    stop();
    throw new Error(`the stack did not start (exit ${r.status ?? r.signal})`);
  }
  const line = r.stdout.trim().split('\n').pop();
  const info = JSON.parse(line);
  const must = (res, what) => {
    if (res.status !== 0) throw new Error(`${what} failed (exit ${res.status ?? res.signal})`);
  };
  return {
    ...info,
    dir,
    stop,
    /** Starts agent `id`; `interval` (s), `count` (> 1: ids `<id>-0` …), `name`, `location` announced. */
    addAgent: (id, { interval, count, name, location } = {}) =>
      must(
        run(['agent', dir, id], {
          ...env,
          ...(interval ? { E2E_AGENT_INTERVAL: String(interval) } : {}),
          ...(count ? { E2E_AGENT_COUNT: String(count) } : {}),
          ...(name ? { E2E_AGENT_NAME: name } : {}),
          ...(location ? { E2E_AGENT_LOCATION: location } : {}),
        }),
        `starting agent ${id}`,
      ),
    stopService: (name) => must(run(['stop', dir, name], env), `stopping ${name}`),
    restartCore: () => must(run(['restart', dir, 'core'], env), 'restarting core'),
    /** psql against the stack's own database. */
    psql: (sql) => {
      const base = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL ?? 'postgres://moolai:moolai@127.0.0.1:5432/moolai';
      const [path, query] = base.split('?');
      const url = `${path.slice(0, path.lastIndexOf('/'))}/${info.database}${query ? `?${query}` : ''}`;
      const res = spawnSync('psql', ['-qXtA', '-v', 'ON_ERROR_STOP=1', url, '-c', sql], { encoding: 'utf8' });
      if (res.status !== 0) throw new Error(`psql failed: ${res.stderr}`);
      return res.stdout.trim();
    },
  };
}
