// Every query key in one place, so that the live-update code in src/lib can
// invalidate what an event touches without importing any feature.

export const queryKeys = {
  overview: ['overview'] as const,
  edges: ['edges'] as const,
  /** Under `edges`: the same list as the addresses orchestrators connect to. */
  edgeUrls: ['edges', 'urls'] as const,
  cores: ['cores'] as const,
  liveOrchestrators: ['orchestrators', 'live'] as const,
  /** Not under `orchestrators`: invalidating those must not refetch this poll. */
  lastSeen: (ids: string) => ['last-seen', ids] as const,
  organizations: ['organizations'] as const,
  organizationsPage: (filters: { q?: string; status?: string; page: number; page_size: number }) =>
    ['organizations', 'page', filters] as const,
  organizationCounts: ['organizations', 'counts'] as const,
  organization: (id: string) => ['organization', id] as const,
  organizationExists: (id: string) => ['organization', id, 'exists'] as const,
  /** Under the organization's key: its events and mutations refresh it too. */
  orchestratorConfig: (id: string) => ['organization', id, 'config'] as const,
  configRevisions: (id: string) => ['organization', id, 'config', 'revisions'] as const,
  fleetConfig: ['config'] as const,
  fleetConfigPage: (filters: { state?: string; page: number; page_size: number }) => ['config', filters] as const,
  rollouts: ['rollouts'] as const,
  rollout: (id: string, filters: { outcome?: string; page: number; page_size: number }) =>
    ['rollouts', id, filters] as const,
  orchestrators: ['orchestrators'] as const,
  orchestratorsOf: (organizationId: string) => ['orchestrators', 'of', organizationId] as const,
  orchestrator: (id: string) => ['orchestrator', id] as const,
  messages: ['messages'] as const,
  messageList: (filters: { message_type?: string; status?: string; limit: number }) =>
    ['messages', 'all', filters] as const,
  orchestratorMessages: (id: string) => ['messages', 'orchestrator', id] as const,
  activity: ['activity'] as const,
  activityList: (limit: number) => ['activity', limit] as const,
  me: ['auth', 'me'] as const,
  admins: ['admins'] as const,
  logs: ['logs'] as const,
  logList: (filters: { q?: string; level?: string; source?: string; limit: number }) =>
    ['logs', filters] as const,
};
