// Starts the private stack once for every spec (stack.mjs, start-stack.sh) and
// returns the teardown that stops it. Workers find it through MOOLAI_E2E_STACK.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { ORG, OUT } from './constants';
import { startStack, stopStack } from './stack.mjs';

export default async function globalSetup(): Promise<() => void> {
  const chromium = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
  if (!existsSync(chromium)) {
    throw new Error(`${chromium} not found: apt-get install -y chromium (scripts/lib.sh: ensure_chromium)`);
  }
  const startedAt = Date.now();
  const stack = startStack({ agents: [ORG] });
  const stop = () => stopStack(stack, resolve(OUT, 'stack-logs'));
  try {
    console.log(`# stack up: core ${stack.core}, edge ${stack.edge}, database ${stack.database}`);
    const login = await fetch(`${stack.core}/api/v1/internal/auth/login`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username: stack.username, password: stack.password }),
    });
    if (login.status !== 200) throw new Error(`admin login through the API: ${login.status}`);
    const { token } = (await login.json()) as { token: string };
    // The agent must be registered before the UI looks for it.
    const deadline = Date.now() + 15_000;
    for (;;) {
      const r = await fetch(`${stack.core}/api/v1/controller/orchestrators/live/${ORG}`, {
        headers: { Authorization: `Bearer ${token}` },
      });
      if (r.status === 200) break;
      if (Date.now() > deadline) throw new Error(`${ORG} did not connect within 15 s`);
      await new Promise((done) => setTimeout(done, 100));
    }
    process.env.MOOLAI_E2E_STACK = JSON.stringify({ ...stack, token, startedAt });
  } catch (err) {
    stop();
    throw err;
  }
  return stop;
}
