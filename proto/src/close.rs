//! WebSocket close codes the controller sends, one per way a connection ends:
//! RFC 6455's where one fits, the 4000 range for the controller's own. Clients
//! act on them (reconnect now, later, elsewhere, or not at all), so they are wire.

/// An idle socket (`idle_timeout`): nothing arrived for `IDLE_TIMEOUT_SEC`.
pub const GOING_AWAY: u16 = 1001;
/// A binary frame: the protocol is text only.
pub const UNSUPPORTED: u16 = 1003;
/// A broken rule: bad handshake, too many bad frames, flooding, slow reader.
pub const POLICY: u16 = 1008;
/// A frame over the size limit.
pub const TOO_BIG: u16 = 1009;
/// The edge lost its own side of the connection.
pub const INTERNAL: u16 = 1011;
/// The edge is stopping (`server_draining`); reconnect elsewhere.
pub const SERVICE_RESTART: u16 = 1012;
/// The edge cannot reach the bus; reconnect later or elsewhere.
pub const TRY_AGAIN_LATER: u16 = 1013;
/// A newer connection of the same orchestrator replaced this one.
pub const SUPERSEDED: u16 = 4000;
/// An administrator deregistered the orchestrator.
pub const DEREGISTERED: u16 = 4001;
/// The orchestrator's token was revoked or rotated.
pub const TOKEN_REVOKED: u16 = 4003;
