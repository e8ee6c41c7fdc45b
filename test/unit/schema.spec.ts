import type { ServiceBroker } from "moleculer";
import { defineMixin, defineService, state, type ServiceBase } from "../../lib/contracts/types";
import { createTestBroker } from "../helpers/broker";

/**
 * defineService and defineMixin: `this` in a schema is what the schema
 * itself defines (settings, methods, declared state, the mixins' members),
 * checked by the compiler; tsc compiles this file, so the
 * `@ts-expect-error` lines fail the build the day the typing stops
 * catching what they show.
 */

const Counter = defineMixin({
	settings: { step: 1 },
	state: state<{ count: number }>(),
	methods: {
		bump(): number {
			this.count += this.settings.step;
			return this.count;
		},
	},
	created() {
		this.count = 0;
	},
});

const Typed = defineService({
	name: "typed",
	mixins: [Counter],
	settings: { step: 2, label: "twice" },
	state: state<{ last?: string }>(),
	actions: {
		bump: {
			handler(): string {
				this.last = this.describe(this.bump());
				return this.last;
			},
		},
	},
	methods: {
		describe(n: number): string {
			return `${this.settings.label}: ${n}`;
		},
	},
});

const Renamed = defineService({
	name: "renamed",
	actions: {
		raise: {
			handler(): void {
				// @ts-expect-error -- the method is `raiseAlert` now: a call of the old name does not compile.
				this.raise();
			},
		},
	},
	methods: {
		raiseAlert(): void {},
	},
});

interface HandWrittenThis extends ServiceBase<{ greeting: string }> {
	greet(): string;
}

/** The hand-written form: `this` declared apart and annotated on each handler. */
const HandWritten = defineService<{ greeting: string }, HandWrittenThis>({
	name: "handWritten",
	settings: { greeting: "hello" },
	actions: {
		greet: {
			handler(this: HandWrittenThis) {
				return this.greet();
			},
		},
	},
	methods: {
		greet(this: HandWrittenThis) {
			return this.settings.greeting;
		},
	},
});

describe("schemas whose `this` the compiler checks", () => {
	let broker: ServiceBroker;
	beforeAll(async () => {
		broker = createTestBroker();
		for (const schema of [Typed, Renamed, HandWritten]) broker.createService(schema);
		await broker.start();
	});
	afterAll(() => broker.stop());

	it("hands Moleculer the schema without its type-only declarations", () => {
		expect(Object.keys(Typed)).not.toContain("state");
		expect(Object.keys(Counter)).not.toContain("state");
	});

	it("runs with the mixin's state and methods and the merged settings that `this` was typed with", async () => {
		expect(await broker.call("typed.bump")).toBe("twice: 2");
		expect(await broker.call("typed.bump")).toBe("twice: 4");
	});

	it("fails at run time where the compiler refused a renamed method", async () => {
		await expect(broker.call("renamed.raise")).rejects.toThrow(/raise is not a function/);
	});

	it("still takes the hand-written form", async () => {
		expect(await broker.call("handWritten.greet")).toBe("hello");
	});
});
