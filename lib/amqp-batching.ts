/**
 * amqplib queues each channel's frames and writes them to the socket once
 * per event-loop turn, but one `write` per frame: with `noDelay` (which
 * remote calls need), every frame is a syscall of its own, and those were
 * a third of the orders node's time in the cluster. Corking the socket
 * around that turn's writes sends them in one `writev`: the same bytes, in
 * the same order, at the same moment. Backpressure still holds: corked
 * writes count towards the socket's buffer, so past its high-water mark
 * (16 kB in one turn) a write answers false and the muxer waits for
 * `drain`, which comes once the turn's writev has gone.
 *
 * `_readIncoming` is the muxer's method that writes a turn's frames
 * (amqplib 0.10.9, pinned for it; lib/mux.js). Imported once, it applies to
 * every amqplib connection of the process: the transporter's and the
 * durable channels'.
 */
/* eslint-disable @typescript-eslint/no-require-imports -- the muxer is amqplib's internal module, without typings */
const { Mux } = require("amqplib/lib/mux") as { Mux: { prototype: MuxInstance } };
/* eslint-enable @typescript-eslint/no-require-imports */

interface MuxInstance {
	out: NodeJS.WritableStream & { cork(): void; uncork(): void };
	_readIncoming: (this: MuxInstance) => void;
}

// An amqplib that no longer has the method would silently lose the batching: say so at start instead.
if (typeof Mux.prototype._readIncoming !== "function") throw new Error("amqplib's muxer has no _readIncoming: lib/amqp-batching.ts needs updating for this amqplib version");

const writeTurn = Mux.prototype._readIncoming;
Mux.prototype._readIncoming = function (this: MuxInstance): void {
	this.out.cork();
	try {
		writeTurn.call(this);
	} finally {
		this.out.uncork();
	}
};

export {};
