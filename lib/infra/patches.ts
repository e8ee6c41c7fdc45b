/**
 * Every patch of a dependency's internals, in one place. Each one is pinned
 * to the version it was written for (package.json pins them exactly) and
 * checks at start that what it patches is still there. `applyPatches()` is
 * idempotent: moleculer.config.ts calls it, and so does the store factory,
 * so that a module spec runs on the same patched NeDB as a node.
 */

/* eslint-disable @typescript-eslint/no-require-imports -- amqplib's muxer and NeDB's model are internal modules, without typings */
interface MuxInstance {
	out: NodeJS.WritableStream & { cork(): void; uncork(): void };
	_readIncoming: (this: MuxInstance) => void;
}
interface NedbModel {
	deserialize(line: string): unknown;
	serialize(doc: object): string;
}

let applied = false;

export function applyPatches(): void {
	if (applied) return;
	applied = true;
	batchAmqpFrames(require("amqplib/lib/mux") as { Mux: { prototype: MuxInstance } });
	plainJsonForNedb(require("@seald-io/nedb/lib/model") as NedbModel);
}
/* eslint-enable @typescript-eslint/no-require-imports */

/**
 * amqplib 0.10.9: amqplib queues each channel's frames and writes them to
 * the socket once per event-loop turn, but one `write` per frame: with
 * `noDelay` (which remote calls need), every frame is a syscall of its own,
 * and those were a third of the orders node's time in the cluster. Corking
 * the socket around that turn's writes sends them in one `writev`: the same
 * bytes, in the same order, at the same moment. Backpressure still holds:
 * corked writes count towards the socket's buffer, so past its high-water
 * mark (16 kB in one turn) a write answers false and the muxer waits for
 * `drain`, which comes once the turn's writev has gone. `_readIncoming` is
 * the muxer's method that writes a turn's frames (lib/mux.js); the patch
 * applies to every amqplib connection of the process: the transporter's
 * and the durable channels'.
 */
function batchAmqpFrames({ Mux }: { Mux: { prototype: MuxInstance } }): void {
	// An amqplib that no longer has the method would silently lose the batching: say so at start instead.
	if (typeof Mux.prototype._readIncoming !== "function") throw new Error("amqplib's muxer has no _readIncoming: lib/infra/patches.ts needs updating for this amqplib version");
	const writeTurn = Mux.prototype._readIncoming;
	Mux.prototype._readIncoming = function (this: MuxInstance): void {
		this.out.cork();
		try {
			writeTurn.call(this);
		} finally {
			this.out.uncork();
		}
	};
}

/**
 * @seald-io/nedb 3.1, its model module, which its persistence calls through.
 *
 * NeDB reads each line of a datafile through JSON.parse with a reviver (for
 * its `{ $$date }` form of a Date), several times slower than without one:
 * a quarter of a restart at 50,000 orders. A line that has no `$$date` in
 * it revives to exactly what a plain JSON.parse answers, so only those pay
 * for the reviver.
 *
 * The same the other way: NeDB serialises each written document through
 * JSON.stringify with a replacer (which checks every key again, and writes
 * a Date as `{ $$date }`), ~2-3 times slower than without one, and each
 * update writes the whole document: 8% of an order's time. A document
 * holds only keys NeDB checked when it was written, so one without a Date
 * serialises to exactly what a plain JSON.stringify answers; one with a
 * Date keeps NeDB's way.
 */
function plainJsonForNedb(model: NedbModel): void {
	if (typeof model.deserialize !== "function" || typeof model.serialize !== "function")
		throw new Error("NeDB's model has no serialize/deserialize: lib/infra/patches.ts needs updating for this NeDB version");
	const reviving = model.deserialize.bind(model);
	model.deserialize = (line: string) => (line.includes("$$date") ? reviving(line) : JSON.parse(line));
	const serializing = model.serialize.bind(model);
	model.serialize = (doc: object) => (holdsDate(doc) ? serializing(doc) : JSON.stringify(doc));
}

function holdsDate(value: unknown): boolean {
	if (value === null || typeof value !== "object") return false;
	if (value instanceof Date) return true;
	if (Array.isArray(value)) return value.some(holdsDate);
	for (const key in value) if (holdsDate((value as Record<string, unknown>)[key])) return true;
	return false;
}
