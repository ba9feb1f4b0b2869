/**
 * What an admin pastes on an orchestrator's machine to connect it with the token
 * `register` answered once: the agent's command line, and the first version's
 * client settings (which carry the token in the URL, `?token=`).
 */

/** Where the page was loaded from: the host and scheme the edges are guessed from. */
export interface PageOrigin {
  protocol: string;
  hostname: string;
}

/**
 * An edge's WebSocket URL from the address it announces (its listening socket,
 * e.g. `127.0.0.1:8766` or `[::1]:8766`). An edge listening on every interface
 * (`0.0.0.0`, `[::]`) says nothing about the name it is reached by, so the page's
 * host stands in. Core and edges take the same TLS settings, so a page served
 * over https means `wss://`.
 */
export function edgeUrl(address: string, page: PageOrigin): string {
  const scheme = page.protocol === 'https:' ? 'wss' : 'ws';
  const m = /^(\[[^\]]*\]|[^:]*):(\d+)$/.exec(address.trim());
  if (!m) return `${scheme}://${address.trim()}/ws`;
  const [, host, port] = m;
  const anyInterface = host === '0.0.0.0' || host === '[::]' || host === '';
  return `${scheme}://${anyInterface ? page.hostname : host}:${port}/ws`;
}

/** `value` as one shell word: quoted only when it holds something a shell would read. */
export function shellWord(value: string): string {
  return /^[A-Za-z0-9_./:=,@%+-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Placeholder when no edge is up to name its address. */
export const NO_EDGE_URL = '<edge WebSocket URL>';

/**
 * `moolai-agent` connecting as `id` to every edge in `urls` (it fails over between
 * them), keeping its configuration in a state file of its own.
 */
export function agentCommand(id: string, urls: string[], token: string | null): string {
  const args = [
    'moolai-agent',
    '--id',
    shellWord(id),
    '--url',
    shellWord(urls.length ? urls.join(',') : NO_EDGE_URL),
    '--state-file',
    shellWord(`agent-${id}.json`),
  ];
  if (token) args.push('--token', shellWord(token));
  return args.join(' ');
}

/** `url` with the token as its `token` query parameter, as the first version's client sends it. */
export function tokenUrl(url: string, token: string): string {
  const sep = url.includes('?') ? '&' : '?';
  return `${url}${sep}token=${encodeURIComponent(token)}`;
}

/** The first version's client settings, as its start script exports them: one edge URL, the token in it. */
export function firstVersionSettings(id: string, url: string | undefined, token: string): string {
  const ws = url ? tokenUrl(url, token) : `${NO_EDGE_URL}?token=${encodeURIComponent(token)}`;
  return `export ORCHESTRATOR_ID=${shellWord(id)}\nexport CONTROLLER_WS_URL=${shellWord(ws)}`;
}
