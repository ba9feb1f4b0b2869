import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Screenshots of every page, failure screenshots and the stack's logs. */
export const OUT = resolve(dirname(fileURLToPath(import.meta.url)), '../test-output');
/** A badge must follow the API within this (the requirement). */
export const LIVE_MS = 2000;
/** The organization whose agent the stack starts with. */
export const ORG = 'e2e-org-1';
/** The organization added through the UI. */
export const NEW_ORG = 'e2e-new-org';
/** Agents beating at a steady interval, for the rate and "last seen" checks. */
export const STEADY = 'steady';
export const STEADY_COUNT = 10;
export const STEADY_INTERVAL = 5;
/** The viewer's zone, deliberately not the server's UTC. */
export const VIEWER_TZ = 'America/New_York';
/** Agents of the configuration story (05): ordered by id, as a rollout's waves take them. */
export const CFG_AGENTS = ['e2e-cfg-1', 'e2e-cfg-2', 'e2e-cfg-3'] as const;
/** The one of them that fails any configuration naming {@link FAILING_KEY}. */
export const CFG_FAILING = 'e2e-cfg-2';
export const FAILING_KEY = 'beta';
/** The password 04's Account test sets. */
export const CHANGED_PASSWORD = 'e2e-admin-password-changed';
