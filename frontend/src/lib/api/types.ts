// Shapes of core's answers, shared by the features: every one is generated
// from core's OpenAPI document into ./schema.d.ts (scripts/api_types.sh) and
// re-exported here by name. The event stream's payloads (`stats`,
// `stats_history`, `activity`) are declared there too, as components, though
// no endpoint answers them as a body.

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
/** `GET /api/v1/controller/orchestrators/live` (its `data`). */
export type LiveOrchestrators = Schemas['LiveOrchestrators'];
/** `GET /api/v1/controller/logs`. */
export type LogPageEnvelope = Schemas['Envelope_LogPage'];
/** `GET /api/v1/controller/last-seen`. */
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
export type FleetStatus = Schemas['FleetStatus'];

export type JsonObject = Record<string, unknown>;

/** An organization as core declares it (`instances` only on the single-organization endpoint). */
export type Organization = OrganizationRow;

/** An instance with what core knows live (`connected`, and `last_keepalive` while connected). */
export type Orchestrator = Schemas['Orchestrator'];

export type MessageType = Schemas['MessageType'];
export type MessageStatus = Schemas['MessageStatus'];

/** Who wrote a message: the orchestrator (a recommendation to accept or dismiss) or the controller. */
export type MessageDirection = Schemas['MessageDirection'];

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
/** `GET /api/v1/controller/orchestrators/{id}/config/revisions`'s data, newest first. */
export type RevisionList = Schemas['RevisionList'];
/** `POST /api/v1/controller/orchestrators/{id}/config/rollback`'s body. */
export type RollbackBody = Schemas['RollbackBody'];
/** `POST /api/v1/controller/orchestrators/{id}/config/rollback`'s data. */
export type RolledBack = Schemas['RolledBack'];
/** A staged rollout with its outcome counts. */
export type Rollout = Schemas['Rollout'];
/** Targets of a rollout by outcome. */
export type RolloutOutcomes = Schemas['Outcomes'];
/** `GET /api/v1/controller/rollouts`'s data. */
export type RolloutList = Schemas['RolloutList'];
/** `GET /api/v1/controller/rollouts/{id}` and `POST /api/v1/controller/rollouts`: the rollout and a page of targets. */
export type RolloutDetail = Schemas['RolloutDetail'];
/** One target of a rollout: its wave, what it was told, how it went. */
export type RolloutTarget = Schemas['Page_Target']['items'][number];
/** `POST /api/v1/controller/rollouts`'s body. */
export type RolloutBody = Schemas['RolloutBody'];
/** Which orchestrators a rollout targets. */
export type RolloutSelector = Schemas['RolloutSelector'];
/** `POST /api/v1/controller/rollouts/{id}/pause|resume|abort`'s data. */
export type RolloutState = Schemas['RolloutState'];
