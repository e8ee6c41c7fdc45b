import type { Service, ServiceBroker } from "moleculer";
import { createAdapter, type DbAdapter, type Doc, type FindParams, type IndexSpec, type Query, type Update } from "../../lib/db/adapter";
import type { ProductDoc } from "../../services/products/documents";

/**
 * Stores for the specs that drive a domain module directly: in-memory NeDB
 * collections shared by several "nodes", each node reaching them through a
 * gate of its own. Reads pass the gate freely; a node's writes pass freely
 * too until the test holds them: then each waits at the gate until the test
 * steps it through, so two attempts interleave one write at a time and the
 * test reads the stored documents between steps. A node can be killed: the
 * write waiting at its gate and every later call fail, as if its process
 * had died there.
 */

/** An in-memory collection, opened as a service opens it. */
export async function memoryStore<T extends Doc>(collection: string, indexes: IndexSpec[] = []): Promise<DbAdapter<T>> {
	const store = createAdapter<T>({ dataDir: ":memory:", sync: false }, collection, indexes).adapter;
	store.init({} as ServiceBroker, { logger: console, settings: {}, schema: {} } as unknown as Service);
	await store.connect();
	return store;
}

/** A listed product with `stock` units at `priceCents`, as the catalog stores one. */
export function productDoc(id: string, stock: number, priceCents: number, category = "spec"): ProductDoc {
	const at = new Date().toISOString();
	return {
		_id: id,
		sku: `SKU-${id}`,
		activeSku: `SKU-${id}`,
		name: `Product ${id}`,
		description: "",
		category,
		priceCents,
		stock,
		lowStockThreshold: 0,
		lowStockNotified: false,
		outOfStockNotified: false,
		holds: {},
		createdAt: at,
		updatedAt: at,
	};
}

/** One write as a node sent it; or a call or message leaving the node, which a gate holds the same way. */
export interface Write {
	/** The collection written, or where the call or message goes. */
	collection: string;
	op: "insert" | "updateById" | "updateMany" | "updateOne" | "removeMany" | "call" | "publish";
	/** The document's id, when the write names one. */
	id?: string;
	query?: Query;
	update?: Update;
	doc?: Doc;
}

export class NodeKilled extends Error {
	name = "NodeKilled";
	constructor() {
		super("The node was killed");
	}
}

interface Held {
	write: Write;
	go(): void;
	fail(err: Error): void;
	applied: Promise<void>;
}

/** In-memory stores answer within a few turns of the event loop: a wait far longer than that is a test stuck, said at once. */
const MAX_TURNS = 10_000;

const nextTurn = () => new Promise<void>(resolve => setImmediate(resolve));

async function turnsUntil(done: () => boolean, what: string): Promise<void> {
	for (let turns = 0; !done(); turns++) {
		if (turns === MAX_TURNS) throw new Error(`Gave up waiting for ${what}`);
		await nextTurn();
	}
}

export class Gate {
	private holding = false;
	private dead = false;
	private readonly held: Held[] = [];
	/** Every write that went through, in order (applied or refused by the store). */
	readonly passed: Write[] = [];
	private inFlight = 0;

	/** From now on each write waits at the gate until stepped through. */
	hold(): this {
		this.holding = true;
		return this;
	}

	/** Every held write goes on, and later writes pass freely. */
	open(): void {
		this.holding = false;
		for (const h of this.held.splice(0)) h.go();
	}

	/** The node dies: the write held now (not applied) and every later call fail. */
	kill(): void {
		this.dead = true;
		for (const h of this.held.splice(0)) h.fail(new NodeKilled());
	}

	/** The next write waiting at the gate, not yet applied (waits for one to arrive, a bounded number of event-loop turns). */
	async next(): Promise<Write> {
		await turnsUntil(() => this.held.length > 0, "a write to come to the gate (did the node finish, or wait on something else?)");
		return this.held[0].write;
	}

	/** Lets the next write through; resolves once the store has applied it (or refused it). */
	async step(): Promise<Write> {
		await this.next();
		const h = this.held.shift()!;
		h.go();
		await h.applied;
		return h.write;
	}

	/** Resolves once nothing this node started (a write, or one scheduled for the next turn) is under way. */
	async idle(): Promise<void> {
		await nextTurn();
		await turnsUntil(() => this.inFlight === 0, "the node's writes to end");
	}

	get killed(): boolean {
		return this.dead;
	}

	/** Throws once the node is dead. */
	alive(): void {
		if (this.dead) throw new NodeKilled();
	}

	async write<R>(write: Write, apply: () => Promise<R>): Promise<R> {
		this.alive();
		let applied = () => {};
		if (this.holding) {
			await new Promise<void>((go, fail) => {
				this.held.push({ write, go, fail, applied: new Promise<void>(resolve => (applied = resolve)) });
			});
		}
		this.inFlight++;
		try {
			return await apply();
		} finally {
			this.inFlight--;
			this.passed.push(write);
			applied();
		}
	}
}

/** A store as one node reaches it: through that node's gate. */
export function through<T extends Doc>(store: DbAdapter<T>, gate: Gate, collection: string): DbAdapter<T> {
	const read =
		<A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
		async (...args: A): Promise<R> => {
			gate.alive();
			return fn(...args);
		};
	const idOf = (query: Query) => (typeof query._id === "string" ? query._id : undefined);
	return {
		init: () => undefined,
		connect: async () => undefined,
		disconnect: async () => undefined,
		find: read((params: FindParams) => store.find(params)),
		findOne: read((query: Query) => store.findOne(query)),
		findById: read((id: string) => store.findById(id)),
		findByIds: read((ids: string[]) => store.findByIds(ids)),
		count: read((params?: { query?: Query }) => store.count(params)),
		readAll: read(() => store.readAll()),
		insert: doc => gate.write({ collection, op: "insert", id: doc._id, doc }, () => store.insert(doc)),
		updateById: (id, update) => gate.write({ collection, op: "updateById", id, update }, () => store.updateById(id, update)),
		updateMany: (query, update) => gate.write({ collection, op: "updateMany", id: idOf(query), query, update }, () => store.updateMany(query, update)),
		updateOne: (query, update) => gate.write({ collection, op: "updateOne", id: idOf(query), query, update }, () => store.updateOne(query, update)),
		removeMany: query => gate.write({ collection, op: "removeMany", id: idOf(query), query }, () => store.removeMany(query)),
	};
}

/**
 * A clock the test moves: only Date is faked (timers, ticks and
 * setImmediate stay real, so the stores and the modules run as usual).
 */
export const clock = {
	start(at = Date.parse("2030-01-01T00:00:00.000Z")): void {
		jest.useFakeTimers({
			now: at,
			doNotFake: ["hrtime", "nextTick", "performance", "queueMicrotask", "setImmediate", "clearImmediate", "setInterval", "clearInterval", "setTimeout", "clearTimeout"],
		});
	},
	advance(ms: number): void {
		jest.setSystemTime(Date.now() + ms);
	},
	stop(): void {
		jest.useRealTimers();
	},
};

/** How an attempt ended, caught as it ends (no unhandled rejection while the test steps). */
export type Outcome<T> = { value: T } | { error: Error & { code?: number; type?: string; data?: unknown } };

export function outcome<T>(attempt: Promise<T>): Promise<Outcome<T>> {
	return attempt.then(
		value => ({ value }),
		(error: Error) => ({ error }),
	);
}

/** What an attempt answered; throws what it threw. */
export function valueOf<T>(ended: Outcome<T>): T {
	if ("error" in ended) throw ended.error;
	return ended.value;
}
