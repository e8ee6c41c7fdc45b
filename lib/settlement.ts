/**
 * When half-done work (a pending order, an open reservation) counts as
 * abandoned, and how often the settlers look. Orders and products must agree.
 */
export function settlementSettings() {
	return {
		pendingTimeoutMs: Number(process.env.PENDING_TIMEOUT_MS) || 10_000,
		recoveryIntervalMs: Number(process.env.RECOVERY_INTERVAL_MS) || 5_000,
	};
}
