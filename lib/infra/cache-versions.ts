import crypto from "crypto";
import type Redis from "ioredis";

/**
 * Versioned cache keys. Each service's cached answers are stored under its
 * current version (`<prefix>cache:<version>:<action key>`); a write makes
 * them unreachable by changing that one key, whatever else Redis holds, and
 * the old entries die by their TTL (or by the eviction policy).
 *
 * A write is held: before its first commit the node registers a lease in
 * the service's `writing` set and changes the version (a cache that cannot
 * be reached refuses the write there, before anything changed). While a
 * lease is live, readers store nothing, and serve only entries of the
 * current version, which were all stored before a lease began (the version
 * changed with it) and after the previous ones ended. The node removes the
 * lease once its writes are done; if it cannot (Redis cut after the
 * commit), the lease runs out by itself, so the write's answer never waits
 * for, or fails with, anything after its commit.
 */
export interface VersionRead {
	version: string;
	/** A write of the service holds a lease: an answer read now may be older than a commit to come, so it is not stored. */
	writing: boolean;
}

export interface CacheVersions {
	read(service: string): Promise<VersionRead>;
	/**
	 * Versions in this process's memory are read without waiting: no round
	 * trip to save by reading several ahead of time, and no promise to await.
	 * Absent where a read is a round trip (Redis).
	 */
	readNow?(service: string): VersionRead;
	/** The versions of several services in one read (one round trip). */
	readMany(services: readonly string[]): Promise<Map<string, VersionRead>>;
	/** A new version and a lease of `leaseMs` for `holder`; rejects when the cache cannot be reached. */
	begin(service: string, holder: string, leaseMs: number): Promise<void>;
	/** Ends `holder`'s lease; a lease that had run out gets a new version too (a reader may have stored meanwhile). */
	end(service: string, holder: string): Promise<void>;
	/** A new version: another service this one's answers depend on changed. */
	renew(service: string): Promise<void>;
}

/**
 * A version no other write has made: this process's random prefix and a
 * count. Every read passes one along (for a service that has none yet), and
 * 12 fresh random bytes a read cost about 1% of a gateway's CPU.
 */
const PROCESS_PREFIX = crypto.randomBytes(12).toString("base64url");
let made = 0;
const newVersion = (): string => `${PROCESS_PREFIX}${(made++).toString(36)}`;

// Redis' own clock, so that every node reads a lease alike.
const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

/** KEYS: version, writing. ARGV: a fresh version (taken when there is none). */
const READ = `${NOW}local v = redis.call('GET', KEYS[1])
if not v then
	v = ARGV[1]
	redis.call('SET', KEYS[1], v)
end
return {v, redis.call('ZCOUNT', KEYS[2], '(' .. now, '+inf')}`;

/** KEYS: version and writing of each service in turn. ARGV: a fresh version for each. */
const READ_MANY = `${NOW}local out = {}
for i = 1, #KEYS, 2 do
	local v = redis.call('GET', KEYS[i])
	if not v then
		v = ARGV[(i + 1) / 2]
		redis.call('SET', KEYS[i], v)
	end
	out[#out + 1] = v
	out[#out + 1] = redis.call('ZCOUNT', KEYS[i + 1], '(' .. now, '+inf')
end
return out`;

/** KEYS: version, writing. ARGV: holder, lease ms, fresh version. */
const BEGIN = `${NOW}redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[1])
redis.call('SET', KEYS[1], ARGV[3])
return 1`;

/** KEYS: version, writing. ARGV: holder, fresh version. */
const END = `${NOW}local expires = redis.call('ZSCORE', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
if not expires or tonumber(expires) <= now then redis.call('SET', KEYS[1], ARGV[2]) end
return 1`;

type VersionScripts = Redis & {
	shopReadVersion(version: string, writing: string, fresh: string): Promise<[string, number]>;
	shopReadVersions(keyCount: number, ...keysThenFresh: string[]): Promise<Array<string | number>>;
	shopBeginWrite(version: string, writing: string, holder: string, leaseMs: number, fresh: string): Promise<unknown>;
	shopEndWrite(version: string, writing: string, holder: string, fresh: string): Promise<unknown>;
};

/** The versions in Redis, under the namespace's prefix: one script call (one round trip) per read, begin or end. */
export class RedisCacheVersions implements CacheVersions {
	private readonly redis: VersionScripts;

	constructor(
		redis: Redis,
		private readonly prefix: string,
		/** What a failed command becomes (the cacher's 503). */
		private readonly unavailable: (err: Error) => never,
	) {
		this.redis = redis as VersionScripts;
		this.redis.defineCommand("shopReadVersion", { numberOfKeys: 2, lua: READ });
		this.redis.defineCommand("shopReadVersions", { lua: READ_MANY });
		this.redis.defineCommand("shopBeginWrite", { numberOfKeys: 2, lua: BEGIN });
		this.redis.defineCommand("shopEndWrite", { numberOfKeys: 2, lua: END });
	}

	async read(service: string): Promise<VersionRead> {
		const [version, writing] = await this.redis.shopReadVersion(this.versionKey(service), this.writingKey(service), newVersion()).catch(this.unavailable);
		return { version, writing: writing > 0 };
	}

	async readMany(services: readonly string[]): Promise<Map<string, VersionRead>> {
		// Built in plain loops: a signed-in read in a cluster makes this call once per request.
		const args: string[] = [];
		for (const s of services) args.push(this.versionKey(s), this.writingKey(s));
		for (let i = 0; i < services.length; i++) args.push(newVersion());
		const out = await this.redis.shopReadVersions(services.length * 2, ...args).catch(this.unavailable);
		const read = new Map<string, VersionRead>();
		for (let i = 0; i < services.length; i++) read.set(services[i], { version: String(out[2 * i]), writing: Number(out[2 * i + 1]) > 0 });
		return read;
	}

	async begin(service: string, holder: string, leaseMs: number): Promise<void> {
		await this.redis.shopBeginWrite(this.versionKey(service), this.writingKey(service), holder, leaseMs, newVersion()).catch(this.unavailable);
	}

	async end(service: string, holder: string): Promise<void> {
		await this.redis.shopEndWrite(this.versionKey(service), this.writingKey(service), holder, newVersion()).catch(this.unavailable);
	}

	async renew(service: string): Promise<void> {
		await this.redis.set(this.versionKey(service), newVersion()).catch(this.unavailable);
	}

	private versionKey(service: string): string {
		return `${this.prefix}version:${service}`;
	}

	private writingKey(service: string): string {
		return `${this.prefix}writing:${service}`;
	}
}

/** The versions of one process's memory cache (the embedded default). */
export class MemoryCacheVersions implements CacheVersions {
	private readonly versions = new Map<string, string>();
	private readonly leases = new Map<string, Map<string, number>>();

	read(service: string): Promise<VersionRead> {
		return Promise.resolve(this.readNow(service));
	}

	readMany(services: readonly string[]): Promise<Map<string, VersionRead>> {
		return Promise.resolve(new Map(services.map(s => [s, this.readNow(s)])));
	}

	readNow(service: string): VersionRead {
		let version = this.versions.get(service);
		if (!version) this.versions.set(service, (version = newVersion()));
		const now = Date.now();
		let writing = false;
		for (const until of this.leases.get(service)?.values() ?? []) if (until > now) writing = true;
		return { version, writing };
	}

	begin(service: string, holder: string, leaseMs: number): Promise<void> {
		let leases = this.leases.get(service);
		if (!leases) this.leases.set(service, (leases = new Map<string, number>()));
		leases.set(holder, Date.now() + leaseMs);
		this.versions.set(service, newVersion());
		return Promise.resolve();
	}

	end(service: string, holder: string): Promise<void> {
		const leases = this.leases.get(service);
		const until = leases?.get(holder);
		leases?.delete(holder);
		if (until === undefined || until <= Date.now()) this.versions.set(service, newVersion());
		return Promise.resolve();
	}

	renew(service: string): Promise<void> {
		this.versions.set(service, newVersion());
		return Promise.resolve();
	}
}

/** How long a write's lease lasts: far longer than a write takes, short enough that a lease left behind frees the cache soon. */
export const WRITE_LEASE_MS = 30_000;

interface Hold {
	holder: string;
	/** Local time before the lease was asked for: Redis' lease ends after `takenAt + leaseMs`. */
	takenAt: number;
	/** Store writes going on under this lease. */
	writes: number;
	ended: boolean;
}

/**
 * A node's write leases, one current per service. The first store write of
 * a service when it has none takes one, so it is refused (nothing written)
 * when the cache cannot be reached. Later writes join it, and the lease
 * lasts while an action of the service that may write (any that is not a
 * cached read) is going on: a second write of an action is never refused
 * after its first one committed. When a third of the lease has gone, the
 * next such action takes a new one before it starts (and is refused, having
 * done nothing, when it cannot). A lease ends once nothing uses it; ending it
 * is retried a little, then left to run out by itself.
 */
export class WriteHolds {
	private readonly current = new Map<string, Hold>();
	private readonly actions = new Map<string, number>();
	private readonly taking = new Map<string, Promise<Hold>>();

	constructor(
		private readonly versions: CacheVersions,
		private readonly nodeID: string,
		private readonly onEndFailed: (service: string, err: Error) => void,
		private readonly leaseMs = WRITE_LEASE_MS,
	) {}

	/** Runs an action that may write: the service's lease, if there is one or one gets taken, lasts until it ends. */
	async during<T>(service: string, run: () => Promise<T>): Promise<T> {
		const hold = this.current.get(service);
		if (hold && Date.now() - hold.takenAt >= this.leaseMs / 3) await this.take(service);
		this.actions.set(service, (this.actions.get(service) ?? 0) + 1);
		try {
			return await run();
		} finally {
			this.actions.set(service, this.actions.get(service)! - 1);
			const last = this.current.get(service);
			if (last) this.maybeEnd(service, last);
		}
	}

	/** One store write, under the service's lease (taken first when there is none, or it is old). */
	async write<T>(service: string, commit: () => Promise<T>): Promise<T> {
		let hold = this.current.get(service);
		// A lease taken for this write may have ended before the write resumed (no one else used it): then another one.
		while (!hold || hold.ended || Date.now() - hold.takenAt >= (this.leaseMs * 2) / 3) hold = await this.take(service);
		hold.writes++;
		try {
			return await commit();
		} finally {
			hold.writes--;
			this.maybeEnd(service, hold);
		}
	}

	/** Writes taking a lease at once share one request. */
	private take(service: string): Promise<Hold> {
		let taking = this.taking.get(service);
		if (!taking) {
			const hold: Hold = { holder: `${this.nodeID}:${crypto.randomUUID()}`, takenAt: Date.now(), writes: 0, ended: false };
			taking = this.versions.begin(service, hold.holder, this.leaseMs).then(() => {
				const previous = this.current.get(service);
				this.current.set(service, hold);
				if (previous) this.maybeEnd(service, previous);
				return hold;
			});
			this.taking.set(service, taking);
			const done = () => this.taking.delete(service);
			taking.then(done, done);
		}
		return taking;
	}

	private maybeEnd(service: string, hold: Hold): void {
		if (hold.ended || hold.writes > 0) return;
		if (this.current.get(service) === hold) {
			if ((this.actions.get(service) ?? 0) > 0) return;
			this.current.delete(service);
		}
		hold.ended = true;
		void retry(() => this.versions.end(service, hold.holder), [20, 100, 500]).catch((err: Error) => this.onEndFailed(service, err));
	}
}

async function retry(task: () => Promise<void>, delaysMs: number[]): Promise<void> {
	for (let attempt = 0; ; attempt++) {
		try {
			return await task();
		} catch (err) {
			if (attempt >= delaysMs.length) throw err;
			await new Promise(resolve => setTimeout(resolve, delaysMs[attempt]).unref());
		}
	}
}
