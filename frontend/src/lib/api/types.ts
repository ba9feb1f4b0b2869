// Shapes of core's answers, shared by the features. Those core declares with a
// type are generated from its OpenAPI document into ./schema.d.ts
// (scripts/api_types.sh) and re-exported here by name, the fleet's rows
// (Organization, Orchestrator), the overview and the edges among them; the
// rest (messages as the dashboard reads them, the event stream's `stats`, the
// last-seen entries) are still written by hand after docs/api.md.

import type { components } from './schema';

type Schemas = components['schemas'];

/** One entry of `GET /api/v1/internal/audit`. */
export type AuditItem = Schemas['AuditItem'];
/** `GET /api/v1/internal/audit`. */
export type AuditList = Schemas['AuditList'];
/** One admin of `GET /api/v1/internal/admins`. */
export type AdminItem = Schemas['AdminItem'];
/** `GET /api/v1/internal/admins`. */
export type AdminList = Schemas['AdminList'];
/** One credential of `GET /api/v1/internal/enrollment-tokens`. */
export type EnrollmentItem = Schemas['EnrollmentItem'];
/** `GET /api/v1/internal/enrollment-tokens`. */
export type EnrollmentList = Schemas['EnrollmentList'];
/** An enrollment credential as stored (create and revoke answers). */
export type EnrollmentRow = Schemas['EnrollmentRow'];
/** `POST /api/v1/internal/enrollment-tokens`. */
export type EnrollmentCreated = Schemas['EnrollmentCreated'];
/** `DELETE /api/v1/internal/enrollment-tokens/{id}`. */
export type EnrollmentRevoked = Schemas['EnrollmentRevoked'];
/** `POST /api/v1/enroll`. */
export type Enrolled = Schemas['Enrolled'];
/** `POST /api/v1/internal/auth/login`. */
export type LoggedIn = Schemas['LoggedIn'];
/** A plain `{success, message}` confirmation (logout). */
export type Done = Schemas['Done'];
/** `GET /api/v1/internal/auth/me`. */
export type Me = Schemas['Me'];
/** `POST /api/v1/internal/auth/password`. */
export type PasswordChanged = Schemas['PasswordChanged'];
/** `POST /api/v1/internal/admins`. */
export type AdminAdded = Schemas['AdminAdded'];
/** `DELETE /api/v1/internal/admins/{username}`. */
export type AdminRemoved = Schemas['AdminRemoved'];
/** `POST /api/v1/internal/auth/unlock`. */
export type Unlocked = Schemas['Unlocked'];
/** `POST /api/v1/internal/orchestrators/{id}/token`. */
export type TokenIssued = Schemas['TokenIssued'];
/** `DELETE /api/v1/internal/orchestrators/{id}/token`. */
export type TokensRevoked = Schemas['TokensRevoked'];
/** One message of the message listings, as core declares it. */
export type MessageItem = Schemas['MessageItem'];
/** `POST /api/v1/internal/orchestrators/{id}/messages`. */
export type MessageCreated = Schemas['MessageCreated'];
/** `GET /api/v1/internal/orchestrators/{id}/messages`. */
export type OrchestratorMessages = Schemas['OrchestratorMessages'];
/** `GET /api/v1/internal/messages`. */
export type AllMessages = Schemas['AllMessages'];
/** `PUT /api/v1/internal/messages/{id}/status`. */
export type MessageAnswered = Schemas['MessageAnswered'];
/** `POST /api/v1/internal/orchestrators/register`. */
export type Registered = Schemas['Registered'];
/** `DELETE /api/v1/internal/orchestrators/{id}/deregister`. */
export type Deregistered = Schemas['Deregistered'];
/** `PUT /api/v1/internal/orchestrators/{id}/independence`. */
export type IndependenceSet = Schemas['IndependenceSet'];
/** `GET /api/v1/internal/orchestrators/{id}/independence`. */
export type IndependenceState = Schemas['IndependenceState'];
/** `GET /api/v1/internal/activity`. */
export type ActivityList = Schemas['ActivityList'];
/** `GET /api/v1/internal/logs`. */
export type LogList = Schemas['LogList'];
/** `GET /api/v1/internal/health`. */
export type InternalHealth = Schemas['InternalHealth'];
/** `GET /api/v1/controller/health`. */
export type ControllerHealth = Schemas['ControllerHealth'];
/** `GET /api/v1/controller/overview`. */
export type OverviewEnvelope = Schemas['Envelope_Overview'];
/** `GET /api/v1/controller/edges`. */
export type EdgeListEnvelope = Schemas['Envelope_EdgeList'];
/** `GET /api/v1/controller/cores`. */
export type CoreListEnvelope = Schemas['Envelope_CoreList'];
/** One core replica as it announces itself. */
export type CoreReplica = Schemas['CorePresence'];
/** `GET /api/v1/controller/logs`. */
export type LogPageEnvelope = Schemas['Envelope_LogPage'];
/** `GET /api/v1/controller/last-seen` (each entry typed by hand as `LastSeen` below). */
export type LastSeenMap = Schemas['LastSeenMap'];
/** `GET /health`. */
export type RootHealth = Schemas['RootHealth'];
/** An organization as core declares it. */
export type OrganizationRow = Schemas['OrganizationRow'];
/** `PUT /api/v1/controller/organizations/{id}/features` (its `data`). */
export type FeaturesMerged = Schemas['FeaturesMerged'];
/** `DELETE /api/v1/controller/organizations/{id}` (its `data`). */
export type OrganizationGone = Schemas['OrganizationGone'];
/** An instance's stored columns, as core declares them. */
export type InstanceRow = Schemas['InstanceRow'];
/** `DELETE /api/v1/controller/orchestrator-instances/{id}` (its `data`). */
export type InstanceGone = Schemas['InstanceGone'];

/** `status` as the API derives it: `independent` whenever `is_independent`. */
export type FleetStatus = 'active' | 'inactive' | 'independent' | (string & {});

export type JsonObject = Record<string, unknown>;

/** An organization as core declares it (`instances` only on the single-organization endpoint). */
export type Organization = OrganizationRow;

/** An instance with what core knows live (`connected`, and `last_keepalive` while connected). */
export type Orchestrator = Schemas['Orchestrator'];

export type MessageType = 'recommendation' | 'monitoring';
export type MessageStatus = 'pending' | 'accepted' | 'dismissed';

/** Who wrote a message: the orchestrator (a recommendation to accept or dismiss) or the controller. */
export type MessageDirection = 'from_orchestrator' | 'to_orchestrator';

export interface OrchestratorMessage {
  id: string;
  direction?: MessageDirection;
  orchestrator_id: string;
  message_type: MessageType;
  content: string;
  metadata: JsonObject | null;
  status: MessageStatus;
  source: string | null;
  created_at: string;
  updated_at: string;
}

export interface MessageList {
  success: boolean;
  message: string;
  messages: OrchestratorMessage[];
  total_count: number;
  /** Messages not listed because their orchestrator is independent (held until it is not). */
  held?: number;
  /** On one orchestrator's list: it is independent, so its messages are held. */
  independent?: boolean;
}

export interface ActivityEntry {
  timestamp: string;
  type: string;
  data: JsonObject & { orchestrator_id?: string; organization_id?: string };
}

export interface LogRecord {
  timestamp: string;
  level: string;
  message: string;
  source: string;
  target?: string;
}

/** One edge of `GET /api/v1/controller/edges`, as it announced itself. */
export type Edge = Schemas['EdgePresence'];

/** `GET /api/v1/controller/overview`'s data (`edges` only for a token holder). */
export type Overview = Schemas['Overview'];

/**
 * The `stats` event of `/api/v1/events`, every second. Rates are per second,
 * averaged over the last `window_sec` seconds (30; less just after core starts).
 */
export interface Stats {
  /** Server time of the point, ms since the epoch (absent from a first-version core). */
  t?: number;
  connected_now: number;
  edges_up: number;
  /** Same as `processed_per_sec`. */
  heartbeats_per_sec: number;
  /** Heartbeats that reached the controller: processed + ignored. */
  received_per_sec?: number;
  /** Heartbeats that updated an orchestrator's liveness. */
  processed_per_sec?: number;
  /** Heartbeats of independent orchestrators, which change nothing. */
  ignored_per_sec?: number;
  window_sec?: number;
}

/** The `stats_history` event, sent once when the stream opens. */
export interface StatsHistory {
  window_sec: number;
  points: Stats[];
}

/** `GET /api/v1/controller/last-seen?ids=…`, from the controller's memory. */
export interface LastSeen {
  connected: boolean;
  last_keepalive: string | null;
  connected_at: string | null;
}
