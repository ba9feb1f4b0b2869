// A private Moolai stack for the end-to-end tests: NATS, a fresh PostgreSQL
// database, persister, core (serving ../dist), two edges (one requiring
// orchestrator tokens) and agents — all real,
// started by start-stack.sh (which sources ../../scripts/lib.sh). Playwright's
// global setup starts it and its teardown stops every process by its PID, whether
// the tests pass, fail or are interrupted.
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
 * Starts the stack with agents `agents` (ids). Returns what `attachStack` takes:
 * its addresses, database and directory. `stopStack(info, logsTo)` ends it.
 * @param {{ agents?: string[], password?: string }} [options]
 */
export function startStack({ agents = [], password = 'e2e-admin-password' } = {}) {
  for (const b of ['moolai-persister', 'moolai-core', 'moolai-edge', 'moolai-agent']) {
    if (!existsSync(join(BIN_DIR, b))) {
      throw new Error(`${join(BIN_DIR, b)} is missing: run 'cargo build --bins' in ${ROOT} first`);
    }
  }
  if (!existsSync(resolve(here, '../dist/index.html'))) {
    throw new Error("frontend/dist is missing: run 'npm run build' first");
  }
  const dir = mkdtempSync(join(tmpdir(), 'moolai-e2e-'));
  const r = run(['up', dir, ...agents], { E2E_ADMIN_PASSWORD: password });
  if (r.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`the stack did not start (exit ${r.status ?? r.signal})`);
  }
  return { ...JSON.parse(r.stdout.trim().split('\n').pop()), dir };
}

/**
 * Stops what `startStack` started (by PID) and drops its database; `logsTo` receives the services' logs.
 * @param {{ dir: string, password: string }} info
 * @param {string} [logsTo]
 */
export function stopStack(info, logsTo) {
  if (!existsSync(info.dir)) return;
  run(['down', info.dir], { E2E_ADMIN_PASSWORD: info.password });
  if (logsTo && existsSync(join(info.dir, 'logs'))) {
    mkdirSync(logsTo, { recursive: true });
    cpSync(join(info.dir, 'logs'), logsTo, { recursive: true });
  }
  rmSync(info.dir, { recursive: true, force: true });
}

/**
 * What the tests do to a running stack (from any process: it is all in `info.dir`).
 * @template {{ dir: string, password: string, database: string }} Info
 * @param {Info} info
 */
export function attachStack(info) {
  const env = { E2E_ADMIN_PASSWORD: info.password };
  const must = (res, what) => {
    if (res.status !== 0) throw new Error(`${what} failed (exit ${res.status ?? res.signal})`);
  };
  return {
    ...info,
    /**
     * Starts agent `id`; `interval` (s), `count` (> 1: ids `<id>-0` …), `name`, `location` announced;
     * `failKeys`: features or settings it reports as failed whenever a configuration names them;
     * `url`: the edge URL(s) instead of edge-e2e's; `token`: the orchestrator token it connects with.
     * @param {string} id
     * @param {{ interval?: number, count?: number, name?: string, location?: string, failKeys?: string[], url?: string, token?: string }} [options]
     */
    addAgent: (id, { interval, count, name, location, failKeys, url, token } = {}) =>
      must(
        run(['agent', info.dir, id], {
          ...env,
          ...(interval ? { E2E_AGENT_INTERVAL: String(interval) } : {}),
          ...(count ? { E2E_AGENT_COUNT: String(count) } : {}),
          ...(name ? { E2E_AGENT_NAME: name } : {}),
          ...(location ? { E2E_AGENT_LOCATION: location } : {}),
          ...(failKeys?.length ? { E2E_AGENT_FAIL_KEYS: failKeys.join(',') } : {}),
          ...(url ? { E2E_AGENT_URL: url } : {}),
          ...(token ? { E2E_AGENT_TOKEN: token } : {}),
        }),
        `starting agent ${id}`,
      ),
    /** @param {string} name */
    stopService: (name) => must(run(['stop', info.dir, name], env), `stopping ${name}`),
    restartCore: () => must(run(['restart', info.dir, 'core'], env), 'restarting core'),
    /**
     * psql against the stack's own database.
     * @param {string} sql
     */
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
