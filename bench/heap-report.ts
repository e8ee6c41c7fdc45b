/**
 * Preloaded (`node --expose-gc -r dist/bench/heap-report.js`) into the node
 * the growth scenario measures: on an IPC `memory` message it collects
 * garbage and answers process.memoryUsage(). It touches nothing else; the
 * resident size is read from /proc by the benchmark itself.
 */
if (process.send) {
	process.on("message", (msg: { type?: string }) => {
		if (msg?.type !== "memory") return;
		const gc = (globalThis as { gc?: () => void }).gc;
		gc?.();
		gc?.();
		process.send!({ type: "memory", ...process.memoryUsage() });
	});
	// The channel must not keep the node alive: it exits on SIGTERM as it would without us.
	process.channel?.unref();
}
