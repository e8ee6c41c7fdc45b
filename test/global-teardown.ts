/**
 * After the last suite, names whatever still holds the process open (a
 * broker, socket, server, child or timer a test did not stop), so that a
 * run that would not end says why instead of hanging silently until CI's
 * limit. It only reports: `npm test` still ends by itself or not at all.
 */
const BENIGN = new Set(["TTYWrap", "PipeWrap", "FSReqCallback", "FSReqPromise"]);
const GRACE_MS = 3000;

function leftovers(): string[] {
	return process.getActiveResourcesInfo().filter(type => !BENIGN.has(type));
}

function describeHandle(handle: any): string {
	const kind = handle?.constructor?.name ?? typeof handle;
	if (kind === "Socket" || kind === "TLSSocket") {
		if (handle.fd === 1 || handle.fd === 2 || handle._isStdio) return "";
		return `${kind} ${handle.localAddress ?? ""}:${handle.localPort ?? ""} -> ${handle.remoteAddress ?? ""}:${handle.remotePort ?? ""}`;
	}
	if (kind === "Server") return `Server listening on ${JSON.stringify(handle.address?.())}`;
	if (kind === "ChildProcess") return `ChildProcess pid ${handle.pid}: ${(handle.spawnargs ?? []).join(" ")}`;
	return kind;
}

export default async function globalTeardown(): Promise<void> {
	const until = Date.now() + GRACE_MS;
	// A timer that holds the process: with an unref'd one, a process that had nothing else left ended right here, before
	// jest set its exit code, and a run with failed tests exited 0.
	while (leftovers().length > 0 && Date.now() < until) await new Promise(resolve => setTimeout(resolve, 100));
	const left = leftovers();
	if (left.length === 0) return;
	const handles = ((process as any)._getActiveHandles() as unknown[]).map(describeHandle).filter(Boolean);
	process.stderr.write(`\nStill open after the last suite: ${left.join(", ")}\n${handles.map(h => `  ${h}`).join("\n")}\n`);
}
