import type { QueryKey } from '@tanstack/react-query';
import { queryKeys } from '../api/queryKeys';
import type { ActivityEntry } from '../api/types';

/** Events that change a status badge, a list of organizations or the counts. */
const FLEET = new Set([
  'handshake',
  'disconnect',
  'stale',
  'independence',
  'registered',
  'deregistered',
  'organization_created',
  'organization_deleted',
  'instance_created',
]);
/**
 * The message kinds core records: created through the API, a status set, sent to
 * an orchestrator. A message an orchestrator sends, and its acknowledgements, are
 * written by the persister and not announced: the lists show them at their next
 * refetch (opening the page, another event, or the polling while the stream is down).
 */
const MESSAGES = new Set(['message_created', 'message_status', 'message_sent']);
const CONFIG = new Set(['features', 'provision', 'organization_updated']);

// Prefixes: invalidating them refetches only the queries on screen.
const ORGANIZATION = ['organization'] as const;
const ORCHESTRATOR = ['orchestrator'] as const;

/**
 * The queries an activity event makes stale. `slow` ones may wait a few seconds
 * (a keepalive changes only `last_seen`, and comes once a minute per orchestrator,
 * so a big fleet sends many).
 */
export function keysForActivity(a: ActivityEntry): { now: QueryKey[]; slow: QueryKey[] } {
  const now: QueryKey[] = [queryKeys.activity];
  const slow: QueryKey[] = [];
  if (FLEET.has(a.type)) {
    now.push(
      queryKeys.overview,
      queryKeys.organizations,
      queryKeys.orchestrators,
      ORGANIZATION,
      ORCHESTRATOR,
      queryKeys.edges,
    );
    // Independence holds an orchestrator's messages back or lets them out again:
    // the lists change without any message event.
    if (a.type === 'independence') now.push(queryKeys.messages);
  } else if (MESSAGES.has(a.type)) {
    now.push(queryKeys.messages, queryKeys.overview);
  } else if (CONFIG.has(a.type)) {
    now.push(queryKeys.organizations, ORGANIZATION, ORCHESTRATOR);
  } else if (a.type === 'keepalive') {
    slow.push(queryKeys.orchestrators, ORCHESTRATOR, queryKeys.organizations, ORGANIZATION);
  } else {
    // A kind this dashboard does not know yet: refresh the fleet views to be safe.
    now.push(queryKeys.overview, queryKeys.organizations, queryKeys.orchestrators, ORGANIZATION, ORCHESTRATOR);
  }
  return { now, slow };
}
