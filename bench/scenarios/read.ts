/**
 * P1: the cached product read `GET /api/products/:id`, on the embedded
 * default and on a cluster (gateway, products and customers nodes over
 * AMQP with the Redis cacher), against a bare node:http server answering the
 * same JSON; P1-peer: the same read through the seed's shape (an Express
 * gateway proxying with axios to an Express products service). All of them
 * run side by side and are measured in interleaved rounds.
 */
import { request } from "../client";
import { settings } from "../config";
import { cannon, interleave, median, sum, type Contender, type Run } from "../load";
import { assertRunning, waitUntilAllQuiet } from "../procs";
import { atLeast, fmt, rows } from "../report";
import { seed, startBare, startCluster, startEmbedded, startFloor, startPeer, type System } from "../systems";

export interface ReadOptions {
	/** P1 on the embedded default and the cluster. */
	read: boolean;
	/** P1-peer (with the cluster, which its target is set against). */
	peer: boolean;
}

export async function readScenario({ read, peer }: ReadOptions): Promise<void> {
	const systems: System[] = [];
	try {
		// The shop's systems first: the baselines answer the JSON the shop answers.
		const [embedded, cluster] = await Promise.all([read ? startEmbedded("embedded") : undefined, startCluster("cluster", ["products", "customers"])]);
		if (embedded) systems.push(embedded);
		systems.push(cluster);
		const shop = [embedded, cluster].filter((s): s is System => !!s);
		const productIds = new Map<System, string>();
		const tokens = new Map<System, string>();
		for (const s of shop) {
			const seeded = await seed(s.base, { products: 1, customers: settings.readToken ? 1 : 0 });
			productIds.set(s, seeded.productIds[0]);
			if (settings.readToken) tokens.set(s, seeded.customers[0].token);
		}
		/**
		 * With BENCH_READ_TOKEN=1, the shop's systems are also read as their
		 * signed-in customer, in the same rounds: the cost of checking a token
		 * (its version included) on a read. Also anonymously with a header of
		 * the token's size that the shop ignores: the bytes a token adds to
		 * each request (sent by autocannon, parsed by the node, on the same
		 * two cores) cost whatever the check does, and the check is measured
		 * against the request it rides on.
		 */
		const signedIn = (s: System) => `${s.label}, signed in`;
		const sameBytes = (s: System) => `${s.label}, anonymous, a token's bytes`;
		const tokenHeaders = (s: System) => ({ authorization: `Bearer ${tokens.get(s)}` });
		const paddingHeaders = (s: System) => ({ "x-padding": "x".repeat(`Bearer ${tokens.get(s)}`.length + "authorization".length - "x-padding".length) });

		const reference = await request("GET", `${shop[0].base}/products/${productIds.get(shop[0])}`);
		if (reference.status !== 200) throw new Error(`the seeded product does not read: ${reference.status}`);
		const productJson = JSON.stringify(reference.body);
		/** A baseline answers the reference product's JSON under its id. */
		const baseline = (s: System): System => {
			systems.push(s);
			productIds.set(s, reference.body.id);
			return s;
		};
		const bare = baseline(await startBare(productJson));
		const floor = read ? baseline(await startFloor(productJson)) : undefined;
		const seedShape = peer ? baseline(await startPeer(productJson)) : undefined;

		const order = [bare, floor, embedded, cluster, seedShape].filter((s): s is System => !!s);
		for (const s of order) {
			// The first read fills the cache; every measured read is a hit.
			const res = await request("GET", `${s.base}/products/${productIds.get(s)}`, undefined, tokens.get(s));
			if (res.status !== 200) throw new Error(`${s.label}: GET product answered ${res.status}`);
		}
		const reads = order.flatMap(s => [
			{ s, key: s.label, headers: undefined as Record<string, string> | undefined },
			...(tokens.has(s)
				? [
						{ s, key: sameBytes(s), headers: paddingHeaders(s) as Record<string, string> | undefined },
						{ s, key: signedIn(s), headers: tokenHeaders(s) },
					]
				: []),
		]);
		const contenders: Contender<Run>[] = reads.map(({ s, key, headers }) => {
			const load = { url: `${s.base}/products/${productIds.get(s)}`, headers };
			return {
				key,
				warmup: () => cannon(load, settings.warmup),
				measure: async () => {
					const run = await cannon(load, settings.duration);
					assertRunning(s.children);
					return run;
				},
				settle: () => waitUntilAllQuiet(s.children),
			};
		});
		const runs = await interleave(contenders, settings.rounds, (key, round, r) => {
			console.log(
				`  P1 round ${round}  ${key.padEnd(24)} ${fmt(r.rps).padStart(8)} req/s   p50 ${r.p50} ms   p99 ${r.p99} ms${r.errors || r.non2xx ? `   errors ${r.errors}, non-2xx ${r.non2xx}` : ""}`,
			);
		});

		const rps = (s: System | undefined) => (s ? median(runs.get(s.label)!.map(r => r.rps)) : NaN);
		const notes = (s: System) => {
			const rs = runs.get(s.label)!;
			const bad = sum(rs.map(r => r.errors)) + sum(rs.map(r => r.non2xx));
			return `p50 ${fmt(median(rs.map(r => r.p50)))} ms, p99 ${fmt(median(rs.map(r => r.p99)))} ms${bad ? `; errors ${sum(rs.map(r => r.errors))}, non-2xx ${sum(rs.map(r => r.non2xx))}` : ""}`;
		};
		const row = (scenario: string, s: System, extra: Partial<(typeof rows)[number]> = {}) =>
			rows.push({
				scenario,
				figure: "req/s (2xx)",
				system: s.label,
				values: runs.get(s.label)!.map(r => r.rps),
				value: rps(s),
				ratio: `${(rps(s) / rps(bare)).toFixed(2)} × bare`,
				notes: notes(s),
				...extra,
			});

		row("P1 read", bare);
		if (floor) row("P1 read", floor, { system: "moleculer-web floor: one action, no guards", notes: `${notes(floor)}; what Moleculer and moleculer-web cost alone` });
		if (embedded) {
			const ratio = rps(embedded) / rps(bare);
			const ofFloor = floor ? `; ${(rps(embedded) / rps(floor)).toFixed(2)} × the floor` : "";
			row("P1 read", embedded, { target: atLeast(ratio, 0.5, "≥ 0.50 × bare"), notes: `${notes(embedded)}${ofFloor}` });
		}
		const clusterRatio = rps(cluster) / rps(bare);
		row("P1 read", cluster, { system: "cluster: api, products, customers", target: atLeast(clusterRatio, 0.15, "≥ 0.15 × bare") });
		for (const s of shop.filter(x => tokens.has(x))) {
			const padded = runs.get(sameBytes(s))!.map(r => r.rps);
			const values = runs.get(signedIn(s))!.map(r => r.rps);
			// Each round's two runs are next to each other (serpentine order): their ratio leaves out the machine's drift between rounds.
			const perRound = values.map((v, i) => v / padded[i]);
			const ofPadded = median(perRound);
			rows.push({
				scenario: "P1 read",
				figure: "req/s (2xx)",
				system: sameBytes(s),
				values: padded,
				value: median(padded),
				ratio: `${(median(padded) / rps(s)).toFixed(2)} × anonymous`,
				notes: "a header of the token's size that the shop ignores: what the token's bytes cost",
			});
			rows.push({
				scenario: "P1 read",
				figure: "req/s (2xx)",
				system: signedIn(s),
				values,
				value: median(values),
				ratio: `${ofPadded.toFixed(2)} × anonymous with a token's bytes`,
				target: atLeast(ofPadded, 0.95, "≥ 0.95 × (the token check costs ≤ 5%)"),
				notes: `the median of each round's ratio (${perRound.map(r => r.toFixed(2)).join(" · ")}); ${(median(values) / rps(s)).toFixed(2)} × anonymous without them`,
			});
		}
		if (seedShape) {
			const overPeer = rps(cluster) / rps(seedShape);
			const perRound = runs.get(cluster.label)!.map((r, i) => (r.rps / runs.get(seedShape.label)![i].rps).toFixed(2));
			rows.push({
				scenario: "P1 read",
				figure: "cluster ÷ peer",
				system: "cluster vs peer",
				values: [],
				value: NaN,
				ratio: `${overPeer.toFixed(2)} × peer`,
				target: atLeast(overPeer, 3, "≥ 3 × peer"),
				notes: `ratio of the medians; round by round ${perRound.join(" · ")}`,
			});
			row("P1-peer", seedShape, { system: `${seedShape.label} (2 processes)` });
		}
	} finally {
		for (const s of systems.reverse()) await s.stop();
	}
}
