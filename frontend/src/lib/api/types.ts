// Names for the shapes of core's answers that components use: every one is
// generated from core's OpenAPI document into ./schema.d.ts
// (scripts/api_types.sh) and re-exported here. What a call sends and answers
// is typed by the client itself (./client.ts over ./paths.ts), so an endpoint
// needs no name here unless a component takes its answer. The event stream's payloads (`stats`,
// `stats_history`, `activity`) are declared there too, as components, though
// no endpoint answers them as a body.

import type { components } from './schema';

type Schemas = components['schemas'];

/** One admin of `GET /api/v1/internal/admins`. */
export type AdminItem = Schemas['AdminItem'];
/** `GET /api/v1/internal/admins`. */
export type AdminList = Schemas['AdminList'];
/** A plain `{success, message}` confirmation (logout). */
export type Done = Schemas['Done'];
/** `POST /api/v1/internal/admins`. */
export type AdminAdded = Schemas['AdminAdded'];
/** One message of the message listings, as core declares it. */
export type MessageItem = Schemas['MessageItem'];
/** `POST /api/v1/internal/orchestrators/register`. */
export type Registered = Schemas['Registered'];
/** `GET /api/v1/internal/logs`. */
export type LogList = Schemas['LogList'];
/** An organization as core declares it. */
export type OrganizationRow = Schemas['OrganizationRow'];
/** An instance's stored columns, as core declares them. */
export type InstanceRow = Schemas['InstanceRow'];

/** `status` as the API derives it: `independent` whenever `is_independent`. */
export type FleetStatus = Schemas['FleetStatus'];

export type JsonObject = Record<string, unknown>;

/** An organization as core declares it (`instances` only on the single-organization endpoint). */
export type Organization = OrganizationRow;

/** An instance with what core knows live (`connected`, and `last_keepalive` while connected). */
export type Orchestrator = Schemas['Orchestrator'];

export type MessageType = Schemas['MessageType'];
export type MessageStatus = Schemas['MessageStatus'];

/** One message of either listing. */
export type OrchestratorMessage = MessageItem;

/** One entry of the activity feed, listed or streamed (`activity` event). */
export type ActivityEntry = Schemas['Activity'];

/** One edge of `GET /api/v1/controller/edges`, as it announced itself. */
export type Edge = Schemas['EdgePresence'];

/** `GET /api/v1/controller/overview`'s data (`edges` only for a token holder). */
export type Overview = Schemas['Overview'];

/**
 * The `stats` event of `/api/v1/events`, every second. Rates are per second,
 * averaged over the last `window_sec` seconds (30; less just after core starts).
 */
export type Stats = Schemas['StatsPoint'];

/** The `stats_history` event, sent once when the stream opens. */
export type StatsHistory = Schemas['StatsHistory'];

/** One entry of `GET /api/v1/controller/last-seen?ids=…`, from the controller's memory. */
export type LastSeen = Schemas['LastSeen'];

/** `GET /api/v1/controller/orchestrators/{id}/config`'s data: desired against reported. */
export type OrchestratorConfig = Schemas['OrchestratorConfig'];
/** `GET /api/v1/controller/config`'s data: counts by state and one page of orchestrators. */
export type FleetConfig = Schemas['FleetConfig'];
/** How many orchestrators are in each configuration state. */
export type FleetCounts = Schemas['FleetCounts'];
/** One revision of an organization's configuration. */
export type ConfigRevision = Schemas['Revision'];
/** `POST /api/v1/controller/orchestrators/{id}/config/rollback`'s body. */
export type RollbackBody = Schemas['RollbackBody'];
/** A staged rollout with its outcome counts. */
export type Rollout = Schemas['Rollout'];
/** Targets of a rollout by outcome. */
export type RolloutOutcomes = Schemas['Outcomes'];
/** `GET /api/v1/controller/rollouts/{id}` and `POST /api/v1/controller/rollouts`: the rollout and a page of targets. */
export type RolloutDetail = Schemas['RolloutDetail'];
/** `POST /api/v1/controller/rollouts`'s body. */
export type RolloutBody = Schemas['RolloutBody'];
